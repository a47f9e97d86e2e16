"""Connection pool setup: JSON codecs and the database URL."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

# A connection of its own or one lent by a pool: what a function that needs a transaction takes.
Connection = asyncpg.Connection | PoolConnectionProxy
# Anything that runs a single statement.
Executor = asyncpg.Connection | PoolConnectionProxy | asyncpg.Pool

# Postgres did not answer (down, frozen, unreachable): retry later, nothing was wrong with the
# request.
POSTGRES_DOWN: tuple[type[Exception], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    OSError,
    TimeoutError,
)


def from_json(value: Any) -> Any:
    """A json/jsonb column's value: the pool decodes it (`_init_connection`); a plain connection
    hands back text."""
    return json.loads(value) if isinstance(value, str) else value


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _reset(conn: asyncpg.Connection) -> None:
    """What releasing a connection to the pool must undo. asyncpg's default runs a reset query
    on every release (`RESET ALL; UNLISTEN *; SELECT pg_advisory_unlock_all(); CLOSE ALL`): a
    round trip per borrowed connection, for session state this service leaves only inside a
    transaction (`SET LOCAL`) or undoes itself (a listener is removed by its owner, or its
    connection closed, `store.deliveries`; the migration lock unlocked). So the full reset runs
    only for a connection given back mid-transaction (a caller cancelled inside one)."""
    if conn.is_in_transaction():
        await conn.reset()


async def create_pool(
    url: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    statement_timeout: float = 30.0,
    connect_timeout: float = 10.0,
) -> asyncpg.Pool:
    """A pool whose every statement is bounded (`statement_timeout`, client side), as is every
    new connection (`connect_timeout`): a frozen server costs callers seconds, not the outage."""
    return await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        command_timeout=statement_timeout,
        timeout=connect_timeout,
        reset=_reset,
    )
