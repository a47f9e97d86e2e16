"""Prepare an external Postgres and Temporal for the service: migrations, the seeded panel and
the search attributes. Idempotent: `python -m devstack.provision` (docker-compose runs it first).
"""

from __future__ import annotations

import asyncio
import os

import asyncpg

from connections import connect_temporal, database_url
from devstack import search_attributes
from settings import get_settings
from store.bootstrap import bootstrap_db


async def provision() -> None:
    settings = get_settings()
    conn = await asyncpg.connect(database_url(settings))
    try:
        seed_panel = os.environ.get("IME_SEED_PANEL", "true").lower() == "true"
        done = await bootstrap_db(conn, seed_panel=seed_panel)
    finally:
        await conn.close()
    await search_attributes.register(await connect_temporal(settings))
    applied = ", ".join(done.migrations_applied) or "none (up to date)"
    print(f"provisioned: migrations applied {applied}; {done.examiners_seeded} examiners seeded")


if __name__ == "__main__":
    asyncio.run(provision())
