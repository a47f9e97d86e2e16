"""API keys in Postgres: created with a keyed hash of the secret, found by their public id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from asyncpg import Record

from domain.keys import key_hash, new_key
from domain.names import Role
from store.db import Executor

_COLUMNS = """id, secret_hash, role, insurer_id, examiner_id, name, created_at, expires_at,
    revoked_at, last_used_at"""


@dataclass(frozen=True)
class ApiKey:
    id: str
    secret_hash: bytes
    role: Role
    insurer_id: str | None
    examiner_id: str | None
    name: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    def usable_at(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


def _key(row: Record) -> ApiKey:
    values = dict(row.items())
    values["role"] = Role(values["role"])
    values["secret_hash"] = bytes(values["secret_hash"])
    return ApiKey(**values)


async def create(
    conn: Executor,
    service_secret: str,
    *,
    role: Role,
    insurer_id: str | None = None,
    examiner_id: str | None = None,
    name: str | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Store a new key; returns it and the whole key, which is never stored nor shown again."""
    key_id, key = new_key()
    row = await conn.fetchrow(
        f"""INSERT INTO api_keys (id, secret_hash, role, insurer_id, examiner_id, name, expires_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_COLUMNS}""",
        key_id,
        key_hash(service_secret, key),
        role.value,
        insurer_id,
        examiner_id,
        name,
        expires_at,
    )
    assert row is not None  # INSERT ... RETURNING
    return _key(row), key


async def find(conn: Executor, key_id: str) -> ApiKey | None:
    """One indexed lookup by the key's public id."""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM api_keys WHERE id = $1", key_id)
    return _key(row) if row is not None else None


async def all_keys(conn: Executor) -> list[ApiKey]:
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at, id")
    return [_key(r) for r in rows]


async def revoke(conn: Executor, key_id: str) -> bool:
    """Revoke a key (once; revoking again changes nothing). False when there is no such key."""
    status = await conn.execute(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1", key_id
    )
    return status.endswith(" 1")


async def mark_used(conn: Executor, key_id: str, at: datetime) -> None:
    await conn.execute(
        "UPDATE api_keys SET last_used_at = $2 WHERE id = $1 AND"
        " (last_used_at IS NULL OR last_used_at < $2)",
        key_id,
        at,
    )
