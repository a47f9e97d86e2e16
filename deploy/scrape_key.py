"""The API key Prometheus scrapes the API's /metrics with: an `sre` key, kept in a file only the
scraper reads (docker-compose's `scrape-key` service, after the migrations).

    python -m deploy.scrape_key FILE

Keeps FILE while the key in it still works (known, an `sre` key, not revoked nor expired, hashed
with this IME_API_KEY_SECRET); otherwise makes a new key and replaces FILE. Revoking the key, or a
new database, so mends itself on the next run.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from connections import open_pool
from domain.keys import key_id_of, matches
from domain.names import Role
from settings import Settings, get_settings
from store import api_keys

KEY_NAME = "prometheus scrape"


async def ensure(pool: asyncpg.Pool, settings: Settings, path: Path) -> bool:
    """Make sure `path` holds a working sre key; True when a new key was made."""
    if await _works(pool, settings, _stored(path)):
        return False
    _, key = await api_keys.create(pool, settings.api_key_secret, role=Role.SRE, name=KEY_NAME)
    _store(path, key)
    return True


async def _works(pool: asyncpg.Pool, settings: Settings, token: str | None) -> bool:
    key_id = key_id_of(token) if token else None
    found = await api_keys.find(pool, key_id) if key_id else None
    return (
        token is not None
        and found is not None
        and found.role is Role.SRE
        and found.usable_at(datetime.now(UTC))
        and matches(settings.api_key_secret, token, found.secret_hash)
    )


def _stored(path: Path) -> str | None:
    return path.read_text().strip() if path.is_file() else None


def _store(path: Path, key: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key)
    partial.replace(path)  # the scraper never reads half a key


async def main(path: Path) -> None:
    settings = get_settings()
    pool = await open_pool(settings)
    try:
        made = await ensure(pool, settings, path)
    finally:
        await pool.close()
    print(f"{'made a new sre key in' if made else 'kept the sre key in'} {path}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m deploy.scrape_key FILE")
    asyncio.run(main(Path(sys.argv[1])))
