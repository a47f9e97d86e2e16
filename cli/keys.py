"""API keys: create (the key is printed once, as the last line), list, revoke."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import asyncpg
import typer
from rich.table import Table

from cli.common import err, fail, finish, out, run
from domain.keys import is_key_id, key_id_of
from domain.names import Role
from settings import Settings
from store import api_keys

app = typer.Typer(no_args_is_help=True, help="API keys: create, list, revoke")
_SCOPED = {Role.INSURER: "--insurer", Role.EXAMINER: "--examiner"}


@app.command()
def create(
    role: Annotated[Role, typer.Option(help="what the key may do")],
    insurer: Annotated[str | None, typer.Option(help="insurer id (role insurer)")] = None,
    examiner: Annotated[str | None, typer.Option(help="examiner id (role examiner)")] = None,
    name: Annotated[str | None, typer.Option(help="a label: who or what uses it")] = None,
    expires_in: Annotated[
        int | None, typer.Option(min=1, max=3650, help="days until it stops working")
    ] = None,
) -> None:
    """Create a key. It is shown once, as the last line; only its hash is stored."""
    if (role is Role.INSURER) != (insurer is not None):
        fail("invalid_input", "--insurer goes with --role insurer, and it needs one", exit_code=2)
    if (role is Role.EXAMINER) != (examiner is not None):
        fail("invalid_input", "--examiner goes with --role examiner, and it needs one", exit_code=2)
    expires_at = datetime.now(UTC) + timedelta(days=expires_in) if expires_in else None

    async def work(pool: asyncpg.Pool, settings: Settings) -> tuple[api_keys.ApiKey, str]:
        return await api_keys.create(
            pool,
            settings.api_key_secret,
            role=role,
            insurer_id=insurer,
            examiner_id=examiner,
            name=name,
            expires_at=expires_at,
        )

    key, secret = run(work)
    scope = key.insurer_id or key.examiner_id or "-"
    expiry = key.expires_at.isoformat(timespec="seconds") if key.expires_at else "never"
    err.print(f"created key {key.id}: role {key.role}, scope {scope}, expires {expiry}")
    err.print("the key is shown once; store it now", style="yellow")
    out.print(secret)
    finish(0)


@app.command(name="list")
def list_keys() -> None:
    """List the keys (never their secrets)."""

    async def work(pool: asyncpg.Pool, _: Settings) -> list[api_keys.ApiKey]:
        return await api_keys.all_keys(pool)

    table = Table("id", "role", "scope", "name", "created", "last used", "expires", "revoked")
    for key in run(work):
        table.add_row(
            key.id,
            key.role.value,
            key.insurer_id or key.examiner_id or "-",
            key.name or "-",
            _when(key.created_at),
            _when(key.last_used_at),
            _when(key.expires_at),
            _when(key.revoked_at),
        )
    out.print(table)
    finish(0)


@app.command()
def revoke(key_or_id: Annotated[str, typer.Argument(help="the key, or its id")]) -> None:
    """Revoke a key: every API process refuses it within seconds."""
    key_id = key_or_id if is_key_id(key_or_id) else key_id_of(key_or_id)
    if key_id is None:
        fail("invalid_input", "not a key nor a key id", exit_code=2)

    async def work(pool: asyncpg.Pool, _: Settings) -> bool:
        return await api_keys.revoke(pool, key_id)

    if not run(work):
        fail("not_found", "no such key")
    err.print(f"revoked key {key_id}")
    finish(0)


def _when(at: datetime | None) -> str:
    return at.isoformat(timespec="seconds") if at else "-"
