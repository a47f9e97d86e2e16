"""Getting a booked exam ready (`domain.preparation`, patch `exam-preparation`): the records lead
and the interpreter.

- A booking of a claim whose profile sets a records lead starts the `records_lead` deadline,
  counted back from the exam (TX-DD: 3 business days), unless the records are already in. The
  service tells the claim when a `records` document is stored (`records-received`, sent by
  `documents_service`, never by a caller): the deadline is met and the examiner told.
- A booking of a claim whose referral needs an interpreter holds the claimant's appointment
  notice and gives ops the task to book one; `interpreter-booked` sends the notice.

The handlers are registered here (not as decorated methods of `ClaimWorkflow`) so the claim's
class stays the orchestration it is; they follow its rules: the validator refuses before
anything reaches history, the handler changes the state before its first await.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

from workflows.clock import DeadlineClock
from workflows.effects import Notice
from workflows.generation import Generation
from workflows.recorder import Recorder
from workflows.registry import register

with workflow.unsafe.imports_passed_through():
    from domain.claim_state import ClaimState
    from domain.models import (
        ActionInput,
        AppointmentRef,
        ClaimIntake,
        ClaimStatus,
        ExaminerRef,
        InterpreterBooked,
        ProceedWithoutRecords,
        RecordsReceived,
        Stage,
    )
    from domain.names import (
        Action,
        DeadlineName,
        EventType,
        Recipient,
        ServiceUpdate,
        Template,
    )
    from domain.preparation import HeldNotice
    from domain.refusal import refuse

# What this module registers on the claim: update name -> payload model (the handlers' argument;
# tests hold every action to be an update of the workflow that owns it, these included).
UPDATES: dict[str, type[ActionInput]] = {
    ServiceUpdate.RECORDS_RECEIVED: RecordsReceived,
    Action.PROCEED_WITHOUT_RECORDS: ProceedWithoutRecords,
    Action.INTERPRETER_BOOKED: InterpreterBooked,
}

# Stages in which the examiner is told that records arrived (after the report, it is too late
# to matter to them, and the event still records the arrival).
_EXAMINER_WAITS = frozenset({Stage.SCHEDULING, Stage.EXAM, Stage.REPORT})


class Preparing:
    def __init__(
        self,
        state: ClaimState,
        intake: ClaimIntake,
        recorder: Recorder,
        clock: DeadlineClock,
        generation: Generation,
    ) -> None:
        self._state = state
        self._intake = intake
        self._recorder = recorder
        self._clock = clock
        self._generation = generation
        workflow.set_update_handler(
            ServiceUpdate.RECORDS_RECEIVED, self.records_received, validator=self._open
        )
        register(
            state,
            (
                (Action.PROCEED_WITHOUT_RECORDS, self.proceed_without_records),
                (Action.INTERPRETER_BOOKED, self.interpreter_booked),
            ),
        )

    def applies(self) -> bool:
        """Whether this booking prepares anything (asked by every booking; the patch is asked
        only where it would change something, so other claims' histories carry no marker)."""
        profile = self._state.require_profile()
        if profile.records_lead is None and not self._intake.claimant.interpreter_needed:
            return False
        return self._generation.exam_preparation()

    async def records_due(self, appointment: AppointmentRef) -> dict[str, datetime]:
        """The records lead of a new booking, counted back from its start (computed before the
        booking is published: the deadline starts with it); empty when none applies."""
        lead = self._state.require_profile().records_lead
        if lead is None or self._state.preparation.records_received_at is not None:
            return {}
        name = DeadlineName.RECORDS_LEAD.value
        return await self._clock.due_from(appointment.starts_at, {name: lead.before()})

    def notices(
        self, examiner: ExaminerRef, appointment: AppointmentRef, notices: tuple[Notice, ...]
    ) -> tuple[Notice, ...]:
        """The booking's notices: the claimant's held for the interpreter the referral asks
        for (ops get the task to book one instead, with the exam's time)."""
        if not self._intake.claimant.interpreter_needed:
            return notices
        kept = []
        for notice in notices:
            if notice.recipient is not Recipient.CLAIMANT:
                kept.append(notice)
                continue
            self._state.preparation.held_notice = HeldNotice(
                appointment_id=appointment.id, examiner_id=examiner.id, step=notice.step
            )
            details = {**notice.details, "starts_at": appointment.starts_at.isoformat()}
            kept.append(Notice(Recipient.OPS, Template.INTERPRETER_TO_BOOK, notice.step, details))
        return tuple(kept)

    def start_records_lead(self, appointment: AppointmentRef, due: dict[str, datetime]) -> None:
        """The booking is published: its records lead starts (when one applies)."""
        if due:
            self._state.set_deadlines(due, workflow.now())
            self._state.preparation.records_lead_for = appointment.id

    # --- updates --------------------------------------------------------------------------------

    async def records_received(self, arrival: RecordsReceived) -> ClaimStatus:
        state = self._state
        state.preparation.records_arrived(state.deadlines, workflow.now())
        examiner = state.examiner
        told = examiner is not None and state.stage in _EXAMINER_WAITS
        details = {"examiner_id": examiner.id if examiner else None}
        step = f"records-{arrival.document_id}"
        await self._recorder.record(
            EventType.RECORDS_RECEIVED,
            acted_by=arrival.acted_by,
            notify=[Notice(Recipient.EXAMINER, Template.RECORDS_RECEIVED, step, details)]
            if told
            else [],
            document_id=arrival.document_id,
        )
        return state.status()

    async def proceed_without_records(self, decision: ProceedWithoutRecords) -> ClaimStatus:
        state = self._state
        assert state.appointment is not None
        state.preparation.proceed_without_records(
            state.deadlines, state.appointment, workflow.now()
        )
        await self._recorder.record(
            EventType.RECORDS_LEAD_WAIVED,
            acted_by=decision.acted_by,
            note=decision.reason,
            appointment_id=state.appointment.id,
        )
        return state.status()

    async def interpreter_booked(self, booked: InterpreterBooked) -> ClaimStatus:
        state = self._state
        assert state.appointment is not None
        held = state.preparation.interpreter_booked(state.appointment)
        details = {
            "examiner_id": held.examiner_id,
            "appointment_id": held.appointment_id,
            "interpreter_booked": True,
        }
        await self._recorder.record(
            EventType.INTERPRETER_BOOKED,
            acted_by=booked.acted_by,
            notify=[Notice(Recipient.CLAIMANT, Template.APPOINTMENT_NOTICE, held.step, details)],
            appointment_id=held.appointment_id,
        )
        return state.status()

    # --- validators -----------------------------------------------------------------------------

    def _open(self, arrival: RecordsReceived) -> None:
        if self._state.closed or self._state.closing:
            raise refuse("the claim is closed")
