"""People's accounts at the console: create (the one-time sign-up link is printed, as the last
line), list, deactivate, reset an authenticator (a new link is printed).

`create --password-stdin --totp-secret-file PATH` sets the password and the authenticator secret
directly, for scripts and tests: nothing secret is printed, and no link is made usable.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, TypeVar

import asyncpg
import typer
from rich.table import Table

from cli.common import err, fail, finish, operator, out, run
from connections import sealer
from domain.names import Role
from people import passwords, totp
from people.accounts import Accounts
from settings import Settings
from store.access_log import AccessLog
from store.users import User

app = typer.Typer(no_args_is_help=True, help="People's console accounts: create, list, deactivate")
T = TypeVar("T")


def _with_accounts(work: Callable[[Accounts], Awaitable[T]]) -> T:
    async def main(pool: asyncpg.Pool, settings: Settings) -> T:
        log = AccessLog(pool, timeout=settings.database_statement_timeout_seconds)
        try:
            return await work(Accounts(pool, settings, sealer(settings), log))
        finally:
            await log.close()

    return run(main)


@app.command()
def create(
    role: Annotated[Role, typer.Option(help="what the person may do")],
    email: Annotated[str, typer.Option(help="their email: what they sign in with")],
    name: Annotated[str, typer.Option(help="their name, as the console and timelines show it")],
    insurer: Annotated[str | None, typer.Option(help="insurer id (role insurer)")] = None,
    examiner: Annotated[str | None, typer.Option(help="examiner id (role examiner)")] = None,
    supervisor: Annotated[
        bool,
        typer.Option(
            "--supervisor", help="an insurer's supervisor: the console's team page (role insurer)"
        ),
    ] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
    totp_secret_file: Annotated[
        Path | None, typer.Option(help="a file holding the authenticator's base32 secret")
    ] = None,
) -> None:
    """Create an account. Prints its one-time sign-up link (the last line), or with
    --password-stdin and --totp-secret-file sets both and prints nothing secret."""
    if (role is Role.INSURER) != (insurer is not None):
        fail("invalid_input", "--insurer goes with --role insurer, and it needs one", exit_code=2)
    if (role is Role.EXAMINER) != (examiner is not None):
        fail("invalid_input", "--examiner goes with --role examiner, and it needs one", exit_code=2)
    if supervisor and role is not Role.INSURER:
        fail("invalid_input", "--supervisor goes with --role insurer", exit_code=2)
    if password_stdin != (totp_secret_file is not None):
        fail("invalid_input", "--password-stdin and --totp-secret-file go together", exit_code=2)
    credentials = _credentials(totp_secret_file) if totp_secret_file is not None else None

    async def work(accounts: Accounts) -> tuple[User, str]:
        user, link = await accounts.create_user(
            role=role,
            email=email,
            name=name,
            insurer_id=insurer,
            examiner_id=examiner,
            by=operator(),
            supervisor=supervisor,
        )
        if credentials is not None:
            await accounts.set_credentials(user.email, *credentials)
        return user, link

    user, link = _with_accounts(work)
    err.print(f"created the account of {user.email}: role {user.role}, scope {_scope(user)}")
    if credentials is not None:
        err.print("its password and authenticator are set")
    else:
        err.print("send them this link (it works once, and is shown once):", style="yellow")
        out.print(link)
    finish(0)


def _credentials(secret_file: Path) -> tuple[str, str]:
    """The password (standard input, its final line break dropped) and the authenticator secret
    (the file, blanks dropped), checked before the account is created."""
    password = sys.stdin.read().removesuffix("\n").removesuffix("\r")
    try:
        secret = "".join(secret_file.read_text().split())
    except (OSError, UnicodeDecodeError):
        fail("invalid_input", "the --totp-secret-file cannot be read", exit_code=2)
    problem = passwords.problem(password)
    if problem is not None:
        fail("invalid_input", f"the password cannot be used: {problem}", exit_code=2)
    if not totp.valid_secret(secret):
        fail(
            "invalid_input",
            "the --totp-secret-file does not hold a base32 secret of 128 bits or more",
            exit_code=2,
        )
    return password, secret


@app.command(name="list")
def list_users() -> None:
    """List the accounts (never their credentials)."""

    async def work(accounts: Accounts) -> list[User]:
        return await accounts.list_users()

    table = Table("email", "name", "role", "scope", "active", "MFA enrolled", "last sign-in")
    for user in _with_accounts(work):
        table.add_row(
            user.email,
            user.name,
            user.role.value,
            _scope(user),
            "yes" if user.active else "no",
            "yes" if user.mfa_enrolled else "no",
            _when(user.last_sign_in_at),
        )
    out.print(table)
    finish(0)


@app.command()
def deactivate(email: Annotated[str, typer.Option(help="the account's email")]) -> None:
    """Deactivate an account: its sessions end at once and it can no longer sign in."""

    async def work(accounts: Accounts) -> User:
        return await accounts.deactivate(email, operator())

    user = _with_accounts(work)
    err.print(f"deactivated the account of {user.email}; its sessions have ended")
    finish(0)


@app.command(name="reset-mfa")
def reset_mfa(email: Annotated[str, typer.Option(help="the account's email")]) -> None:
    """Clear an account's authenticator (a lost phone): its sessions end; prints a link (the
    last line) where the person sets a new one. Their password is kept."""

    async def work(accounts: Accounts) -> str:
        return await accounts.reset_mfa(email, operator())

    link = _with_accounts(work)
    err.print("the authenticator is cleared and the sessions ended; send them this link:")
    out.print(link)
    finish(0)


def _scope(user: User) -> str:
    scope = user.insurer_id or user.examiner_id or "-"
    return f"{scope} (supervisor)" if user.supervisor else scope


def _when(at: datetime | None) -> str:
    return at.isoformat(timespec="seconds") if at else "-"
