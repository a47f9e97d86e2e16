"""One console account per role for the dev stack, made on the first `make run`: email
`<role>@dev.ime.test`, a random password and an authenticator (TOTP) secret, kept in
`<data_dir>/dev-accounts.json` (mode 0600) so later runs reuse them. Development only: a real
deployment makes accounts with `starter.py users create`."""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from codec import Sealer
from connections import sealer
from devstack.dev_keys import DEV_KEYS, _write_private
from domain.errors import Conflict
from domain.names import Role
from people import passwords, totp
from people.accounts import Accounts
from settings import Settings
from store import users as user_store
from store.access_log import AccessLog
from store.db import create_pool

DEV_ACCOUNTS_FILE = "dev-accounts.json"
DOMAIN = "dev.ime.test"


@dataclass(frozen=True)
class DevAccount:
    role: Role
    name: str
    insurer_id: str | None = None
    examiner_id: str | None = None
    # An insurer's supervisor (the console's Team page); its address says so.
    supervisor: bool = False

    @property
    def email(self) -> str:
        return f"{'supervisor' if self.supervisor else self.role.value}@{DOMAIN}"


@dataclass(frozen=True)
class DevLogin:
    account: DevAccount
    password: str
    totp_secret: str


def _scope(label: str) -> tuple[str | None, str | None]:
    """The insurer and examiner ids of a dev API key: the accounts act for the same ones."""
    dev = next(d for d in DEV_KEYS if d.label == label)
    return dev.insurer_id, dev.examiner_id


DEV_ACCOUNTS = (
    DevAccount(Role.OPS, "Dev Ops"),
    # The demo's insurer: signed in, the adjuster sees the demo's claims move and decides them.
    DevAccount(Role.INSURER, "Dev Insurer", insurer_id=_scope("DEMO_INSURER_KEY")[0]),
    # Their supervisor: the team's overdue decisions.
    DevAccount(
        Role.INSURER,
        "Dev Insurer Supervisor",
        insurer_id=_scope("DEMO_INSURER_KEY")[0],
        supervisor=True,
    ),
    DevAccount(Role.EXAMINER, "Dev Examiner", examiner_id=_scope("EXAMINER_KEY")[1]),
    DevAccount(Role.REVIEWER, "Dev Reviewer"),
    DevAccount(Role.SENIOR_REVIEWER, "Dev Senior Reviewer"),
    DevAccount(Role.CLINICIAN, "Dev Clinician"),
    DevAccount(Role.SRE, "Dev SRE"),
)


async def ensure_dev_accounts(url: str, settings: Settings) -> list[DevLogin]:
    """The dev accounts with their credentials: made when missing, the kept credentials reused
    when they still sign in, new ones set otherwise."""
    path = settings.data_dir / DEV_ACCOUNTS_FILE
    kept = load_dev_accounts(settings.data_dir)
    pool = await create_pool(
        url, min_size=1, max_size=2, statement_timeout=settings.database_statement_timeout_seconds
    )
    log = AccessLog(pool, timeout=settings.database_statement_timeout_seconds)
    seal = sealer(settings)
    accounts = Accounts(pool, settings, seal, log)
    logins: list[DevLogin] = []
    try:
        for dev in DEV_ACCOUNTS:
            creds = await user_store.credentials(pool, dev.email)
            if creds is None:
                await accounts.create_user(
                    role=dev.role,
                    email=dev.email,
                    name=dev.name,
                    insurer_id=dev.insurer_id,
                    examiner_id=dev.examiner_id,
                    by=None,
                    supervisor=dev.supervisor,
                )
            elif not creds.user.active:
                continue  # deactivated at the console: left as it is
            password, secret = kept.get(dev.email, ("", ""))
            if not await _still_good(creds, password, secret, seal):
                if not (password and secret):
                    password, secret = secrets.token_urlsafe(12), totp.new_secret()
                try:
                    await accounts.set_credentials(dev.email, password, secret)
                except Conflict:
                    continue
            logins.append(DevLogin(dev, password, secret))
    finally:
        await log.close()
        await pool.close()
    if {x.account.email: (x.password, x.totp_secret) for x in logins} != kept:
        stored = {
            x.account.email: {"password": x.password, "totp_secret": x.totp_secret} for x in logins
        }
        _write_private(path, json.dumps({"accounts": stored}, indent=1))
    return logins


def load_dev_accounts(data_dir: Path) -> dict[str, tuple[str, str]]:
    """The kept credentials by email (password, TOTP secret); empty when there are none."""
    try:
        found = json.loads((data_dir / DEV_ACCOUNTS_FILE).read_text())["accounts"]
        return {email: (str(c["password"]), str(c["totp_secret"])) for email, c in found.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


async def _still_good(
    creds: user_store.Credentials | None, password: str, secret: str, seal: Sealer
) -> bool:
    """Whether the account signs in with the kept password and TOTP secret."""
    if creds is None or not password or not secret:
        return False
    if creds.password_hash is None or creds.sealed_totp_secret is None:
        return False
    if seal.open(creds.sealed_totp_secret).decode() != secret:
        return False
    return await asyncio.to_thread(passwords.verify, creds.password_hash, password)
