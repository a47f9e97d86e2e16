"""Bringing a database up to date: migrations, then the seeded examiner panel. The one entry
point of the dev stack, provisioning of an external Postgres, and the tests. Creating the
database itself, on a server of its own (the dev stack's embedded one), comes first."""

from __future__ import annotations

from dataclasses import dataclass

from store.db import Connection
from store.migrate import migrate
from store.seed import DEFAULT_DEPTH, seed


@dataclass(frozen=True)
class Bootstrapped:
    migrations_applied: list[str]
    examiners_seeded: int


async def bootstrap_db(
    conn: Connection, *, seed_panel: bool = True, panel_depth: int = DEFAULT_DEPTH
) -> Bootstrapped:
    """Apply pending migrations and (unless told not to) upsert the seeded panel, `panel_depth`
    examiners per specialty and state. Idempotent."""
    applied = await migrate(conn)
    examiners = await seed(conn, panel_depth) if seed_panel else 0
    return Bootstrapped(migrations_applied=applied, examiners_seeded=examiners)


async def create_database(conn: Connection, name: str) -> bool:
    """Create database `name` unless it exists (`conn` is to another database of the server);
    whether it was created."""
    if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
        return False
    await conn.execute(f'CREATE DATABASE "{name}"')
    return True
