"""Answers to actions sent with an `Idempotency-Key`, kept per caller so a retry gets the first
answer back, also after the claim closed (when Temporal no longer knows the update)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from store.db import Executor


@dataclass(frozen=True)
class StoredAnswer:
    claim_id: str
    action: str
    request_hash: str
    status: int
    body: Any


async def find(conn: Executor, caller: str, key: str) -> StoredAnswer | None:
    row = await conn.fetchrow(
        """SELECT claim_id, action, request_hash, status, body FROM idempotency_keys
           WHERE caller = $1 AND idempotency_key = $2""",
        caller,
        key,
    )
    return StoredAnswer(**dict(row.items())) if row is not None else None


async def keep(conn: Executor, caller: str, key: str, answer: StoredAnswer) -> None:
    """Keep the first answer; a concurrent retry that finished first wins (same answer)."""
    await conn.execute(
        """INSERT INTO idempotency_keys
               (caller, idempotency_key, claim_id, action, request_hash, status, body)
           VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING""",
        caller,
        key,
        answer.claim_id,
        answer.action,
        answer.request_hash,
        answer.status,
        answer.body,
    )
