"""The delivery backlog, and sending dead deliveries again once their channel is back."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import asyncpg
import typer
from rich.table import Table

from cli.common import finish, out, run
from domain.delivery import Channel
from settings import Settings
from store import outbox

app = typer.Typer(no_args_is_help=True, help="Deliveries: the backlog, retrying dead ones")


@app.command()
def backlog() -> None:
    """Deliveries not yet delivered, by channel and status."""

    async def work(pool: asyncpg.Pool, _: Settings) -> dict[tuple[str, str], int]:
        return await outbox.backlog(pool)

    table = Table("channel", "status", "deliveries")
    for (channel, status), count in sorted(run(work).items()):
        table.add_row(channel, status, str(count))
    out.print(table)
    finish(0)


@app.command()
def retry(
    channel: Annotated[Channel, typer.Option("--channel", help="webhook, email or page")],
    hours: Annotated[
        float, typer.Option("--hours", min=0.1, max=168, help="the new retry period")
    ] = 24,
) -> None:
    """Send every dead delivery of a channel again now (after fixing the relay or endpoint)."""

    async def work(pool: asyncpg.Pool, _: Settings) -> int:
        return await outbox.retry_dead(pool, channel, retry=timedelta(hours=hours))

    out.print(f"{run(work)} dead {channel.value} deliveries queued again")
    finish(0)
