"""Notification outbox: enqueueing is idempotent on the notification key."""

from __future__ import annotations

from domain.models import Notification
from store.db import Executor


async def enqueue(conn: Executor, note: Notification) -> bool:
    inserted = await conn.fetchval(
        """INSERT INTO notification_outbox (key, claim_id, recipient, template, details)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO NOTHING RETURNING key""",
        note.key,
        note.claim_id,
        note.recipient,
        note.template,
        note.details,
    )
    return inserted is not None
