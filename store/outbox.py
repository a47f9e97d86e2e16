"""Notification outbox: enqueueing is idempotent on the notification key."""

from __future__ import annotations

from domain.models import Notification
from domain.names import Recipient, Template
from store.db import Executor
from store.storable import storable


async def enqueue(conn: Executor, note: Notification) -> bool:
    """Queue `note` once (False when its key was queued already). Details Postgres cannot store
    are cleaned rather than refused, so a page always goes out; ops are told it was cleaned."""
    details, cleaned = storable(note.details)
    inserted = await conn.fetchval(
        """INSERT INTO notification_outbox (key, claim_id, recipient, template, details)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO NOTHING RETURNING key""",
        note.key,
        note.claim_id,
        note.recipient,
        note.template,
        details,
    )
    if cleaned:
        await conn.execute(
            """INSERT INTO notification_outbox (key, claim_id, recipient, template, details)
               VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO NOTHING""",
            f"{note.key}:cleaned",
            note.claim_id,
            Recipient.OPS,
            Template.NOTIFICATION_DATA_CLEANED,
            {"template": note.template, "recipient": note.recipient},
        )
    return inserted is not None
