"""Closing the projection of a claim whose workflow ended without closing it (terminated in the
Temporal UI, failed, timed out, cancelled): such a workflow runs no more code, so without this
the claim would show "open" to pollers forever, its examiner's slot would stay booked and its
inbox items open, and a safety hold would never lift. The worker's reconciler
(`reconciler.Reconciler`) finds those runs and their safety cases in Temporal; this module writes
what they mean, once:

- `close_ended`: the claim closed as `terminated`, its booked slot released (the examiner told),
  its open step items closed, ops asked to follow up; one transaction.
- `tidy`: the same release and closing for a terminated claim that still holds a slot or an
  open step item (closed before this was done, or written to by an activity that outlived it).
- `lift_hold`: the hold of a terminated claim lifted once its safety cases have all ended, by
  whoever ended the last one: the clinician who resolved it, or an operator or nobody (then
  ops and the medical director are told, as the claim would have told them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from codec import Sealer
from domain.delivery import CLOSED_WITH_ENDED_CLAIM
from domain.models import (
    Caller,
    ClaimEvent,
    ClaimStatus,
    Lineage,
    Notification,
    Outcome,
    ProjectionWrite,
    Stage,
)
from domain.names import Actor, AppointmentStatus, EventType, Recipient, Template
from store import lineage, outbox, panel, webhooks
from store.claims import apply_projection
from store.db import Connection, Executor, from_json
from store.storable import storable

# How many leftovers one sweep tidies (the rest wait for the next).
_LEFTOVERS_PER_SWEEP = 100
# Who closed the items a terminated claim left open (`inbox_items.done_by`).
_CLOSED_BY = {"by": "system", "reason": "claim_terminated"}


@dataclass(frozen=True)
class EndedRun:
    """A claim workflow's run that ended without completing, as Temporal describes it. Never the
    terminate reason: an operator types it freely, so it may name the claimant."""

    workflow_id: str
    run_id: str
    # `terminated`, `failed`, `timed_out` or `canceled`.
    execution_status: str
    closed_at: datetime


@dataclass(frozen=True)
class Released:
    """What `close_ended` or `tidy` let go of: booked appointments (each examiner told) and the
    claim's open step items."""

    appointments: int
    items: int


@dataclass(frozen=True)
class HeldClaim:
    """A terminated claim still on safety hold, and how many safety cases it is known to have
    had (`<workflow id>-safety-1` ... `-N`; there may be more the claim never recorded)."""

    claim_id: str
    workflow_id: str
    known_cases: int


@dataclass(frozen=True)
class EndedCase:
    """How the last safety case of a held claim to end, ended, as Temporal describes it:
    `completed` (a clinician resolved it), `terminated`, `canceled`, `failed`, `timed_out`, or
    `gone` (Temporal no longer knows it: past retention)."""

    case_id: str
    execution_status: str
    closed_at: datetime | None


async def open_claims(conn: Executor, workflow_ids: Sequence[str]) -> list[str]:
    """Those of `workflow_ids` whose claim the projection still shows open."""
    rows = await conn.fetch(
        "SELECT workflow_id FROM claims WHERE workflow_id = ANY($1::text[]) AND status = 'open'",
        list(workflow_ids),
    )
    return [r["workflow_id"] for r in rows]


