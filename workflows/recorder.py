"""Recording a transition: the audit event and the projection insurers poll (through an
activity), and what SREs see in the Temporal UI (search attributes and current details)."""

from __future__ import annotations

from collections.abc import Sequence

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

from workflows.effects import Effects, Notice
from workflows.generation import Generation

with workflow.unsafe.imports_passed_through():
    from domain import search_attributes as sa
    from domain.claim_state import ClaimState
    from domain.models import (
        AppointmentStatusChange,
        Caller,
        ClaimEvent,
        ClaimStatus,
        Deadline,
        ProjectionWrite,
        ReportWrite,
    )
    from domain.names import Actor, AppointmentStatus, EventType


class Recorder:
    def __init__(self, state: ClaimState, effects: Effects, generation: Generation) -> None:
        self._state = state
        self._effects = effects
        # Claims started before notifications rode with their transition queue each on its own,
        # first (their histories replay that way).
        self._batched = generation.batched_notices
        # Lean claims: appointment changes ride with the next transition, and search attributes
        # are upserted only when they change.
        self._lean = generation.lean_history
        self._pending: list[AppointmentStatusChange] = []
        self._published: tuple[object, ...] | None = None

    async def change_appointment(self, appointment_id: str, status: AppointmentStatus) -> None:
        """Mark the appointment attended, no-show or released. Lean claims write it with the
        transition that follows (every caller records one next), older ones at once."""
        if self._lean:
            self._pending.append(
                AppointmentStatusChange(appointment_id=appointment_id, status=status)
            )
        else:
            await self._effects.set_appointment_status(appointment_id, status)

    async def record(
        self,
        event_type: EventType,
        *,
        actor: Actor = Actor.SYSTEM,
        acted_by: Caller | None = None,
        notify: Sequence[Notice] = (),
        report: ReportWrite | None = None,
        cause: object = None,  # (typed as the details are: callers pass theirs on with **)
        note: str | None = None,
        **details: object,
    ) -> None:
        """Append `event_type` (details never hold PHI) and write the new status with it, and
        the transition's notifications (`notify`) and the report it files or decides on
        (`report`, never in the details) in the same transaction. `acted_by` is the caller whose
        action this is; `actor` labels events of older claims and of the claim's own steps.
        `note`: what they wrote (a reason, notes), stored sealed with the event; only the
        activity's input carries it, so adding one changes no command (no patch)."""
        if cause:  # why the service released a booking; a recorded payload has none: no patch
            details["cause"] = cause
        # First: a reset since the last write branches the claim before anything is written.
        self._effects.current_lineage()
        notifications = [self._effects.notification(n) for n in notify]
        if not self._batched:
            for notification in notifications:
                await self._effects.send(notification)
        now = workflow.now()
        seq = self._state.next_event(now)
        status = self._state.status()
        self._publish(status)
        event = ClaimEvent(
            claim_id=status.claim_id,
            seq=seq,
            type=event_type,
            stage=status.stage,
            actor=acted_by.role.value if acted_by else actor,
            at=now,
            details=details,
            acted_by=acted_by,
        )
        write = ProjectionWrite(
            status=status,
            event=event,
            notifications=notifications if self._batched else [],
            report=report,
            appointment_changes=self._pending,
            lineage=self._state.lineage,
            note=note or None,
        )
        self._pending = []
        await self._effects.record(write)

    def _publish(self, status: ClaimStatus) -> None:
        """Search attributes and the UI's current details: what SREs filter and see."""
        shown = (
            status.stage,
            status.outcome,
            status.safety_hold,
            status.next_deadline,
            status.overdue,
        )
        if not self._lean or shown != self._published:
            workflow.upsert_search_attributes(search_attributes(status))
            self._published = shown
        workflow.set_current_details(summary(status, self._state.active_deadline()))


def search_attributes(status: ClaimStatus) -> list[SearchAttributeUpdate]:
    return [
        sa.CLAIM_STAGE.value_set(status.stage.value),
        sa.CLAIM_OUTCOME.value_set(status.outcome.value)
        if status.outcome
        else sa.CLAIM_OUTCOME.value_unset(),
        sa.JURISDICTION.value_set(status.jurisdiction),
        sa.INSURER_ID.value_set(status.insurer_id),
        sa.SAFETY_HOLD.value_set(status.safety_hold),
        sa.NEXT_DEADLINE.value_set(status.next_deadline)
        if status.next_deadline
        else sa.NEXT_DEADLINE.value_unset(),
        sa.OVERDUE.value_set(status.overdue),
    ]


def summary(status: ClaimStatus, upcoming: Deadline | None) -> str:
    """One line for the UI: stage, jurisdiction, outcome, lateness, the next deadline."""
    text = f"**{status.stage.value}** · {status.jurisdiction}"
    if status.outcome:
        text += f" · {status.outcome.value}"
    if status.overdue:
        text += " · OVERDUE"
    if upcoming:
        text += f" · {upcoming.name} due {upcoming.due_at.isoformat()}"
    return text
