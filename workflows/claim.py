"""ClaimWorkflow: one durable workflow per claim, REFERRAL to CLOSED.

Human steps are Updates with validators: a validator rejects an action that is illegal in the
current stage before anything is written to history, and a handler changes the stage
synchronously before it awaits anything, so the next action sees the new stage at once.
The main loop owns everything nobody asks for: scheduling, deadline watching and closing.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ChildWorkflowError
from temporalio.workflow import ParentClosePolicy

from workflows.refusal import refuse
from workflows.safety import SafetyEscalationWorkflow

with workflow.unsafe.imports_passed_through():
    from domain import contracts
    from domain.ids import claim_id_from_workflow_id
    from domain.models import (
        AppointmentRef,
        Assign,
        ClaimEvent,
        ClaimStatus,
        ConfirmAppointment,
        Deadline,
        DecisionInput,
        DecisionRecord,
        DeclineAppointment,
        ExaminerRef,
        ExamOutcome,
        ExamReport,
        ExtendDecision,
        Notification,
        Outcome,
        ProjectionWrite,
        Recommendation,
        Referral,
        Reschedule,
        ReviewResult,
        SafetyCase,
        SafetyConcern,
        ScheduleRequest,
        Stage,
        Withdraw,
    )
    from domain.profiles import Duration, JurisdictionProfile

SA_STAGE = SearchAttributeKey.for_keyword("ClaimStage")
SA_OUTCOME = SearchAttributeKey.for_keyword("ClaimOutcome")
SA_JURISDICTION = SearchAttributeKey.for_keyword("Jurisdiction")
SA_INSURER = SearchAttributeKey.for_keyword("InsurerId")
SA_SAFETY_HOLD = SearchAttributeKey.for_bool("SafetyHold")
SA_NEXT_DEADLINE = SearchAttributeKey.for_datetime("NextDeadline")
SA_OVERDUE = SearchAttributeKey.for_bool("Overdue")
SEARCH_ATTRIBUTES = (
    SA_STAGE,
    SA_OUTCOME,
    SA_JURISDICTION,
    SA_INSURER,
    SA_SAFETY_HOLD,
    SA_NEXT_DEADLINE,
    SA_OVERDUE,
)

# Activities retry until they succeed: a claim waits out a database outage rather than failing.
_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
_ACTIVITY_TIMEOUT = timedelta(seconds=30)

# Which stage each deadline belongs to, and who is told when it passes.
_DEADLINE_STAGE = {
    "appointment_confirmation": Stage.SCHEDULING,
    "exam_outcome": Stage.EXAM,
    "report": Stage.REPORT,
    "review": Stage.REVIEW,
    "decision": Stage.DECISION,
}
_CLAIMANT_NOTICE = {
    Outcome.APPROVED: "decision_notice",
    Outcome.DENIED: "decision_notice",
    Outcome.WITHDRAWN: "withdrawal_notice",
    Outcome.NON_COOPERATION: "non_cooperation_notice",
    Outcome.CANCELLED_BY_OPS: "cancellation_notice",
}


def _update_step() -> str:
    """A notification step unique to the current action (its update id)."""
    info = workflow.current_update_info()
    return f"update-{info.id}" if info else f"at-{workflow.now().isoformat()}"


_ADVERSE = (Outcome.DENIED, Outcome.NON_COOPERATION)
_DEADLINE_OWNER = {
    "appointment_confirmation": "examiner",
    "exam_outcome": "ops",
    "report": "examiner",
    "review": "reviewer",
    "decision": "insurer",
}


@workflow.defn
class ClaimWorkflow:
    @workflow.init
    def __init__(self, referral: Referral) -> None:
        info = workflow.info()
        self._referral = referral
        self._claim_id = claim_id_from_workflow_id(info.workflow_id)
        self._profile: JurisdictionProfile | None = None
        self._stage = Stage.REFERRAL
        self._outcome: Outcome | None = None
        self._closing = False
        self._examiner: ExaminerRef | None = None
        self._appointment: AppointmentRef | None = None
        self._deadlines: dict[str, Deadline] = {}
        self._decision: DecisionRecord | None = None
        self._recommendation: Recommendation | None = None
        self._assessing_report = False
        self._addenda = 0
        self._no_shows = 0
        self._attempt = 0
        self._awaiting_examiner = False
        self._booking = False
        self._declined_by: set[str] = set()
        self._decision_extensions = 0
        self._open_safety_cases: list[str] = []
        self._safety_watchers: set[asyncio.Task] = set()
        self._extending = False
        self._safety_case_count = 0
        self._seq = 0
        self._created_at = info.workflow_start_time
        self._updated_at = info.workflow_start_time

    # --- main loop ----------------------------------------------------------------------------

    @workflow.run
    async def run(self, referral: Referral) -> ClaimStatus:
        self._profile = await self._activity(
            contracts.LOAD_PROFILE, referral.jurisdiction, result_type=JurisdictionProfile
        )
        await self._record(
            "referral_received",
            jurisdiction=referral.jurisdiction,
            claim_type=referral.claim_type.value,
            specialty=referral.requested_specialty.value,
        )
        self._enter(Stage.SCHEDULING)
        while self._stage is not Stage.CLOSED:
            if self._stage is Stage.SCHEDULING and self._appointment is None:
                await self._schedule()
            else:
                await self._wait_for_progress()
        # Let the closing action finish recording before the claim's own closing steps.
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._close()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._status()

    async def _schedule(self) -> None:
        """Book an examiner; without an eligible one, tell ops once and retry with backoff."""
        profile = self._require_profile()
        retry = profile.scheduling_retry.as_timedelta()
        while self._needs_booking():
            # An ops assignment may be booking right now: never book twice.
            await workflow.wait_condition(lambda: not self._booking)
            if not self._needs_booking() or await self._book_and_publish():
                continue
            if self._stage is not Stage.SCHEDULING:
                return
            if not self._awaiting_examiner:
                self._awaiting_examiner = True
                await self._notify("ops", "no_examiner_available", f"no-examiner-{self._attempt}")
                await self._record("no_examiner_available", attempt=self._attempt)
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: not self._needs_booking(), timeout=retry)
            retry = min(retry * 2, profile.scheduling_retry.as_timedelta() * 8)

    def _needs_booking(self) -> bool:
        return self._stage is Stage.SCHEDULING and self._appointment is None

    async def _book_and_publish(
        self, *, only_examiner_id: str | None = None, event: str = "appointment_booked"
    ) -> bool:
        """Book a slot (with `only_examiner_id` when ops assign one), tell the parties, then show
        the booking. Exclusive: `_booking` keeps a second booking from starting meanwhile."""
        profile = self._require_profile()
        claimant = self._referral.claimant
        self._booking = True
        try:
            self._attempt += 1
            attempt = self._attempt
            earliest = (await self._due_from(workflow.now(), notice=profile.notice_lead))["notice"]
            result = await self._activity(
                contracts.SCHEDULE_EXAM,
                ScheduleRequest(
                    claim_id=self._claim_id,
                    attempt=attempt,
                    specialty=self._referral.requested_specialty,
                    licence_state=profile.examiner_licence_state(claimant.address.state),
                    claimant_name=claimant.full_name,
                    claimant_dob=claimant.date_of_birth,
                    treating_provider_npis=claimant.treating_provider_npis,
                    earliest_start=earliest,
                    duration_seconds=int(profile.exam_duration.as_timedelta().total_seconds()),
                    business_hours=profile.business_hours,
                    timezone=profile.timezone,
                    exclude_examiner_ids=sorted(self._declined_by),
                    only_examiner_id=only_examiner_id,
                ),
                result_type=contracts.ScheduleResult,
            )
            if not (result.booked and result.examiner and result.appointment):
                return False
            examiner, appointment = result.examiner, result.appointment
            due = await self._due_from(workflow.now(), appointment_confirmation=profile.confirm_due)
            if self._stage is Stage.SCHEDULING:
                step = f"appointment-{attempt}"
                await self._notify("claimant", "appointment_notice", step)
                await self._notify("examiner", "appointment_request", step)
            if self._stage is not Stage.SCHEDULING:
                # Withdrawn while the slot was being booked: release it.
                await self._set_appointment_status(appointment.id, "cancelled")
                return True
            # Published only now, with its record: actions on the appointment need it complete.
            replaced = self._appointment
            self._awaiting_examiner = False
            self._enter(Stage.SCHEDULING)  # the previous booking's confirmation window is over
            self._examiner, self._appointment = examiner, appointment
            self._set_deadlines(due)
        finally:
            self._booking = False
        if replaced is not None:
            await self._set_appointment_status(replaced.id, "cancelled")
            await self._notify("examiner", "appointment_cancelled", f"replaced-{replaced.id}")
        await self._record(
            event,
            actor="ops" if only_examiner_id else "system",
            examiner_id=examiner.id,
            starts_at=appointment.starts_at.isoformat(),
            attempt=attempt,
        )
        return True

    async def _wait_for_progress(self) -> None:
        """Wait for the next action; when the stage's deadline passes first, tell its owner."""
        seen, stage = self._seq, self._stage
        deadline = self._active_deadline()
        if deadline is None:
            await workflow.wait_condition(lambda: self._seq != seen or self._stage is not stage)
            return
        remind = deadline.remind_at if not deadline.reminded else None
        wake_at = min(deadline.due_at, remind) if remind else deadline.due_at
        remaining = wake_at - workflow.now()
        if remaining > timedelta(0):
            try:
                await workflow.wait_condition(
                    lambda: self._seq != seen or self._stage is not stage, timeout=remaining
                )
                return
            except TimeoutError:
                pass
        if self._active_deadline() is not deadline:
            return
        if workflow.now() < deadline.due_at:
            await self._remind(deadline)
        else:
            await self._breach(deadline)

    async def _remind(self, deadline: Deadline) -> None:
        deadline.reminded = True
        owner = _DEADLINE_OWNER[deadline.name]
        step = f"remind-{deadline.name}-{deadline.due_at.isoformat()}"
        await self._notify(
            owner, "deadline_reminder", step, {"due_at": deadline.due_at.isoformat()}
        )

    async def _breach(self, deadline: Deadline) -> None:
        deadline.breached = True
        owner = _DEADLINE_OWNER[deadline.name]
        step = f"breach-{deadline.name}-{self._seq}"
        await self._notify(owner, "deadline_breached", step)
        if owner != "ops":
            await self._notify("ops", "deadline_breached", step)
        await self._record("deadline_breached", deadline=deadline.name, owner=owner)

    async def _close(self) -> None:
        step = "close"
        if self._appointment is not None:
            # Compensation for every way of closing: a slot still booked is released (no-op when
            # the exam took place or the slot was already released).
            await self._set_appointment_status(self._appointment.id, "cancelled")
        await self._notify("insurer", "claim_closed", step)
        notice = _CLAIMANT_NOTICE.get(self._outcome) if self._outcome else None
        if notice and self._open_safety_cases and self._outcome in _ADVERSE:
            # No adverse notice reaches a claimant on safety hold; ops send it when it is safe.
            await self._notify("ops", "adverse_notice_deferred", step, {"notice": notice})
        elif notice:
            await self._notify("claimant", notice, step)
        if self._examiner is not None:
            await self._notify("examiner", "claim_closed", step)
        await self._record("claim_closed", outcome=self._outcome.value if self._outcome else None)

    # --- human steps --------------------------------------------------------------------------
    # Each handler changes the stage before its first await: the validator of the next action
    # (run in the same workflow task) sees it, so two concurrent actions cannot both pass.

    @workflow.update(name="confirm-appointment")
    async def confirm_appointment(self, _: ConfirmAppointment) -> ClaimStatus:
        profile = self._require_profile()
        assert self._appointment is not None
        self._enter(Stage.EXAM)
        due = await self._due_from(self._appointment.ends_at, exam_outcome=profile.exam_grace)
        if self._stage is Stage.EXAM:
            self._set_deadlines(due)
            await self._record("appointment_confirmed", actor="examiner")
        return self._status()

    @confirm_appointment.validator
    def _validate_confirm(self, _: ConfirmAppointment) -> None:
        self._require_stage(Stage.SCHEDULING)
        self._require_not_booking()
        self._require_appointment()

    @workflow.update(name="exam")
    async def exam(self, outcome: ExamOutcome) -> ClaimStatus:
        profile = self._require_profile()
        assert self._appointment is not None
        appointment_id = self._appointment.id
        if outcome.attended:
            self._enter(Stage.REPORT)
            await self._escalate_risk(outcome)
            due = await self._due_from(workflow.now(), report=profile.report_due)
            if self._stage is Stage.REPORT:
                self._set_deadlines(due)
            await self._set_appointment_status(appointment_id, "attended")
            await self._record("exam_attended", actor="examiner")
            return self._status()
        self._no_shows += 1
        if self._no_shows > profile.max_no_shows:
            self._outcome = Outcome.NON_COOPERATION
            self._enter(Stage.CLOSED)
        else:
            # Back to scheduling: the main loop books the next appointment.
            self._enter(Stage.SCHEDULING)
            self._appointment = None
        no_shows = self._no_shows
        await self._set_appointment_status(appointment_id, "no_show")
        await self._record("exam_no_show", actor="examiner", no_shows=no_shows)
        return self._status()

    @exam.validator
    def _validate_exam(self, _: ExamOutcome) -> None:
        self._require_stage(Stage.EXAM)
        assert self._appointment is not None
        if workflow.now() < self._appointment.starts_at:
            raise refuse("the exam outcome can be recorded only once the appointment has started")

    async def _escalate_risk(self, outcome: ExamOutcome) -> None:
        """A positive risk screen: moderate -> referral to treatment; imminent -> safety case."""
        screen = outcome.risk_screen
        if screen.level == "moderate":
            await self._refer_to_treatment(screen.toward, screen.notes)
        elif screen.level == "imminent":
            # Unknown direction is treated as a risk to others: the duty to protect applies.
            await self._raise_safety_case(screen.toward or "others", screen.notes, "exam")

    async def _refer_to_treatment(self, toward: str | None, notes: str) -> None:
        # The screen's detail goes only to the outbox (the database), never to the audit log.
        details = {"level": "moderate", "toward": toward, "notes": notes}
        await self._notify("clinician", "referral_to_treatment", _update_step(), details)

    async def _raise_safety_case(self, toward: str, notes: str, source: str) -> None:
        """Hold the claim and start the escalation (it survives the claim's closing). One case at
        a time: a further concern while one is open re-pages the clinician on that case."""
        profile = self._require_profile()
        details = {"level": "imminent", "toward": toward, "notes": notes}
        if self._open_safety_cases:
            await self._notify("clinician", "safety_page", _update_step(), details)
            return
        self._safety_case_count += 1
        case_id = f"{workflow.info().workflow_id}-safety-{self._safety_case_count}"
        self._open_safety_cases.append(case_id)
        case = await workflow.start_child_workflow(
            SafetyEscalationWorkflow.run,
            SafetyCase(
                claim_id=self._claim_id,
                level="imminent",
                toward=toward,
                source=source,
                notes=notes,
                ack_seconds=int(profile.safety_ack.as_timedelta().total_seconds()),
            ),
            id=case_id,
            parent_close_policy=ParentClosePolicy.ABANDON,
        )
        watcher = asyncio.create_task(self._watch_safety_case(case, case_id))
        self._safety_watchers.add(watcher)
        watcher.add_done_callback(self._safety_watchers.discard)
        await self._record("safety_hold_placed", actor="system")

    async def _watch_safety_case(self, case, case_id: str) -> None:
        """The hold lifts when the case ends: resolved by a clinician, or (terminated, failed)
        with ops and the medical director told so that nothing is held without an owner."""
        try:
            await case
        except ChildWorkflowError:
            details = {"case": case_id}
            await self._notify("ops", "safety_case_ended_unresolved", case_id, details)
            await self._notify("medical_director", "safety_case_ended_unresolved", case_id, details)
        self._open_safety_cases.remove(case_id)
        if not self._open_safety_cases and self._stage is not Stage.CLOSED:
            await self._record("safety_hold_lifted", actor="clinician")

    @workflow.update(name="safety-concern")
    async def safety_concern(self, concern: SafetyConcern) -> ClaimStatus:
        if concern.level == "moderate":
            await self._refer_to_treatment(concern.toward, concern.notes)
        else:
            await self._raise_safety_case(concern.toward, concern.notes, "concern")
        return self._status()

    @safety_concern.validator
    def _validate_concern(self, _: SafetyConcern) -> None:
        self._require_profile()
        if self._stage is Stage.CLOSED or self._closing:
            raise refuse("the claim is closed")

    @workflow.query(name="safety_case")
    def open_safety_case(self) -> str | None:
        """The open safety case's workflow id, for routing clinicians' actions to it."""
        return self._open_safety_cases[-1] if self._open_safety_cases else None

    @workflow.update(name="report")
    async def report(self, report: ExamReport) -> ClaimStatus:
        profile = self._require_profile()
        self._assessing_report = True
        try:
            # Rules run in an activity: a checklist change never alters a replayed claim.
            assessment = await self._activity(
                contracts.ASSESS_REPORT,
                contracts.ReportAssessmentRequest(
                    report=report, question_count=len(self._referral.questions)
                ),
                result_type=contracts.ReportAssessment,
            )
        finally:
            self._assessing_report = False
        if self._stage is not Stage.REPORT:
            return self._status()  # withdrawn meanwhile
        findings = assessment.findings
        if findings and self._addenda < profile.max_addenda:
            # Automatic QA failed: the examiner gets an addendum request, the stage stays REPORT.
            await self._request_addendum("report_qa_failed", actor="examiner", findings=findings)
            return self._status()
        self._recommendation = assessment.recommendation
        self._enter(Stage.REVIEW)
        due = await self._due_from(workflow.now(), review=profile.review_sla)
        if self._stage is Stage.REVIEW:
            self._set_deadlines(due)
        if findings:
            await self._notify("ops", "qa_addenda_exhausted", f"qa-exhausted-{self._addenda}")
        if profile.claimant_gets_report == "same_day":
            await self._notify("claimant", "report_copy", "report-filed")
        await self._record("report_submitted", actor="examiner", qa_findings=findings)
        return self._status()

    @report.validator
    def _validate_report(self, _: ExamReport) -> None:
        self._require_stage(Stage.REPORT)
        if self._assessing_report:
            raise refuse("a report for this claim is being checked; retry in a moment")

    @workflow.update(name="review")
    async def review(self, review: ReviewResult) -> ClaimStatus:
        profile = self._require_profile()
        if review.result == "addendum_requested":
            # Reasons are free text: only their count goes to the audit log.
            await self._request_addendum(
                "addendum_requested", actor="reviewer", reasons=len(review.reasons)
            )
            return self._status()
        self._enter(Stage.DECISION)
        due = await self._due_from(workflow.now(), decision=profile.decision_due)
        if self._stage is Stage.DECISION:
            self._set_deadlines(due)
        await self._notify("insurer", "report_available", "report-accepted")
        if profile.claimant_gets_report == "yes":
            await self._notify("claimant", "report_copy", "report-accepted")
        await self._record(
            "report_accepted",
            actor="reviewer",
            recommendation=self._recommendation.value if self._recommendation else None,
        )
        return self._status()

    async def _request_addendum(self, event: str, *, actor: str, **details: object) -> None:
        """Back to REPORT with a new, shorter report deadline; the examiner is told."""
        profile = self._require_profile()
        self._addenda += 1
        addendum = self._addenda
        self._enter(Stage.REPORT)
        due = await self._due_from(workflow.now(), report=profile.escalation_grace)
        if self._stage is Stage.REPORT:
            self._set_deadlines(due)
        await self._notify("examiner", "addendum_request", f"addendum-{addendum}")
        await self._record(event, actor=actor, addendum=addendum, **details)

    @review.validator
    def _validate_review(self, review: ReviewResult) -> None:
        self._require_stage(Stage.REVIEW)
        profile = self._require_profile()
        if review.result == "addendum_requested" and self._addenda >= profile.max_addenda:
            raise refuse(
                f"the addendum limit ({profile.max_addenda}) is reached; accept the report or "
                "escalate to operations"
            )

    @workflow.update(name="decision")
    async def decision(self, decision: DecisionInput) -> ClaimStatus:
        self._decision = DecisionRecord(
            outcome=decision.outcome, reason_code=decision.reason_code, decided_at=workflow.now()
        )
        self._outcome = Outcome(decision.outcome)
        self._enter(Stage.CLOSED)
        await self._record(
            "decision_issued",
            actor="insurer",
            outcome=decision.outcome,
            reason_code=decision.reason_code,
        )
        return self._status()

    @decision.validator
    def _validate_decision(self, _: DecisionInput) -> None:
        self._require_stage(Stage.DECISION)
        if self._open_safety_cases:
            raise refuse("a decision cannot be issued while the claim is on safety hold")

    @workflow.update(name="withdraw")
    async def withdraw(self, withdrawal: Withdraw) -> ClaimStatus:
        self._closing = True
        # A claim withdrawn in its first instants is registered first, so its timeline reads
        # in order.
        await workflow.wait_condition(lambda: self._seq > 0)
        appointment = self._appointment
        self._outcome = Outcome.WITHDRAWN
        self._enter(Stage.CLOSED)
        if appointment is not None:
            # Compensation: release the examiner's slot (no-op if the exam already happened).
            await self._set_appointment_status(appointment.id, "cancelled")
        await self._record("claim_withdrawn", actor="requester")
        return self._status()

    @withdraw.validator
    def _validate_withdraw(self, _: Withdraw) -> None:
        if self._stage is Stage.CLOSED or self._closing:
            raise refuse("the claim is already closed")

    @workflow.update(name="assign")
    async def assign(self, assignment: Assign) -> ClaimStatus:
        """Ops choose the examiner: book with them, releasing an unconfirmed booking."""
        booked = await self._book_and_publish(
            only_examiner_id=assignment.examiner_id, event="examiner_assigned"
        )
        if not booked:
            raise refuse(
                f"examiner {assignment.examiner_id} cannot take this claim (not on the panel, "
                "not active, wrong specialty or licence, a conflict with the claimant, or no "
                "capacity)"
            )
        return self._status()

    @assign.validator
    def _validate_assign(self, _: Assign) -> None:
        self._require_stage(Stage.SCHEDULING)
        self._require_not_booking()

    @workflow.update(name="decline-appointment")
    async def decline_appointment(self, _: DeclineAppointment) -> ClaimStatus:
        """The examiner declines: release the slot; the main loop books the next examiner."""
        assert self._appointment is not None and self._examiner is not None
        declined, examiner_id = self._appointment, self._examiner.id
        self._declined_by.add(examiner_id)
        self._enter(Stage.SCHEDULING)
        self._appointment = self._examiner = None
        await self._set_appointment_status(declined.id, "cancelled")
        await self._record("appointment_declined", actor="examiner", examiner_id=examiner_id)
        return self._status()

    @decline_appointment.validator
    def _validate_decline(self, _: DeclineAppointment) -> None:
        self._require_stage(Stage.SCHEDULING)
        self._require_not_booking()
        self._require_appointment()

    @workflow.update(name="reschedule")
    async def reschedule(self, request: Reschedule) -> ClaimStatus:
        """A new appointment is needed (claimant, examiner or ops ask): release this one."""
        assert self._appointment is not None
        released = self._appointment
        self._enter(Stage.SCHEDULING)
        self._appointment = None
        await self._set_appointment_status(released.id, "cancelled")
        await self._record("appointment_rescheduled", requested_by=request.requested_by)
        return self._status()

    @reschedule.validator
    def _validate_reschedule(self, _: Reschedule) -> None:
        self._require_stage(Stage.SCHEDULING, Stage.EXAM)
        self._require_not_booking()
        self._require_appointment()

    @workflow.update(name="extend-decision")
    async def extend_decision(self, extension: ExtendDecision) -> ClaimStatus:
        """Extend the decision deadline (ERISA: up to two 30-day extensions, each with a reason,
        and the claimant is told)."""
        profile = self._require_profile()
        self._extending = True
        try:
            self._decision_extensions += 1
            used = self._decision_extensions
            current = self._deadlines["decision"]  # the validator made sure it exists
            due = await self._due_from(current.due_at, decision=profile.decision_extension)
            if self._stage is Stage.DECISION:
                self._set_deadlines(due)
        finally:
            self._extending = False
        await self._notify(
            "claimant",
            "decision_extension_notice",
            f"extension-{used}",
            {"reason": extension.reason},
        )
        await self._record("decision_extended", actor="insurer", extension=used)
        return self._status()

    @extend_decision.validator
    def _validate_extend(self, _: ExtendDecision) -> None:
        self._require_stage(Stage.DECISION)
        profile = self._require_profile()
        if self._extending or "decision" not in self._deadlines:
            raise refuse("the decision deadline is being updated; retry in a moment")
        if self._decision_extensions >= profile.decision_extensions:
            raise refuse(
                f"no decision extension left under {profile.name} "
                f"({profile.decision_extensions} allowed)"
            )

    @workflow.query
    def status(self) -> ClaimStatus:
        return self._status()

    # --- helpers ------------------------------------------------------------------------------

    def _enter(self, stage: Stage) -> None:
        """Move to `stage`; the deadlines of the stage being left are met from now on."""
        if self._stage is Stage.CLOSED:
            return  # nothing reopens a closed claim
        now = workflow.now()
        for deadline in self._deadlines.values():
            if deadline.met_at is None and _DEADLINE_STAGE[deadline.name] is self._stage:
                deadline.met_at = now
        self._stage = stage
        if stage is Stage.CLOSED:
            self._closing = True

    def _require_stage(self, *stages: Stage) -> None:
        if self._stage not in stages:
            expected = " or ".join(s.value for s in stages)
            raise refuse(f"not allowed in stage {self._stage.value}; allowed in {expected}")
        if self._closing:
            raise refuse("the claim is closing")

    def _require_appointment(self) -> None:
        if self._appointment is None:
            raise refuse("no appointment is booked yet")

    def _require_not_booking(self) -> None:
        if self._booking:
            raise refuse("an appointment is being booked for this claim; retry in a moment")

    def _require_profile(self) -> JurisdictionProfile:
        if self._profile is None:
            # Only in the first instants of a claim, before its profile is loaded.
            raise refuse("the claim is still being registered")
        return self._profile

    def _active_deadline(self) -> Deadline | None:
        """The current stage's pending deadline, if any."""
        active = [
            d
            for d in self._deadlines.values()
            if d.met_at is None and not d.breached and _DEADLINE_STAGE[d.name] is self._stage
        ]
        return min(active, key=lambda d: d.due_at, default=None)

    def _overdue(self) -> bool:
        return self._stage is not Stage.CLOSED and any(
            d.breached and d.met_at is None for d in self._deadlines.values()
        )

    def _set_deadlines(self, due: dict[str, datetime]) -> None:
        profile = self._require_profile()
        now = workflow.now()
        for name, at in due.items():
            remind_at = now + (at - now) * profile.reminder_fraction if at > now else None
            self._deadlines[name] = Deadline(name=name, due_at=at, remind_at=remind_at)

    async def _due_from(self, start: datetime, **durations: Duration) -> dict[str, datetime]:
        profile = self._require_profile()
        result = await self._activity(
            contracts.COMPUTE_DEADLINES,
            contracts.DeadlineRequest(
                start=start,
                durations=durations,
                state=profile.examiner_licence_state(self._referral.claimant.address.state),
                timezone=profile.timezone,
            ),
            result_type=contracts.DeadlineResult,
        )
        return result.due

    async def _notify(
        self, recipient: str, template: str, step: str, details: dict | None = None
    ) -> None:
        await self._activity(
            contracts.NOTIFY,
            Notification(
                key=f"{self._claim_id}:{recipient}:{template}:{step}",
                claim_id=self._claim_id,
                recipient=recipient,
                template=template,
                details=details or {},
            ),
            result_type=bool,
        )

    async def _set_appointment_status(self, appointment_id: str, status: str) -> None:
        await self._activity(
            contracts.SET_APPOINTMENT_STATUS,
            contracts.AppointmentStatusChange(appointment_id=appointment_id, status=status),
        )

    async def _activity(self, name: str, arg: object, result_type: type | None = None):
        return await workflow.execute_activity(
            name,
            arg,
            start_to_close_timeout=_ACTIVITY_TIMEOUT,
            retry_policy=_RETRY,
            result_type=result_type,
        )

    async def _record(self, event_type: str, *, actor: str = "system", **details: object) -> None:
        """Write the transition to the projection and audit log, and refresh what SREs see."""
        self._seq += 1
        self._updated_at = workflow.now()
        status = self._status()
        self._publish(status)
        await self._activity(
            contracts.RECORD_TRANSITION,
            ProjectionWrite(
                status=status,
                event=ClaimEvent(
                    claim_id=self._claim_id,
                    seq=self._seq,
                    type=event_type,
                    stage=self._stage,
                    actor=actor,
                    at=self._updated_at,
                    details=details,
                ),
            ),
            result_type=bool,
        )

    def _publish(self, status: ClaimStatus) -> None:
        """Search attributes and the UI's current details: what SREs filter and see."""
        next_deadline = self._active_deadline()
        overdue = self._overdue()
        workflow.upsert_search_attributes(
            [
                SA_STAGE.value_set(status.stage.value),
                SA_OUTCOME.value_set(status.outcome.value)
                if status.outcome
                else SA_OUTCOME.value_unset(),
                SA_JURISDICTION.value_set(status.jurisdiction),
                SA_INSURER.value_set(status.insurer_id),
                SA_SAFETY_HOLD.value_set(status.safety_hold),
                SA_NEXT_DEADLINE.value_set(next_deadline.due_at)
                if next_deadline
                else SA_NEXT_DEADLINE.value_unset(),
                SA_OVERDUE.value_set(overdue),
            ]
        )
        summary = f"**{status.stage.value}** · {status.jurisdiction}"
        if status.outcome:
            summary += f" · {status.outcome.value}"
        if overdue:
            summary += " · OVERDUE"
        if next_deadline:
            summary += f" · {next_deadline.name} due {next_deadline.due_at.isoformat()}"
        workflow.set_current_details(summary)

    def _status(self) -> ClaimStatus:
        closed = self._stage is Stage.CLOSED
        return ClaimStatus(
            claim_id=self._claim_id,
            workflow_id=workflow.info().workflow_id,
            insurer_id=self._referral.insurer_id,
            claim_number=self._referral.claim_number,
            claim_type=self._referral.claim_type,
            jurisdiction=self._referral.jurisdiction,
            stage=self._stage,
            status="closed" if closed else "open",
            outcome=self._outcome,
            safety_hold=bool(self._open_safety_cases),
            recommendation=self._recommendation,
            examiner=self._examiner,
            appointment=self._appointment,
            deadlines=list(self._deadlines.values()),
            decision=self._decision,
            created_at=self._created_at,
            updated_at=self._updated_at,
            version=self._seq,
        )
