"""Bringing a database up to date: migrations, then the seeded examiner panel. The one entry
point of the dev stack, provisioning of an external Postgres, and the tests."""

from __future__ import annotations

from dataclasses import dataclass

from store.db import Connection
from store.migrate import migrate
from store.seed import seed


@dataclass(frozen=True)
class Bootstrapped:
    migrations_applied: list[str]
    examiners_seeded: int


async def bootstrap_db(conn: Connection, *, seed_panel: bool = True) -> Bootstrapped:
    """Apply pending migrations and (unless told not to) upsert the seeded panel. Idempotent."""
    applied = await migrate(conn)
    examiners = await seed(conn) if seed_panel else 0
    return Bootstrapped(migrations_applied=applied, examiners_seeded=examiners)
