"""Closing the projection of a claim whose workflow ended without closing it (terminated in the
Temporal UI, failed, timed out, cancelled): such a workflow runs no more code, so without this
the claim would show "open" to pollers forever. The worker's reconciler (`reconciler.Reconciler`)
finds those runs in Temporal; this module writes what they mean, once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from codec import Sealer
from domain.models import ClaimEvent, ClaimStatus, Notification, Outcome, ProjectionWrite, Stage
from domain.names import Actor, EventType, Recipient, Template
from store.claims import apply_projection
from store.db import Connection, Executor


@dataclass(frozen=True)
class EndedRun:
    """A claim workflow's run that ended without completing, as Temporal describes it. Never the
    terminate reason: an operator types it freely, so it may name the claimant."""

    workflow_id: str
    run_id: str
    # `terminated`, `failed`, `timed_out` or `canceled`.
    execution_status: str
    closed_at: datetime


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
    insurer's `claim.closed` webhook, in one transaction. None when the projection is not open
    (closed already, by the workflow or by another worker's sweep) or has no row.

    The row lock serialises reconcilers on several workers: the second one finds it closed.
    """
    async with conn.transaction():
        row = await conn.fetchrow(
            "SELECT claim_id, body FROM claims WHERE workflow_id = $1 AND status = 'open'"
            " FOR UPDATE",
            run.workflow_id,
        )
        if row is None:
            return None
        current = ClaimStatus.model_validate(row["body"])
        seq: int = await conn.fetchval(
            "SELECT COALESCE(max(seq), 0) + 1 FROM claim_events WHERE claim_id = $1",
            row["claim_id"],
        )
        status = current.model_copy(
            update={
                "stage": Stage.CLOSED,
                "status": "closed",
                "outcome": Outcome.TERMINATED,
                # Left as the projection has it: a safety case (`<workflow id>-safety-N`, parent
                # close policy ABANDON) outlives the claim and may still be open, and only the
                # claim's workflow (now gone) would have recorded the hold lifted. Ops are told.
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
            actor=Actor.OPS if run.execution_status in ("terminated", "canceled") else Actor.SYSTEM,
            at=run.closed_at,
            details=details,
        )
        # Ops must follow up what the workflow would have done: the booked appointment (slot and
        # examiner still held), the claimant's notices, an open safety case.
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
                "examiner_id": current.examiner.id if current.examiner else None,
            },
        )
        await apply_projection(
            conn, ProjectionWrite(status=status, event=event, notifications=[note]), sealer
        )
    return status
