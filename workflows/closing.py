"""The claim's own closing steps, after the action that closed it (decision, withdrawal, the last
no-show) has recorded: release the slot, tell the insurer, the claimant and the examiner."""

from __future__ import annotations

from temporalio import workflow

from workflows.effects import Effects
from workflows.recorder import Recorder

with workflow.unsafe.imports_passed_through():
    from domain.claim_state import ClaimState
    from domain.names import AppointmentStatus, EventType, Recipient, Template


async def close_claim(state: ClaimState, effects: Effects, recorder: Recorder) -> None:
    step = "close"
    if state.appointment is not None:
        # Compensation for every way of closing: a slot still booked is released (no-op when the
        # exam took place or the slot was already released).
        await effects.set_appointment_status(state.appointment.id, AppointmentStatus.CANCELLED)
    await effects.notify(Recipient.INSURER, Template.CLAIM_CLOSED, step)
    notices = state.closing_notices()
    if notices.deferred_notice:
        # No adverse notice reaches a claimant on safety hold; ops send it when it is safe.
        details = {"notice": notices.deferred_notice}
        await effects.notify(Recipient.OPS, Template.ADVERSE_NOTICE_DEFERRED, step, details)
    elif notices.claimant_notice:
        await effects.notify(Recipient.CLAIMANT, notices.claimant_notice, step)
    if state.examiner is not None:
        await effects.notify(Recipient.EXAMINER, Template.CLAIM_CLOSED, step)
    outcome = state.outcome.value if state.outcome else None
    await recorder.record(EventType.CLAIM_CLOSED, outcome=outcome)
