"""The report: checked by the automatic QA checklist (an addendum request when it fails, up to the
profile's limit), then reviewed by a person, who accepts it or asks for an addendum."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from temporalio import workflow

from workflows.clock import DeadlineClock
from workflows.effects import Effects, Notice
from workflows.recorder import Recorder

with workflow.unsafe.imports_passed_through():
    from domain import contracts
    from domain.claim_state import ClaimState
    from domain.models import Caller, ExamReport, ReviewResult, Stage
    from domain.names import Actor, DeadlineName, EventType, Recipient, Template


class Reporting:
    def __init__(
        self, state: ClaimState, effects: Effects, recorder: Recorder, clock: DeadlineClock
    ) -> None:
        self._state = state
        self._effects = effects
        self._recorder = recorder
        self._clock = clock
        # One report is checked at a time: a second one waits for the first's verdict.
        self._turn = asyncio.Lock()

    async def submit(
        self, report: ExamReport, *, question_count: int, recheck: Callable[[], None]
    ) -> None:
        """Check the report, then on to REVIEW, or back to the examiner for an addendum. A report
        that arrives while another is checked waits for that verdict, then `recheck`s."""
        state, profile = self._state, self._state.require_profile()
        async with self._turn:
            recheck()
            assessment = await self._effects.assess_report(
                contracts.ReportAssessmentRequest(report=report, question_count=question_count)
            )
        if state.stage is not Stage.REPORT:
            return  # withdrawn meanwhile
        findings = assessment.findings
        if state.wants_addendum(findings):
            # Automatic QA failed: the examiner gets an addendum request, the stage stays REPORT.
            await self.request_addendum(
                EventType.REPORT_QA_FAILED,
                actor=Actor.EXAMINER,
                acted_by=report.acted_by,
                findings=findings,
            )
            return
        state.submit_report(assessment.recommendation, workflow.now())
        await self._clock.start(
            Stage.REVIEW, workflow.now(), {DeadlineName.REVIEW: profile.review_sla}
        )
        notify = []
        if findings:
            step = f"qa-exhausted-{state.addenda}"
            notify.append(Notice(Recipient.OPS, Template.QA_ADDENDA_EXHAUSTED, step))
        if profile.claimant_gets_report == "same_day":
            notify.append(Notice(Recipient.CLAIMANT, Template.REPORT_COPY, "report-filed"))
        if self._recorder.batched:
            step = f"review-{state.seq + 1}"
            notify.append(Notice(Recipient.REVIEWER, Template.REPORT_TO_REVIEW, step))
        await self._recorder.record(
            EventType.REPORT_SUBMITTED,
            actor=Actor.EXAMINER,
            acted_by=report.acted_by,
            notify=notify,
            qa_findings=findings,
        )

    async def review(self, review: ReviewResult) -> None:
        state, profile = self._state, self._state.require_profile()
        if review.result == "addendum_requested":
            # Reasons are free text: only their count goes to the audit log.
            await self.request_addendum(
                EventType.ADDENDUM_REQUESTED,
                actor=Actor.REVIEWER,
                acted_by=review.acted_by,
                reasons=len(review.reasons),
            )
            return
        state.accept_report(workflow.now())
        await self._clock.start(
            Stage.DECISION, workflow.now(), {DeadlineName.DECISION: profile.decision_due}
        )
        step = "report-accepted"
        notify = [Notice(Recipient.INSURER, Template.REPORT_AVAILABLE, step)]
        if profile.claimant_gets_report == "yes":
            notify.append(Notice(Recipient.CLAIMANT, Template.REPORT_COPY, step))
        recommendation = state.recommendation.value if state.recommendation else None
        await self._recorder.record(
            EventType.REPORT_ACCEPTED,
            actor=Actor.REVIEWER,
            acted_by=review.acted_by,
            notify=notify,
            recommendation=recommendation,
        )

    async def request_addendum(
        self, event: EventType, *, actor: Actor, acted_by: Caller | None, **details: object
    ) -> None:
        """Back to REPORT with a new, shorter report deadline; the examiner is told."""
        profile = self._state.require_profile()
        addendum = self._state.request_addendum(workflow.now())
        await self._clock.start(
            Stage.REPORT, workflow.now(), {DeadlineName.REPORT: profile.escalation_grace}
        )
        request = Notice(Recipient.EXAMINER, Template.ADDENDUM_REQUEST, f"addendum-{addendum}")
        await self._recorder.record(
            event, actor=actor, acted_by=acted_by, notify=[request], addendum=addendum, **details
        )
