"""Status projection and audit log: the read model insurers poll."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from asyncpg import Record

from codec import Sealer
from domain.access import READ_SCOPE, ClaimScope, ReadScope
from domain.models import Caller, ClaimEvent, ClaimStatus, ProjectionWrite
from domain.names import EventType
from store import inbox, lineage, outbox, panel, reports, webhooks
from store.db import Connection, Executor
from store.json_shape import same_shape_sql
from store.storable import storable

_STATUS_COLUMNS = """
    claim_id, workflow_id, insurer_id, claim_number, claim_type, jurisdiction, stage, status,
    outcome, safety_hold, examiner_id, overdue, next_deadline, body, version, created_at, updated_at
"""


def _row_values(status: ClaimStatus) -> tuple:
    return (
        status.claim_id,
        status.workflow_id,
        status.insurer_id,
        status.claim_number,
        status.claim_type.value,
        status.jurisdiction,
        status.stage.value,
        status.status,
        status.outcome.value if status.outcome else None,
        status.safety_hold,
        status.examiner.id if status.examiner else None,
        status.overdue,
        status.next_deadline,
        status.model_dump(mode="json"),
        status.version,
        status.created_at,
        status.updated_at,
    )


async def insert_new_claim(
    conn: Connection,
    status: ClaimStatus,
    referral_hash: str,
    sealed_contact: bytes,
    claimant_key: str | None = None,
    booking: panel.BookingFacts | None = None,
) -> tuple[bool, str | None]:
    """Insert the first projection row, and the claimant's sealed contact (for the notices they
    get) with the keyed hash a claim is found by (`find by claimant`), in the same transaction.
    Returns (created, referral_hash of the existing row)."""
    async with conn.transaction():
        created, existing = await _insert_projection(conn, status, referral_hash)
        if created:
            await conn.execute(
                """INSERT INTO claim_contacts
                       (claim_id, sealed, claimant_key, specialty, licence_state, treating_npis)
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (claim_id) DO NOTHING""",
                status.claim_id,
                sealed_contact,
                claimant_key,
                booking.specialty if booking else None,
                booking.licence_state if booking else None,
                booking.treating_npis if booking else None,
            )
    return created, existing


async def _insert_projection(
    conn: Executor, status: ClaimStatus, referral_hash: str
) -> tuple[bool, str | None]:
    row = await conn.fetchrow(
        f"""INSERT INTO claims ({_STATUS_COLUMNS}, referral_hash)
            VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)
            ON CONFLICT (claim_id) DO NOTHING
            RETURNING claim_id""",
        *_row_values(status),
        referral_hash,
    )
    if row is not None:
        return True, referral_hash
    existing = await conn.fetchval(
        "SELECT referral_hash FROM claims WHERE claim_id = $1", status.claim_id
    )
    return False, existing


async def apply_projection(conn: Connection, write: ProjectionWrite, sealer: Sealer) -> bool:
    """Append the event, advance the projection, store the report it records, and queue the
    transition's notifications and webhook events: all in one transaction, once per (claim, seq).

    Returns False when this (claim, seq) was already recorded (a retried activity).

    A reset claim's writes carry their lineage (`store.lineage`): the first write of a new one
    is the reset seen, and the projection follows it from then on, whatever its version; a
    write of a lineage the claim has left is kept in the log (superseded) and changes nothing
    else.
    """
    event = write.event
    tag = write.lineage.id if write.lineage else ""
    async with conn.transaction():
        reset_seen, superseded = False, False
        if write.lineage is not None:
            reset_seen = await lineage.register(conn, event.claim_id, write.lineage)
            superseded = not reset_seen and (
                await lineage.current_lineage(conn, event.claim_id) != tag
            )
        inserted = await conn.fetchval(
            """INSERT INTO claim_events
                   (claim_id, seq, type, stage, actor, at, details, acted_by, lineage)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
               ON CONFLICT (claim_id, lineage, seq) DO NOTHING
               RETURNING seq""",
            event.claim_id,
            event.seq,
            event.type,
            event.stage.value,
            event.actor,
            event.at,
            storable(event.details)[0],
            event.acted_by.model_dump(mode="json") if event.acted_by else None,
            tag,
        )
        if inserted is not None and write.note:
            # What the person wrote, sealed beside its event (the log itself is append-only).
            await conn.execute(
                """INSERT INTO claim_event_notes (claim_id, lineage, seq, sealed_note)
                   VALUES ($1, $2, $3, $4)""",
                event.claim_id,
                tag,
                event.seq,
                sealer.seal(write.note.encode(), note_binding(event.claim_id, tag, event.seq)),
            )
        if superseded:
            return inserted is not None
        # Projection writes may arrive out of order (handlers and the main loop both record);
        # the version guard keeps the newest of the lineage. A reset's first write replaces
        # whatever the run before left.
        await conn.execute(
            f"""INSERT INTO claims ({_STATUS_COLUMNS}, lineage)
                VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)
                ON CONFLICT (claim_id) DO UPDATE SET
                    stage = EXCLUDED.stage, status = EXCLUDED.status, outcome = EXCLUDED.outcome,
                    safety_hold = EXCLUDED.safety_hold, examiner_id = EXCLUDED.examiner_id,
                    overdue = EXCLUDED.overdue, next_deadline = EXCLUDED.next_deadline,
                    body = EXCLUDED.body, version = EXCLUDED.version,
                    created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at,
                    lineage = EXCLUDED.lineage
                WHERE ((claims.lineage = EXCLUDED.lineage AND claims.version < EXCLUDED.version)
                       OR $19::bool)
                  -- A claim closed as terminated (store.reconcile) ran no more workflow code;
                  -- a late write of its last activity must not reopen it.
                  AND claims.outcome IS DISTINCT FROM 'terminated'""",
            *_row_values(write.status),
            tag,
            reset_seen,
        )
        if inserted is not None:
            # The claim's inbox items whose step this transition did close (`domain.work_queue`).
            await inbox.close_done_steps(conn, sealer, event)
        if reset_seen or (inserted is not None and event.type is EventType.CLAIM_CLOSED):
            # The bookings follow the reset run, or the closed claim: what it does not wait on
            # is released, the appointment it still waits on is booked again.
            await panel.align_bookings(conn, write.status)
        # Who may read the claim from now on (monotonic, whatever order writes arrive in).
        flag = _SCOPE_FLAGS.get(event.type)
        if inserted is not None and flag:
            await conn.execute(
                f"UPDATE claims SET {flag} = true WHERE claim_id = $1", event.claim_id
            )
        if write.report is not None:
            # The report the transition files or decides on (idempotent on claim + version).
            await reports.record(
                conn,
                event.claim_id,
                write.report,
                seq=event.seq,
                at=event.at,
                sealer=sealer,
                lineage=tag,
            )
        for change in write.appointment_changes:
            await panel.set_appointment_status(conn, change.appointment_id, change.status)
        await outbox.enqueue_in(conn, write.notifications, sealer)
        if inserted is not None:
            await webhooks.queue_events(conn, sealer, write.status, event)
    return inserted is not None


# Events after which a role whose work is one part of a claim may read it (domain.access).
_SCOPE_FLAGS = {
    EventType.REPORT_SUBMITTED: "reached_review",
    EventType.SAFETY_HOLD_PLACED: "had_safety_case",
    # A moderate risk referred to treatment is the clinicians' work too.
    EventType.REFERRAL_TO_TREATMENT: "had_safety_case",
}


# The status as stored, with the legal hold laid over it: the hold is set outside the workflow
# (`store.retention`), so the projection's own writes never carry it.
_BODY = "(body || jsonb_build_object('legal_hold', legal_hold))"


async def get_status(conn: Executor, claim_id: str) -> ClaimStatus | None:
    body = await conn.fetchval(f"SELECT {_BODY} FROM claims WHERE claim_id = $1", claim_id)
    return ClaimStatus.model_validate(body) if body is not None else None


async def get_scoped(conn: Executor, claim_id: str) -> tuple[ClaimStatus, ClaimScope] | None:
    """The status and what the read rules need, in one indexed lookup."""
    row = await conn.fetchrow(
        f"SELECT {_BODY} AS body, insurer_id, examiner_id, reached_review, had_safety_case"
        " FROM claims WHERE claim_id = $1",
        claim_id,
    )
    if row is None:
        return None
    return ClaimStatus.model_validate(row["body"]), _scope_of(row)


@dataclass(frozen=True)
class StoredStatus:
    """A claim's status as stored (JSON text) and what the read rules need. `current`: the text
    has exactly the shape `ClaimStatus` dumps today, so it is the answer as is; otherwise (a row
    written by an older model) it must be read through the model."""

    json: str
    current: bool
    scope: ClaimScope


# Evaluated by Postgres on the row it reads: no decoding on our side.
_CURRENT_SHAPE = same_shape_sql("c.body", ClaimStatus)


async def get_scoped_json(conn: Executor, claim_id: str) -> StoredStatus | None:
    """The stored status text and what the read rules need, in one indexed lookup (the status
    route serves the text without decoding it)."""
    row = await conn.fetchrow(
        f"SELECT c.body::text AS json, {_CURRENT_SHAPE} AS current, insurer_id, examiner_id,"
        " reached_review, had_safety_case"
        f" FROM (SELECT {_BODY} AS body, insurer_id, examiner_id, reached_review,"
        " had_safety_case FROM claims WHERE claim_id = $1) c",
        claim_id,
    )
    if row is None:
        return None
    return StoredStatus(json=row["json"], current=row["current"], scope=_scope_of(row))


def _scope_of(row: Record) -> ClaimScope:
    return ClaimScope(
        insurer_id=row["insurer_id"],
        examiner_id=row["examiner_id"],
        reached_review=row["reached_review"],
        had_safety_case=row["had_safety_case"],
    )


async def list_events(conn: Executor, claim_id: str) -> list[ClaimEvent]:
    """The claim's log in the order it was written (a reset's events after those it
    superseded); `store.lineage` says which are current."""
    rows = await conn.fetch(
        """SELECT claim_id, seq, type, stage, actor, at, details, acted_by, lineage
           FROM claim_events e WHERE claim_id = $1
           ORDER BY (SELECT l.recorded_at FROM claim_lineages l
                     WHERE l.claim_id = e.claim_id AND l.lineage = e.lineage) NULLS FIRST, seq""",
        claim_id,
    )
    return [ClaimEvent.model_validate(dict(r)) for r in rows]


def note_binding(claim_id: str, lineage: str, seq: int) -> bytes:
    """Where a sealed note belongs: it opens only as the note of that event."""
    return f"event-note:{claim_id}:{lineage}:{seq}".encode()


async def sealed_notes(conn: Executor, claim_id: str) -> dict[tuple[str, int], bytes]:
    """The claim's events' sealed notes, by (lineage, seq): only those that have one."""
    rows = await conn.fetch(
        "SELECT lineage, seq, sealed_note FROM claim_event_notes WHERE claim_id = $1", claim_id
    )
    return {(r["lineage"], r["seq"]): bytes(r["sealed_note"]) for r in rows}


def _scope_sql(caller: Caller) -> tuple[str, str | None]:
    """The read scope of `caller` (domain.access) as a condition on `claims` and the value of its
    one parameter, $1 (NULL where the scope needs none)."""
    match READ_SCOPE[caller.role]:
        case ReadScope.ALL:
            return "$1::text IS NULL", None
        case ReadScope.OWN_INSURER:
            return "insurer_id = $1::text", caller.insurer_id
        case ReadScope.ASSIGNED:
            return "examiner_id = $1::text", caller.examiner_id
        case ReadScope.REVIEWED:
            return "reached_review AND $1::text IS NULL", None
        case ReadScope.SAFETY:
            return "had_safety_case AND $1::text IS NULL", None
        case ReadScope.NONE:
            return "false AND $1::text IS NULL", None


async def booking_facts(conn: Executor, claim_id: str) -> panel.BookingFacts | None:
    """None for a claim referred before these were kept."""
    row = await conn.fetchrow(
        "SELECT specialty, licence_state, treating_npis, claimant_key FROM claim_contacts"
        " WHERE claim_id = $1 AND specialty IS NOT NULL",
        claim_id,
    )
    if row is None:
        return None
    return panel.BookingFacts(
        row["specialty"], row["licence_state"], list(row["treating_npis"] or []),
        row["claimant_key"],
    )  # fmt: skip


@dataclass(frozen=True)
class ClaimFilter:
    """What a claims list is narrowed to (every field optional) and in which order."""

    stage: str | None = None
    outcome: str | None = None
    jurisdiction: str | None = None
    insurer_id: str | None = None
    overdue: bool | None = None
    safety_hold: bool | None = None
    updated_after: datetime | None = None
    claim_number: str | None = None
    claimant_key: str | None = None
    # `updated`: (updated_at, claim_id), for incremental polling; `next_deadline`: soonest first,
    # claims without one last.
    sort: str = "updated"


async def list_statuses(
    conn: Executor,
    *,
    caller: Caller,
    filter: ClaimFilter,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[ClaimStatus]:
    """Claims in the filter's order as stable keyset pages; `after` is the last row's sort key."""
    scope, scope_value = _scope_sql(caller)
    by_deadline = filter.sort == "next_deadline"
    key = "coalesce(next_deadline, 'infinity'::timestamptz)" if by_deadline else "updated_at"
    rows = await conn.fetch(
        f"""SELECT {_BODY} AS body FROM claims
           WHERE {scope}
             AND ($2::text IS NULL OR stage = $2)
             AND ($3::text IS NULL OR outcome = $3)
             AND ($4::text IS NULL OR jurisdiction = $4)
             AND ($5::boolean IS NULL OR overdue = $5)
             AND ($6::timestamptz IS NULL OR updated_at > $6)
             AND ($7::timestamptz IS NULL OR ({key}, claim_id) > ($7, $8))
             AND ($10::text IS NULL OR insurer_id = $10)
             AND ($11::boolean IS NULL OR safety_hold = $11)
             AND ($12::text IS NULL OR claim_number = $12)
             AND ($13::text IS NULL OR claim_id IN
                  (SELECT claim_id FROM claim_contacts WHERE claimant_key = $13))
           ORDER BY {key}, claim_id
           LIMIT $9""",
        scope_value,
        filter.stage,
        filter.outcome,
        filter.jurisdiction,
        filter.overdue,
        filter.updated_after,
        after[0] if after else None,
        after[1] if after else None,
        limit,
        filter.insurer_id,
        filter.safety_hold,
        filter.claim_number,
        filter.claimant_key,
    )
    return [ClaimStatus.model_validate(r["body"]) for r in rows]
