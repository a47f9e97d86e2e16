"""Safety cases' own timelines (`safety_case_events`, append-only): the rungs of each case's
ladder, recorded with their pages in one transaction, and read merged into the claim's timeline
for those who act on them (`domain.timeline`)."""

from __future__ import annotations

from collections.abc import Sequence

from codec import Sealer
from domain.models import SafetyCaseEvent, SafetyCaseWrite
from store import outbox
from store.db import Connection, Executor
from store.storable import storable


async def apply(conn: Connection, write: SafetyCaseWrite, sealer: Sealer) -> bool:
    """Append the case's steps and queue their notifications, in one transaction, once per
    (case, seq). Returns False when every step was recorded already (a retried activity)."""
    async with conn.transaction():
        inserted = await _insert(conn, write.events)
        await outbox.enqueue_in(conn, write.notifications, sealer)
    return inserted > 0


async def append_record(conn: Connection, event: SafetyCaseEvent, inbox_item: str) -> bool:
    """A step recorded outside the case's workflow, once per inbox item (within the caller's
    transaction: the item's closing and its step are one)."""
    return bool(
        await conn.fetchval(
            """INSERT INTO safety_case_events
                   (case_id, inbox_item, claim_id, type, actor, at, details, acted_by)
               VALUES ($1, $2::uuid, $3, $4, $5, $6, $7, $8)
               ON CONFLICT (inbox_item) DO NOTHING RETURNING id""",
            event.case_id,
            inbox_item,
            event.claim_id,
            event.type.value,
            event.actor,
            event.at,
            storable(event.details)[0],
            _caller(event),
        )
    )


async def _insert(conn: Connection, events: Sequence[SafetyCaseEvent]) -> int:
    inserted = 0
    for event in events:
        row = await conn.fetchval(
            """INSERT INTO safety_case_events
                   (case_id, seq, claim_id, type, actor, at, details, acted_by)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               ON CONFLICT (case_id, seq) DO NOTHING RETURNING id""",
            event.case_id,
            event.seq,
            event.claim_id,
            event.type.value,
            event.actor,
            event.at,
            storable(event.details)[0],
            _caller(event),
        )
        inserted += row is not None
    return inserted


def _caller(event: SafetyCaseEvent) -> object:
    return event.acted_by.model_dump(mode="json") if event.acted_by else None


async def for_claim(conn: Executor, claim_id: str) -> list[SafetyCaseEvent]:
    """The steps of every safety case of the claim, in time order (a case's own steps in their
    sequence)."""
    rows = await conn.fetch(
        "SELECT case_id, seq, claim_id, type, actor, at, details, acted_by"
        " FROM safety_case_events WHERE claim_id = $1 ORDER BY at, case_id, seq NULLS LAST, id",
        claim_id,
    )
    return [SafetyCaseEvent.model_validate(dict(r)) for r in rows]
