"""The escalation chain (PRODUCT §3): what a claim does when one of its deadlines passes.

Every rung is a deadline of its own (`domain.lifecycle.DEADLINES`), so no wait is ever unbounded:
a breach tells those its rule names, may act (release an unconfirmed booking and book the next
examiner; replace a late examiner once), and starts the next rung, due a grace period after the
breached deadline. The last rung of each chain is ops', re-raised every grace period until the
stage is left. Claims from before the chain (unpatched) keep the single breach of `DeadlineClock`.
"""

from __future__ import annotations

from temporalio import workflow

from workflows.booking import Booking
from workflows.clock import DeadlineClock
from workflows.effects import Effects, Notice
from workflows.recorder import Recorder

with workflow.unsafe.imports_passed_through():
    from domain.appeal import REVIEW_DEADLINES
    from domain.claim_state import ClaimState
    from domain.lifecycle import DEADLINES, OnBreach
    from domain.models import Deadline, Stage
    from domain.names import AppointmentStatus, EventType, Recipient, Template
    from domain.selection import SELECTION_DEADLINES

# Deadlines of a phase within a stage: met when their step is taken, though the stage is not left.
_PHASE_DEADLINES = SELECTION_DEADLINES | REVIEW_DEADLINES


class Escalation:
    def __init__(
        self,
        state: ClaimState,
        effects: Effects,
        recorder: Recorder,
        clock: DeadlineClock,
        booking: Booking,
    ) -> None:
        self._state = state
        self._effects = effects
        self._recorder = recorder
        self._clock = clock
        self._booking = booking

    async def breach(self, deadline: Deadline) -> None:
        """`deadline` passed while it was the claim's active one."""
        rule = DEADLINES[deadline.name]
        if rule.on_breach is OnBreach.REBOOK:
            await self._rebook(deadline)
        elif rule.on_breach is OnBreach.REPLACE_EXAMINER and not self._state.examiner_replaced:
            await self._replace_examiner(deadline)
        elif rule.on_breach is OnBreach.CLOSE_PANEL_WINDOW:
            await self._booking.selecting.window_closed(deadline)
        else:
            await self._tell(deadline)

    async def _tell(self, deadline: Deadline) -> None:
        """Tell those the rule names (an inbox item each) and start the next rung."""
        state = self._state
        rule = DEADLINES[deadline.name]
        stage = state.stage
        state.mark_breached(deadline)
        raised = state.count_escalation(deadline)
        step = f"breach-{deadline.name}-{raised}"
        notify = [Notice(who, Template.DEADLINE_BREACHED, step) for who in rule.told]
        next_rung: str | None = None
        if rule.then is not None:
            grace = getattr(state.require_profile(), rule.after)
            due = await self._clock.due_from(deadline.due_at, {rule.then.value: grace})
            # A step of the state's pick (or the review on appeal) met while the rung was
            # counted ends its chain (its phase is over, the stage is not); other deadlines end
            # with their stage.
            if not (deadline.name in _PHASE_DEADLINES and deadline.met_at is not None):
                state.start_rung(rule.then, due[rule.then.value], workflow.now(), stage)
                next_rung = rule.then.value
        await self._recorder.record(
            EventType.DEADLINE_BREACHED,
            notify=notify,
            deadline=deadline.name,
            owner=rule.owner,
            told=[who.value for who in rule.told],
            raised=raised,
            next_rung=next_rung,
        )

    async def _rebook(self, deadline: Deadline) -> None:
        """An appointment unconfirmed past its window: it must not hold the examiner's capacity.
        Released, and the main loop books the next examiner."""
        state = self._state
        async with self._booking.lock:
            if state.active_deadline() is not deadline or state.stage is not Stage.SCHEDULING:
                return  # confirmed, declined or re-booked while this waited its turn
            state.mark_breached(deadline)
            released, examiner_id = state.expire_booking(workflow.now())
        await self._recorder.change_appointment(released.id, AppointmentStatus.CANCELLED)
        cancelled = Notice(
            Recipient.EXAMINER,
            Template.APPOINTMENT_CANCELLED,
            f"expired-{released.id}",
            {"examiner_id": examiner_id, "appointment_id": released.id},
        )
        await self._recorder.record(
            EventType.APPOINTMENT_EXPIRED,
            notify=[cancelled],
            deadline=deadline.name,
            examiner_id=examiner_id,
        )

    async def _replace_examiner(self, deadline: Deadline) -> None:
        """The report is late past the grace: release the examiner (their late report is refused
        from now on) and book a new exam with someone else (CA 8 CCR 38 style), once."""
        state = self._state
        state.mark_breached(deadline)
        state.count_escalation(deadline)
        examiner_id = state.replace_examiner(workflow.now())
        details = {"examiner_id": examiner_id}
        notify = [
            Notice(Recipient.EXAMINER, Template.EXAMINER_RELEASED, "replaced", details),
            Notice(Recipient.OPS, Template.DEADLINE_BREACHED, f"breach-{deadline.name}-1"),
        ]
        await self._recorder.record(
            EventType.EXAMINER_REPLACED,
            notify=notify,
            deadline=deadline.name,
            examiner_id=examiner_id,
        )
