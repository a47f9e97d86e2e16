"""The access log of a claim: who read or acted on it, when, with what answer."""

from __future__ import annotations

from typing import Annotated

import asyncpg
import typer
from rich.table import Table

from cli.common import finish, out, run
from settings import Settings
from store import access_log


def access_log_command(
    claim: Annotated[str, typer.Option("--claim", help="the claim id")],
) -> None:
    """Print the access log of a claim (HIPAA 164.312(b)); no PHI is in it."""

    async def work(pool: asyncpg.Pool, _: Settings) -> list[access_log.LoggedAccess]:
        return await access_log.for_claim(pool, claim)

    table = Table("at", "role", "key", "scope", "request", "action", "status", "request id")
    for logged in run(work):
        entry = logged.entry
        table.add_row(
            logged.at.isoformat(timespec="seconds"),
            entry.role or "-",
            entry.key_id or "-",
            entry.insurer_id or entry.examiner_id or "-",
            f"{entry.method} {entry.route}",
            entry.action or "-",
            str(entry.status),
            entry.request_id or "-",
        )
    out.print(table)
    finish(0)
