"""The claim's own closing steps, after the action that closed it (decision, withdrawal, the last
no-show) has recorded: release the slot, tell the insurer, the claimant and the examiner."""

from __future__ import annotations

from temporalio import workflow

from workflows.effects import Notice
from workflows.generation import Generation
from workflows.recorder import Recorder

with workflow.unsafe.imports_passed_through():
    from domain.claim_state import ClaimState
    from domain.names import AppointmentStatus, EventType, Recipient, Template


async def close_claim(state: ClaimState, recorder: Recorder, generation: Generation) -> None:
    step = "close"
    if state.appointment is not None:
        # Compensation for every way of closing: a slot still booked is released (no-op when the
        # exam took place or the slot was already released).
        await recorder.change_appointment(state.appointment.id, AppointmentStatus.CANCELLED)
    notify = [Notice(Recipient.INSURER, Template.CLAIM_CLOSED, step)]
    notices = state.closing_notices()
    if notices.deferred_notice:
        # No adverse notice reaches a claimant on safety hold. Claims that batch their
        # notifications queue it held (sent when the hold lifts); ops are told either way.
        details = {"notice": notices.deferred_notice}
        if generation.batched_notices:
            notify.append(Notice(Recipient.CLAIMANT, notices.deferred_notice, step, held=True))
        notify.append(Notice(Recipient.OPS, Template.ADVERSE_NOTICE_DEFERRED, step, details))
    elif notices.claimant_notice:
        notify.append(Notice(Recipient.CLAIMANT, notices.claimant_notice, step))
    if state.examiner is not None:
        notify.append(
            Notice(
                Recipient.EXAMINER,
                Template.CLAIM_CLOSED,
                step,
                {"examiner_id": state.examiner.id},
            )
        )
    outcome = state.outcome.value if state.outcome else None
    await recorder.record(EventType.CLAIM_CLOSED, notify=notify, outcome=outcome)