async def close_ended(
    conn: Connection, sealer: Sealer, run: EndedRun, now: datetime
) -> ClaimStatus | None:
    """Close the claim of `run` as `terminated`, with its audit event, the ops inbox item and the
    insurer's `claim.closed` webhook, its booked slot released (the examiner told) and its open
    step items closed, in one transaction. None when the projection is not open (closed
    already, by the workflow or by another worker's sweep) or has no row.

    The row lock serialises reconcilers on several workers: the second one finds it closed.
    """
    async with conn.transaction():
        row = await conn.fetchrow(
            "SELECT claim_id, body, lineage FROM claims WHERE workflow_id = $1 AND status = 'open'"
            " FOR UPDATE",
            run.workflow_id,
        )
        if row is None:
            return None
        current = ClaimStatus.model_validate(row["body"])
        tag: str = row["lineage"]
        seq = await _next_seq(conn, current.claim_id, tag)
        status = current.model_copy(
            update={
                "stage": Stage.CLOSED,
                "status": "closed",
                "outcome": Outcome.TERMINATED,
                # Left as the projection has it: a safety case (`<workflow id>-safety-N`, parent
                # close policy ABANDON) outlives the claim and may still be open; `lift_hold`
                # lifts it once every case has ended. Ops are told.
                "safety_hold": current.safety_hold,
                "overdue": False,  # a closed claim waits on nobody
                "next_deadline": None,
                # Now, not the close time: pollers ask for `updated_after` their last poll.
                "updated_at": now,
                # The workflow's versions are its event sequence numbers; this one follows both.
                "version": max(current.version + 1, seq),
            }
        )
        details = {
            "execution_status": run.execution_status,
            "run_id": run.run_id,
            "stage_at_end": current.stage.value,
        }
        event = ClaimEvent(
            claim_id=current.claim_id,
            seq=seq,
            type=EventType.CLAIM_TERMINATED,
            stage=Stage.CLOSED,
            # Someone with access to Temporal ended it (terminate, cancel) or it failed by itself.
            actor=_ENDED_BY.get(run.execution_status, Actor.SYSTEM),
            at=run.closed_at,
            details=details,
        )
        released, told = await _release(conn, current.claim_id, tag)
        # Ops follow up what the workflow would have done and nobody else does: the claimant's
        # notices, an open safety case.
        note = Notification(
            key=f"{current.claim_id}:ops:{Template.CLAIM_TERMINATED}:{run.run_id}",
            claim_id=current.claim_id,
            recipient=Recipient.OPS,
            template=Template.CLAIM_TERMINATED,
            details={
                **details,
                "workflow_id": run.workflow_id,
                "safety_hold": current.safety_hold,
                "appointment_booked": current.appointment is not None,
                "appointments_released": released.appointments,
                "items_closed": released.items,
                "examiner_id": current.examiner.id if current.examiner else None,
            },
        )
        write = ProjectionWrite(
            status=status,
            event=event,
            notifications=[*told, note],
            lineage=await _lineage(conn, current.claim_id, tag),
        )
        await apply_projection(conn, write, sealer)
    return status


async def leftovers(conn: Executor) -> list[str]:
    """Workflow ids of terminated claims that still hold a booked slot or an open step item."""
    rows = await conn.fetch(
        """SELECT c.workflow_id FROM claims c
           WHERE c.outcome = 'terminated'
             AND (EXISTS (SELECT 1 FROM appointments a
                          WHERE a.claim_id = c.claim_id AND a.status = 'booked')
                  OR EXISTS (SELECT 1 FROM inbox_items i
                             WHERE i.claim_id = c.claim_id AND i.done_at IS NULL
                               AND i.case_id IS NULL AND i.kind = ANY($1::text[])))
           ORDER BY c.claim_id LIMIT $2""",
        sorted(CLOSED_WITH_ENDED_CLAIM),
        _LEFTOVERS_PER_SWEEP,
    )
    return [r["workflow_id"] for r in rows]


async def tidy(conn: Connection, sealer: Sealer, workflow_id: str) -> Released | None:
    """Release what a terminated claim still holds (as `close_ended` does); None when the claim
    is not closed as terminated."""
    async with conn.transaction():
        row = await conn.fetchrow(
            "SELECT claim_id, lineage FROM claims WHERE workflow_id = $1"
            " AND outcome = 'terminated' FOR UPDATE",
            workflow_id,
        )
        if row is None:
            return None
        released, told = await _release(conn, row["claim_id"], row["lineage"])
        await outbox.enqueue_in(conn, told, sealer)
    return released


