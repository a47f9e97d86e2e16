"""Safety cases' own timelines (`safety_case_events`, append-only): the rungs of each case's
ladder, recorded with their pages in one transaction, and read merged into the claim's timeline
for those who act on them (`domain.timeline`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from codec import Sealer
from domain.models import SafetyCaseEvent, SafetyCaseWrite
from domain.names import EventType, Role, Template
from store import outbox
from store.db import Connection, Executor
from store.storable import storable


async def apply(conn: Connection, write: SafetyCaseWrite, sealer: Sealer) -> bool:
    """Append the case's steps and queue their notifications, in one transaction, once per
    (case, seq). Returns False when every step was recorded already (a retried activity)."""
    async with conn.transaction():
        inserted = await _insert(conn, write.events)
        await outbox.enqueue_in(conn, write.notifications, sealer)
        first = write.events[0] if write.events else None
        if inserted and write.clinical_note and first is not None and first.seq is not None:
            await conn.execute(
                """INSERT INTO safety_case_notes (case_id, seq, claim_id, sealed_note)
                   VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING""",
                first.case_id,
                first.seq,
                first.claim_id,
                sealer.seal(write.clinical_note.encode(), note_binding(first.case_id, first.seq)),
            )
    return inserted > 0


def note_binding(case_id: str, seq: int) -> bytes:
    """Where a sealed clinical note belongs: it opens only as the note of that step."""
    return f"case-note:{case_id}:{seq}".encode()


async def sealed_notes(conn: Executor, claim_id: str) -> dict[tuple[str, int], bytes]:
    """The claim's safety cases' sealed clinical notes, by (case, seq)."""
    rows = await conn.fetch(
        "SELECT case_id, seq, sealed_note FROM safety_case_notes WHERE claim_id = $1", claim_id
    )
    return {(r["case_id"], r["seq"]): bytes(r["sealed_note"]) for r in rows}


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


@dataclass(frozen=True)
class CaseSummary:
    """Where one safety case stands, read from its own timeline: when it was first and last
    paged, how many pages went out, whether the medical director was brought in, when it was
    acknowledged and resolved, its duty-to-protect task (and how many were warned: whom stays
    sealed with the task); with the claim it is about and the details of its first page
    (clinical: level, direction, notes; sealed at rest with the page's inbox item)."""

    case_id: str
    claim_id: str
    claim_number: str
    jurisdiction: str
    paged_at: datetime | None
    last_paged_at: datetime | None
    pages: int
    director_paged: bool
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    duty_to_protect: Literal["none", "open", "closed"]
    warned: int | None
    details: dict[str, Any]

    @property
    def state(self) -> Literal["paged", "acknowledged", "resolved"]:
        if self.resolved_at is not None:
            return "resolved"
        return "acknowledged" if self.acknowledged_at is not None else "paged"

    @property
    def repages(self) -> int:
        return max(0, self.pages - 1)


async def summaries(
    conn: Executor,
    sealer: Sealer,
    *,
    claim_id: str | None = None,
    include_resolved: bool = False,
    limit: int = 200,
) -> list[CaseSummary]:
    """The safety cases (of one claim, or all), unacknowledged first, then acknowledged, then
    resolved; within each the longest waiting first. Open ones only unless `include_resolved`.
    Cases recorded before the ladder reached the timeline have no steps here and are not
    listed."""
    rows = await conn.fetch(
        """SELECT e.case_id, e.claim_id, c.claim_number, c.jurisdiction,
                  min(e.at) FILTER (WHERE e.type = $1) AS paged_at,
                  max(e.at) FILTER (WHERE e.type = $1) AS last_paged_at,
                  count(*) FILTER (WHERE e.type = $1) AS pages,
                  bool_or(e.type = $2) AS director_paged,
                  min(e.at) FILTER (WHERE e.type = $3) AS acknowledged_at,
                  min(e.at) FILTER (WHERE e.type = $4) AS resolved_at,
                  bool_or(e.type = $5) AS duty_opened,
                  bool_or(e.type = $6) AS duty_closed,
                  max((e.details->>'warned')::int) FILTER (WHERE e.type = $6) AS warned,
                  (SELECT i.sealed_details FROM inbox_items i
                    WHERE i.claim_id = e.claim_id AND i.case_id = e.case_id
                      AND i.kind = $7 AND i.role = $8
                    ORDER BY i.created_at LIMIT 1) AS sealed_details
           FROM safety_case_events e JOIN claims c ON c.claim_id = e.claim_id
           WHERE ($9::text IS NULL OR e.claim_id = $9)
           GROUP BY e.case_id, e.claim_id, c.claim_number, c.jurisdiction
           HAVING $10::bool OR NOT bool_or(e.type = $4)
           ORDER BY bool_or(e.type = $4), bool_or(e.type = $3),
                    min(e.at) FILTER (WHERE e.type = $1) NULLS LAST, e.case_id
           LIMIT $11""",
        EventType.SAFETY_PAGE_SENT.value,
        EventType.MEDICAL_DIRECTOR_PAGED.value,
        EventType.SAFETY_CASE_ACKNOWLEDGED.value,
        EventType.SAFETY_CASE_RESOLVED.value,
        EventType.DUTY_TO_PROTECT_OPENED.value,
        EventType.DUTY_TO_PROTECT_CLOSED.value,
        Template.SAFETY_PAGE.value,
        Role.CLINICIAN.value,
        claim_id,
        include_resolved,
        limit,
    )
    return [
        CaseSummary(
            case_id=r["case_id"],
            claim_id=r["claim_id"],
            claim_number=r["claim_number"],
            jurisdiction=r["jurisdiction"],
            paged_at=r["paged_at"],
            last_paged_at=r["last_paged_at"],
            pages=r["pages"],
            director_paged=bool(r["director_paged"]),
            acknowledged_at=r["acknowledged_at"],
            resolved_at=r["resolved_at"],
            duty_to_protect=(
                "closed" if r["duty_closed"] else "open" if r["duty_opened"] else "none"
            ),
            warned=r["warned"],
            details=(sealer.open_json(bytes(r["sealed_details"])) if r["sealed_details"] else {}),
        )
        for r in rows
    ]
