"""The relay's side of the deliveries table (`delivery.relay`): claiming what is due under a
lease, recording how each attempt ended, releasing notices held for a safety hold, and the
addresses an email goes to. Deliveries are queued by `store.outbox` and `store.webhooks`.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from asyncpg import Record

from codec import Sealer
from domain.delivery import DeliveryStatus
from store.db import Connection, Executor

# What `store.outbox` notifies (`pg_notify`) when it queues a delivery.
WAKE_CHANNEL = "deliveries"

_CLAIM_DUE = """
UPDATE deliveries d
   SET lease_until = now() + make_interval(secs => $1), lease_owner = $2, attempts = attempts + 1
 WHERE id IN (SELECT id FROM deliveries
               WHERE status IN ('pending', 'failed') AND next_attempt_at <= now()
                 AND (lease_until IS NULL OR lease_until < now())
               ORDER BY next_attempt_at
               LIMIT $3
               FOR UPDATE SKIP LOCKED)
RETURNING d.id, d.channel, d.claim_id, d.webhook_id, d.outbox_key, d.event_type,
          d.sealed_body, d.attempts, d.give_up_at"""


@contextlib.asynccontextmanager
async def woken_by_new_deliveries(
    pool: asyncpg.Pool, callback: Callable[..., None]
) -> AsyncIterator[None]:
    """`callback` is called whenever a delivery is queued, while the block runs (on a connection
    of the pool held for it)."""
    listener = await pool.acquire()
    await listener.add_listener(WAKE_CHANNEL, callback)
    try:
        yield
    finally:
        try:
            await listener.remove_listener(WAKE_CHANNEL, callback)
        except Exception:
            # Still listening, maybe: the pool resets only connections given back mid-transaction
            # (`store.db`), so this one is closed instead of going back as it is.
            listener.terminate()
        await pool.release(listener)


async def claim_due(
    conn: Executor, *, lease_seconds: float, owner: str, limit: int
) -> list[Record]:
    """Lease up to `limit` due deliveries to `owner` for `lease_seconds`, counting the attempt.
    Leased rows are skipped, so relays sharing the table never take one delivery together."""
    return await conn.fetch(_CLAIM_DUE, lease_seconds, owner, limit)


async def release_held(conn: Executor) -> int:
    """Adverse notices held while the claimant was on safety hold become due once it lifted;
    how many did."""
    status = await conn.execute(
        """UPDATE deliveries d SET status = 'pending', next_attempt_at = now()
           FROM claims c
           WHERE d.status = 'held' AND c.claim_id = d.claim_id AND NOT c.safety_hold"""
    )
    return int(status.rsplit(" ", 1)[1])


async def mark_delivered(conn: Executor, delivery_id: uuid.UUID, owner: str) -> None:
    """The attempt of the lease's `owner` went through (no change once another holds it)."""
    await conn.execute(
        """UPDATE deliveries SET status = 'delivered', delivered_at = now(),
               lease_until = NULL, last_error = NULL
           WHERE id = $1 AND lease_owner = $2""",
        delivery_id,
        owner,
    )


async def mark_failed(
    conn: Connection,
    delivery_id: uuid.UUID,
    owner: str,
    *,
    dead: bool,
    next_attempt_at: datetime,
    error: str,
) -> bool:
    """The attempt of the lease's `owner` failed: tried again at `next_attempt_at`, or never
    (`dead`). False when another relay holds the lease now (nothing was changed)."""
    status = await conn.execute(
        """UPDATE deliveries SET status = $3, next_attempt_at = $4, lease_until = NULL,
               last_error = $5
           WHERE id = $1 AND lease_owner = $2""",
        delivery_id,
        owner,
        (DeliveryStatus.DEAD if dead else DeliveryStatus.FAILED).value,
        next_attempt_at,
        error,
    )
    return status.endswith(" 1")


async def claimant_contact(conn: Executor, sealer: Sealer, claim_id: str) -> dict[str, Any]:
    """Who the claimant is, as written at intake (`email`, `name`); empty when not recorded."""
    sealed = await conn.fetchval("SELECT sealed FROM claim_contacts WHERE claim_id = $1", claim_id)
    contact: dict[str, Any] = sealer.open_json(bytes(sealed)) if sealed is not None else {}
    return contact


async def examiner_address(conn: Executor, examiner_id: str | None) -> tuple[str, str] | None:
    """The examiner's email address and name; None for no such examiner or one without an
    address."""
    row = await conn.fetchrow("SELECT name, email FROM examiners WHERE id = $1", examiner_id)
    if row is None or not row["email"]:
        return None
    return row["email"], row["name"]


@dataclass(frozen=True)
class DeliveryLine:
    """A delivery as ops see it: which channel, what event, how it stands. Never its body."""

    id: str
    claim_id: str
    channel: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime
    delivered_at: datetime | None
    created_at: datetime
    last_error: str | None


_LINE = """id::text, claim_id, channel, event_type, status, attempts, next_attempt_at,
    delivered_at, created_at, last_error"""


async def for_claim(conn: Executor, claim_id: str, limit: int = 200) -> list[DeliveryLine]:
    """A claim's deliveries, newest first (webhooks, emails, pages)."""
    rows = await conn.fetch(
        f"SELECT {_LINE} FROM deliveries WHERE claim_id = $1 ORDER BY created_at DESC, id LIMIT $2",
        claim_id,
        limit,
    )
    return [DeliveryLine(**dict(row)) for row in rows]


async def dead(conn: Executor, channel: str | None = None, limit: int = 100) -> list[DeliveryLine]:
    """Dead deliveries (their retry period ran out), newest first, of one channel or all."""
    rows = await conn.fetch(
        f"SELECT {_LINE} FROM deliveries WHERE status = 'dead'"
        " AND ($1::text IS NULL OR channel = $1) ORDER BY created_at DESC, id LIMIT $2",
        channel,
        limit,
    )
    return [DeliveryLine(**dict(row)) for row in rows]