async def _release(
    conn: Connection, claim_id: str, tag: str
) -> tuple[Released, list[Notification]]:
    """Close the claim's open step items (`domain.delivery.CLOSED_WITH_ENDED_CLAIM`; a safety
    case's items and the kinds that outlive the claim stay open) and cancel its booked
    appointments, freeing its examiners' capacity; the notices that tell each examiner."""
    closed = await conn.fetch(
        """UPDATE inbox_items SET done_at = now(), done_by = $3
           WHERE claim_id = $1 AND done_at IS NULL AND case_id IS NULL
             AND kind = ANY($2::text[])
           RETURNING id""",
        claim_id,
        sorted(CLOSED_WITH_ENDED_CLAIM),
        _CLOSED_BY,
    )
    booked = await conn.fetch(
        "SELECT id, examiner_id FROM appointments WHERE claim_id = $1 AND status = 'booked'"
        " ORDER BY id",
        claim_id,
    )
    owner = f"{claim_id}@{tag}" if tag else claim_id
    told = []
    for appointment in booked:
        await panel.set_appointment_status(conn, appointment["id"], AppointmentStatus.CANCELLED)
        told.append(
            Notification(
                key=f"{owner}:{Recipient.EXAMINER}:{Template.APPOINTMENT_CANCELLED}"
                f":terminated-{appointment['id']}",
                claim_id=claim_id,
                recipient=Recipient.EXAMINER,
                template=Template.APPOINTMENT_CANCELLED,
                details={
                    "examiner_id": appointment["examiner_id"],
                    "appointment_id": appointment["id"],
                },
            )
        )
    return Released(appointments=len(booked), items=len(closed)), told


async def held_ended(conn: Executor) -> list[HeldClaim]:
    """Claims closed as terminated that are still on safety hold."""
    rows = await conn.fetch(
        """SELECT c.claim_id, c.workflow_id,
                  (SELECT count(*) FROM claim_events e
                   WHERE e.claim_id = c.claim_id AND e.type = $1) AS placed,
                  (SELECT count(DISTINCT s.case_id) FROM safety_case_events s
                   WHERE s.claim_id = c.claim_id) AS cases
           FROM claims c WHERE c.safety_hold AND c.outcome = 'terminated'
           ORDER BY c.claim_id""",
        EventType.SAFETY_HOLD_PLACED.value,
    )
    return [
        HeldClaim(
            claim_id=r["claim_id"],
            workflow_id=r["workflow_id"],
            known_cases=max(r["placed"], r["cases"]),
        )
        for r in rows
    ]


async def resolver(conn: Executor, case_id: str) -> Caller | None:
    """The clinician who resolved the case (its `safety_case_resolved` step), if recorded."""
    acted_by = await conn.fetchval(
        "SELECT acted_by FROM safety_case_events WHERE case_id = $1 AND type = $2"
        " ORDER BY id DESC LIMIT 1",
        case_id,
        EventType.SAFETY_CASE_RESOLVED.value,
    )
    return Caller.model_validate(acted_by) if acted_by else None


async def lift_hold(
    conn: Connection, sealer: Sealer, workflow_id: str, ended: EndedCase, now: datetime
) -> ClaimStatus | None:
    """Lift the safety hold of a terminated claim whose cases have all ended, `ended` the last
    to end: a `safety_hold_lifted` event whose actor is whoever ended it (the resolving
    clinician, an operator who terminated the case, or the system), the insurer's
    `claim.safety_hold_changed` webhook, and when the case ended unresolved, ops and the medical
    director told. None when the claim is no longer a terminated claim on hold (another worker's
    sweep lifted it)."""
    async with conn.transaction():
        row = await conn.fetchrow(
            "SELECT claim_id, body, lineage FROM claims WHERE workflow_id = $1"
            " AND outcome = 'terminated' AND safety_hold FOR UPDATE",
            workflow_id,
        )
        if row is None:
            return None
        current = ClaimStatus.model_validate(row["body"])
        tag: str = row["lineage"]
        seq = await _next_seq(conn, current.claim_id, tag)
        resolved = ended.execution_status == "completed"
        acted_by = await resolver(conn, ended.case_id) if resolved else None
        details: dict[str, Any] = {
            "case_id": ended.case_id,
            "case_status": ended.execution_status,
            # The claim's workflow was gone: the reconciler recorded what it would have.
            "recorded_by": "reconciler",
        }
        event = ClaimEvent(
            claim_id=current.claim_id,
            seq=seq,
            type=EventType.SAFETY_HOLD_LIFTED,
            stage=current.stage,
            actor=Actor.CLINICIAN
            if resolved
            else _ENDED_BY.get(ended.execution_status, Actor.SYSTEM),
            at=now,
            details=details,
            acted_by=acted_by,
        )
        status = current.model_copy(
            update={
                "safety_hold": False,
                "updated_at": now,
                "version": max(current.version + 1, seq),
            }
        )
        await _append(conn, event, tag)
        await conn.execute(
            "UPDATE claims SET safety_hold = false, body = $2, version = $3, updated_at = $4"
            " WHERE claim_id = $1",
            current.claim_id,
            status.model_dump(mode="json"),
            status.version,
            status.updated_at,
        )
        if not resolved:
            # Nothing is held without an owner: as the claim tells them of a case that ended
            # unresolved (the same keys, so never twice).
            owner = f"{workflow_id}@{tag}" if tag else workflow_id
            notes = [
                Notification(
                    key=f"{owner}:{who}:{Template.SAFETY_CASE_ENDED_UNRESOLVED}:{ended.case_id}",
                    claim_id=current.claim_id,
                    recipient=who,
                    template=Template.SAFETY_CASE_ENDED_UNRESOLVED,
                    details={"case": ended.case_id},
                )
                for who in (Recipient.OPS, Recipient.MEDICAL_DIRECTOR)
            ]
            await outbox.enqueue_in(conn, notes, sealer)
        await webhooks.queue_events(conn, sealer, status, event)
    return status


