"""The claim's own closing steps, after the action that closed it (decision, withdrawal, the last
no-show) has recorded: release the slot, tell the insurer, the claimant and the examiner."""

from __future__ import annotations

from temporalio import workflow

from workflows.effects import Notice
from workflows.generation import Generation
from workflows.recorder import Recorder

with workflow.unsafe.imports_passed_through():
    from domain.claim_state import ClaimState
    from domain.models import Caller, Outcome
    from domain.names import Actor, AppointmentStatus, EventType, Recipient, Template


async def close_claim(state: ClaimState, recorder: Recorder, generation: Generation) -> None:
    # A claim closes twice when its denial was appealed: the second close's notices are new.
    step = "close" if state.appeal.received_at is None else "close-appeal"
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


async def withdraw(
    state: ClaimState,
    recorder: Recorder,
    *,
    outcome: Outcome,
    actor: Actor,
    acted_by: Caller | None = None,
    via: str | None = None,
    note: str | None = None,
) -> None:
    """Close the claim as withdrawn (by its insurer, ops, or an operator's cancellation): the
    slot released (compensation), the withdrawal recorded; the closing steps follow."""
    state.begin_closing()
    # A claim withdrawn in its first instants is registered first, so its timeline reads in
    # order.
    await workflow.wait_condition(lambda: state.seq > 0)
    appointment = state.appointment
    state.close(outcome, workflow.now())
    if appointment is not None:
        # Compensation: release the examiner's slot (no-op if the exam already happened).
        await recorder.change_appointment(appointment.id, AppointmentStatus.CANCELLED)
    if via is None:
        await recorder.record(EventType.CLAIM_WITHDRAWN, actor=actor, acted_by=acted_by, note=note)
    else:  # not a caller's action: how it came (an operator's cancellation)
        await recorder.record(EventType.CLAIM_WITHDRAWN, actor=actor, acted_by=acted_by, via=via)
