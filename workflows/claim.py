"""ClaimWorkflow: one durable workflow per claim, REFERRAL to CLOSED.

What the claim *is* lives in `ClaimState` (pure, `domain.claim_state`); this class orchestrates:
the main loop (book, wait for the next action or deadline, close) and one thin Update handler per
human step (`preparing`, what a booked exam needs, registers its own). Each concern has a module:

- `booking`     the scheduling loop and ops' assignment (one booking at a time);
- `clock`       deadlines: computing them, reminders, breaches;
- `reporting`   the report: automatic QA, addenda, the reviewer's verdict;
- `safety_hold` risk screens, safety cases and the hold they put on the claim;
- `closing`     what every way of closing does: release the slot, tell everyone;
- `appealing`   a denial's appeal: the window after the close, the claim reopened in APPEAL;
- `operators`   what an operator's Temporal reset or cancellation does to the claim;
- `recorder`    the audit event + projection of every transition, search attributes;
- `effects`     every activity call, with one retry policy and one timeout table;
- `generation`  which behaviour (patch) this run follows.

A validator refuses what is illegal before anything reaches history (HTTP 409). A handler changes
the state before its first await, so the next action's validator sees the new stage. Actions that
collide with work in progress (a booking, a report checked) wait their turn and check again.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow

from workflows.appealing import Appealing
from workflows.booking import Booking
from workflows.clock import DeadlineClock
from workflows.closing import close_claim, withdraw
from workflows.deciding import Deciding
from workflows.effects import Effects, Notice
from workflows.escalation import Escalation
from workflows.generation import Generation
from workflows.lifespan import history_is_long
from workflows.operators import LineageWatch, OperatorDoors
from workflows.preparing import Preparing
from workflows.recorder import Recorder
from workflows.reporting import Reporting
from workflows.safety_hold import SafetyHold

with workflow.unsafe.imports_passed_through():
    from domain.claim_state import ClaimState
    from domain.continuation import ClaimContinuation, unpack
    from domain.ids import claim_id_from_workflow_id
    from domain.lifecycle import EXAM_HELD_TOLD, withdrawal_outcome
    from domain.models import (
        AppointmentRef,
        Assign,
        ClaimIntake,
        ClaimStatus,
        ConfirmAppointment,
        DeclineAppointment,
        ExamOutcome,
        ExamReport,
        RequestReportCopy,
        Reschedule,
        ReviewResult,
        SafetyConcern,
        Stage,
        Withdraw,
    )
    from domain.names import (
        Action,
        Actor,
        AppointmentStatus,
        DeadlineName,
        EventType,
        Query,
        Recipient,
        Template,
    )
    from domain.refusal import refuse


@workflow.defn
class ClaimWorkflow:
    @workflow.init
    def __init__(self, start: ClaimIntake | ClaimContinuation) -> None:
        intake, carried = unpack(start)
        info = workflow.info()
        self.state = carried or ClaimState.open(
            intake,
            claim_id=claim_id_from_workflow_id(info.workflow_id),
            workflow_id=info.workflow_id,
            at=info.workflow_start_time,
        )
        self._intake = intake
        # Read before the first command, as every landed version did (`run` asks the later).
        self._generation = generation = Generation.detect()
        state = self.state
        watch = LineageWatch(state)
        self._effects = effects = Effects(
            state.claim_id, local=generation.local_activities, lineage=watch.current
        )
        self._recorder = recorder = Recorder(state, effects, generation)
        self._clock = clock = DeadlineClock(
            state, effects, recorder, generation, escalate=lambda d: self._escalation.breach(d)
        )
        preparing = Preparing(state, intake, recorder, clock, generation)
        self._booking = Booking(state, intake, effects, recorder, clock, generation, preparing)
        self._safety = SafetyHold(state, effects, recorder, generation)
        self._reporting = Reporting(state, effects, recorder, clock, generation)
        self._escalation = Escalation(state, effects, recorder, clock, self._booking)
        self._appealing = Appealing(state, recorder, clock, generation)
        Deciding(state, recorder, clock, self._appealing)  # registers the decision's updates
        self._operators = OperatorDoors(state, recorder, generation, watch)

    # --- main loop ------------------------------------------------------------------------------

    @workflow.run
    async def run(self, start: ClaimIntake | ClaimContinuation) -> ClaimStatus:
        """`start`: the claim's intake, or the state of the run this one continues."""
        intake, carried = unpack(start)
        state, generation = self.state, self._generation
        if carried is None:
            state.profile = await self._effects.load_profile(intake.jurisdiction)
            await self._recorder.record(
                EventType.REFERRAL_RECEIVED,
                acted_by=intake.referred_by,
                jurisdiction=intake.jurisdiction,
                claim_type=intake.claim_type.value,
                specialty=intake.requested_specialty.value,
            )
            state.enter(Stage.SCHEDULING, workflow.now())
            self._booking.selecting.take_up()  # where the state picks, it waits for the state
        # These two patches are asked here, after the referral: where landed histories have them.
        if generation.escalation_chain() and carried is None:
            await self._clock.start_claim_clocks()
        continues = generation.continues_as_new()
        resets = asyncio.create_task(self._operators.record_resets())
        while True:  # round again when an appeal reopens the denied claim
            try:
                while not state.closed:
                    if continues and history_is_long() and await self._quiet():
                        workflow.continue_as_new(ClaimContinuation(intake=intake, state=state))
                    if state.needs_booking:
                        await self._booking.schedule()
                    else:
                        await self._clock.wait_for_progress()
            except asyncio.CancelledError:
                if state.closed or not await self._operators.withdraw_on_cancel():
                    raise
            # Let the closing action finish recording before the claim's own closing steps.
            await workflow.wait_condition(workflow.all_handlers_finished)
            await self._appealing.open_window()
            await close_claim(state, self._recorder, generation)
            await workflow.wait_condition(workflow.all_handlers_finished)
            if state.safety_hold and generation.hold_lifts_after_close():
                # Closed on hold: open until its cases end, so the lift is seen and held notices go.
                await workflow.wait_condition(lambda: not state.safety_hold)
                await self._recorder.record(
                    EventType.SAFETY_HOLD_LIFTED, actor=self._safety.ended_by
                )
            if not await self._appealing.awaited():
                break
        resets.cancel()
        return state.status()

    # --- scheduling -----------------------------------------------------------------------------

    @workflow.update(name=Action.ASSIGN)
    async def assign(self, assignment: Assign) -> ClaimStatus:
        """Ops choose the examiner: book with them, releasing an unconfirmed booking."""
        booked = await self._booking.book(
            wanted=lambda: self._still_allowed(Action.ASSIGN),
            examiner_id=assignment.examiner_id,
            acted_by=assignment.acted_by,
        )
        if not booked:
            raise refuse(self._booking.assign_refusal())
        return self.state.status()

    @assign.validator
    def _validate_assign(self, assignment: Assign) -> None:
        self.state.check(Action.ASSIGN, workflow.now())

    @workflow.update(name=Action.CONFIRM_APPOINTMENT)
    async def confirm_appointment(self, confirmation: ConfirmAppointment) -> ClaimStatus:
        state, profile = self.state, self.state.require_profile()
        seen = state.appointment
        async with self._booking.lock:
            self._recheck(Action.CONFIRM_APPOINTMENT, seen)
            appointment = state.confirm(workflow.now())
        await self._clock.start(
            Stage.EXAM, appointment.ends_at, {DeadlineName.EXAM_OUTCOME: profile.exam_grace}
        )
        if state.stage is Stage.EXAM:
            await self._recorder.record(
                EventType.APPOINTMENT_CONFIRMED,
                actor=Actor.EXAMINER,
                acted_by=confirmation.acted_by,
            )
        return state.status()

    @confirm_appointment.validator
    def _validate_confirm(self, confirmation: ConfirmAppointment) -> None:
        self.state.check(Action.CONFIRM_APPOINTMENT, workflow.now())

    @workflow.update(name=Action.DECLINE_APPOINTMENT)
    async def decline_appointment(self, decline: DeclineAppointment) -> ClaimStatus:
        """The examiner declines: release the slot; the main loop books the next examiner."""
        seen = self.state.appointment
        async with self._booking.lock:
            self._recheck(Action.DECLINE_APPOINTMENT, seen)
            declined, examiner_id = self.state.decline(workflow.now())
        await self._recorder.change_appointment(declined.id, AppointmentStatus.CANCELLED)
        await self._recorder.record(
            EventType.APPOINTMENT_DECLINED,
            actor=Actor.EXAMINER,
            acted_by=decline.acted_by,
            examiner_id=examiner_id,
            cause=decline.cause,
            note=decline.reason,
        )
        return self.state.status()

    @decline_appointment.validator
    def _validate_decline(self, decline: DeclineAppointment) -> None:
        self.state.check(Action.DECLINE_APPOINTMENT, workflow.now())

    @workflow.update(name=Action.RESCHEDULE)
    async def reschedule(self, request: Reschedule) -> ClaimStatus:
        """A new appointment is needed (claimant, examiner or ops ask): release this one."""
        seen = self.state.appointment
        async with self._booking.lock:
            self._recheck(Action.RESCHEDULE, seen)
            released = self.state.release_appointment(workflow.now())
        await self._recorder.change_appointment(released.id, AppointmentStatus.CANCELLED)
        await self._recorder.record(
            EventType.APPOINTMENT_RESCHEDULED,
            acted_by=request.acted_by,
            requested_by=request.requested_by,
            cause=request.cause,
            note=request.reason,
        )
        return self.state.status()

    @reschedule.validator
    def _validate_reschedule(self, request: Reschedule) -> None:
        self.state.check(Action.RESCHEDULE, workflow.now())

    # --- exam and report ------------------------------------------------------------------------

    @workflow.update(name=Action.EXAM)
    async def exam(self, outcome: ExamOutcome) -> ClaimStatus:
        state, profile = self.state, self.state.require_profile()
        assert state.appointment is not None
        appointment_id = state.appointment.id
        if outcome.attended:
            state.attended(workflow.now())
            await self._safety.screen(outcome.risk_screen, outcome.acted_by)
            if profile.report_due is not None:  # NY-NF: bounded by the decision clock instead
                await self._clock.start(
                    Stage.REPORT, workflow.now(), {DeadlineName.REPORT: profile.report_due}
                )
            await self._recorder.change_appointment(appointment_id, AppointmentStatus.ATTENDED)
            await self._recorder.record(
                EventType.EXAM_ATTENDED,
                actor=Actor.EXAMINER,
                acted_by=outcome.acted_by,
                notify=[
                    Notice(who, Template.EXAM_HELD_NOTICE, f"exam-held-{appointment_id}")
                    for who in EXAM_HELD_TOLD
                    if profile.exam_notice_within is not None  # FL-WC: told at once
                ],
            )
            return state.status()
        no_shows = state.no_show(workflow.now())
        await self._recorder.change_appointment(appointment_id, AppointmentStatus.NO_SHOW)
        on_file = state.stage is Stage.APPEAL  # the new IME on appeal missed: decided on the file
        await self._recorder.record(
            EventType.EXAM_NO_SHOW,
            actor=Actor.EXAMINER,
            acted_by=outcome.acted_by,
            notify=[Notice(Recipient.INSURER, Template.APPEAL_DECISION_NEEDED, "no-show")]
            if on_file
            else [],
            no_shows=no_shows,
        )
        return state.status()

    @exam.validator
    def _validate_exam(self, outcome: ExamOutcome) -> None:
        self.state.check(Action.EXAM, workflow.now())

    @workflow.update(name=Action.REPORT)
    async def report(self, report: ExamReport) -> ClaimStatus:
        await self._reporting.submit(
            report,
            question_count=len(self._intake.questions),
            recheck=lambda: self._recheck(Action.REPORT),
        )
        return self.state.status()

    @report.validator
    def _validate_report(self, report: ExamReport) -> None:
        self.state.check(Action.REPORT, workflow.now(), report)

    @workflow.update(name=Action.REVIEW)
    async def review(self, review: ReviewResult) -> ClaimStatus:
        if self.state.stage is Stage.APPEAL:
            await self._appealing.review(review)
        else:
            await self._reporting.review(review)
        return self.state.status()

    @review.validator
    def _validate_review(self, review: ReviewResult) -> None:
        self.state.check(Action.REVIEW, workflow.now(), review)

    @workflow.update(name=Action.REQUEST_REPORT_COPY)
    async def request_report_copy(self, request: RequestReportCopy) -> ClaimStatus:
        await self._reporting.request_copy(request)
        return self.state.status()

    @request_report_copy.validator
    def _validate_copy_request(self, request: RequestReportCopy) -> None:
        self._reporting.check_copy_request()

    # --- closing (the decision and its extension: `deciding`) -----------------------------------

    @workflow.update(name=Action.WITHDRAW)
    async def withdraw(self, withdrawal: Withdraw) -> ClaimStatus:
        await withdraw(
            self.state,
            self._recorder,
            outcome=withdrawal_outcome(withdrawal.acted_by),
            actor=Actor.REQUESTER,
            acted_by=withdrawal.acted_by,
            note=withdrawal.reason,
        )
        return self.state.status()

    @withdraw.validator
    def _validate_withdraw(self, withdrawal: Withdraw) -> None:
        self.state.check(Action.WITHDRAW, workflow.now())

    # --- safety ---------------------------------------------------------------------------------

    @workflow.update(name=Action.SAFETY_CONCERN)
    async def safety_concern(self, concern: SafetyConcern) -> ClaimStatus:
        if concern.level == "moderate":
            await self._safety.refer_to_treatment(concern.toward, concern.notes)
        else:
            await self._safety.raise_case(
                concern.toward, concern.notes, source="concern", acted_by=concern.acted_by
            )
        return self.state.status()

    @safety_concern.validator
    def _validate_concern(self, concern: SafetyConcern) -> None:
        self.state.check(Action.SAFETY_CONCERN, workflow.now())

    # --- queries --------------------------------------------------------------------------------
    @workflow.query(name=Query.CLAIM_STATUS)
    def status(self) -> ClaimStatus:
        return self.state.status()

    @workflow.query(name=Query.REFERRAL_QUESTIONS)
    def questions(self) -> list[str]:
        """The referral's questions, in the order the report answers them (nothing recorded)."""
        return list(self._intake.questions)

    @workflow.query(name=Query.OPEN_SAFETY_CASE)
    def open_safety_case(self) -> str | None:
        """The open safety case's workflow id, for routing clinicians' actions to it."""
        cases = self.state.open_safety_cases
        return cases[-1] if cases else None

    # --- helpers --------------------------------------------------------------------------------

    async def _quiet(self) -> bool:
        """Whether the claim may continue as new now: no action half done, and no safety case
        open (the claim watches its cases through their child handles, which stay with the run
        that started them)."""
        await workflow.wait_condition(workflow.all_handlers_finished)
        return not self.state.closed and not self.state.open_safety_cases

    def _still_allowed(self, action: Action) -> bool:
        self.state.check(action, workflow.now())
        return True

    def _recheck(self, action: Action, seen: AppointmentRef | None = None) -> None:
        """After waiting for a turn: the action must still be allowed, on the same appointment."""
        self.state.check(action, workflow.now())
        if seen is not None:
            self.state.check_same_appointment(seen)