# Who ended a run that ended this way: an operator (terminate, cancel in Temporal), else nobody.
_ENDED_BY = {"terminated": Actor.OPERATOR, "canceled": Actor.OPERATOR}


async def _next_seq(conn: Executor, claim_id: str, tag: str) -> int:
    """The next sequence number of the claim's log, in the lineage the projection follows."""
    seq: int = await conn.fetchval(
        "SELECT COALESCE(max(seq), 0) + 1 FROM claim_events WHERE claim_id = $1 AND lineage = $2",
        claim_id,
        tag,
    )
    return seq


async def _lineage(conn: Executor, claim_id: str, tag: str) -> Lineage | None:
    """The reset lineage (`store.lineage`) the projection follows, for a write in it."""
    if not tag:
        return None
    reset = (await lineage.of_claim(conn, claim_id)).resets.get(tag)
    if reset is None:
        return None
    return Lineage(id=tag, parent=reset.parent, from_seq=reset.from_seq)


async def _append(conn: Executor, event: ClaimEvent, tag: str) -> None:
    await conn.execute(
        """INSERT INTO claim_events
               (claim_id, seq, type, stage, actor, at, details, acted_by, lineage)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        event.claim_id,
        event.seq,
        event.type.value,
        event.stage.value,
        event.actor,
        event.at,
        storable(event.details)[0],
        event.acted_by.model_dump(mode="json") if event.acted_by else None,
        tag,
    )


@dataclass(frozen=True)
class UntoldRecords:
    """A `records` document its open claim has not recorded as received: the upload's message to
    the claim did not get through (Temporal unreachable, the process gone)."""

    workflow_id: str
    document_id: str
    uploaded_by: Caller


async def untold_records(
    conn: Executor, settled_before: datetime, limit: int = 50
) -> list[UntoldRecords]:
    """Records stored before `settled_before` (their upload's own message has had its chance)
    whose open claim has no `records_received` event for them, oldest first."""
    rows = await conn.fetch(
        """SELECT c.workflow_id, d.id, d.uploaded_by
           FROM documents d JOIN claims c ON c.claim_id = d.claim_id
           WHERE d.kind = 'records' AND d.deleted_at IS NULL AND d.uploaded_at < $1
             AND c.status = 'open'
             AND NOT EXISTS (SELECT 1 FROM claim_events e
                             WHERE e.claim_id = d.claim_id AND e.type = 'records_received'
                               AND e.details->>'document_id' = d.id)
           ORDER BY d.uploaded_at LIMIT $2""",
        settled_before,
        limit,
    )
    return [
        UntoldRecords(r["workflow_id"], r["id"], Caller.model_validate(from_json(r["uploaded_by"])))
        for r in rows
    ]
