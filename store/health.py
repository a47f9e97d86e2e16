"""Whether Postgres answers: what readiness probes ask of it."""

from __future__ import annotations

from store.db import Executor


async def ping(conn: Executor) -> None:
    """One round trip to the server; raises when it does not answer."""
    await conn.fetchval("SELECT 1")
