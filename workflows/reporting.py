"""The report: checked by the automatic QA checklist (an addendum request when it fails, up to the
profile's limit), then reviewed by a person, who accepts it or asks for an addendum. Each report
filed is stored as a version with the transition that records its verdict; the claimant gets a
copy as the jurisdiction profile says (on filing, on acceptance, on request, or never)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from temporalio import workflow

from workflows.clock import DeadlineClock
from workflows.effects import Effects, Notice
from workflows.generation import Generation
from workflows.recorder import Recorder

with workflow.unsafe.imports_passed_through():
    from domain.claim_state import ClaimState
    from domain.models import (
        Caller,
        ExamReport,
        ReportStatus,
        ReportWrite,
        RequestReportCopy,
        ReviewResult,
        Stage,
        payloads,
    )
    from domain.names import Action, Actor, DeadlineName, EventType, Recipient, Template
    from domain.refusal import refuse

# The claimant's copy under a profile that gives it on request: one notification key, whether it
# goes out on the request or on the acceptance after it, so it is sent once.
COPY_ON_REQUEST = "report-copy-requested"


class Reporting:
    def __init__(
        self,
        state: ClaimState,
        effects: Effects,
        recorder: Recorder,
        clock: DeadlineClock,
        generation: Generation,
    ) -> None:
        self._state = state
        self._effects = effects
        self._recorder = recorder
        self._clock = clock
        self._generation = generation
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
                payloads.ReportAssessmentRequest(report=report, question_count=question_count)
            )
        if state.stage is not Stage.REPORT:
            return  # withdrawn meanwhile
        state.reports_submitted += 1
        findings = assessment.findings
        if state.wants_addendum(findings):
            # Automatic QA failed: the examiner gets an addendum request, the stage stays REPORT.
            await self.request_addendum(
                EventType.REPORT_QA_FAILED,
                actor=Actor.EXAMINER,
                acted_by=report.acted_by,
                report=self._version(report, "qa_failed", reasons=findings),
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
        elif (
            self._generation.escalation_chain()
            and state.addenda_of_this_report >= profile.max_addenda
        ):
            # The reviewer may ask for no more addenda: ops decide how the report proceeds
            # (claims under the escalation chain).
            step = f"review-addenda-exhausted-{state.addenda}"
            notify.append(Notice(Recipient.OPS, Template.REVIEW_ADDENDA_EXHAUSTED, step))
        if profile.claimant_gets_report == "same_day":
            notify.append(Notice(Recipient.CLAIMANT, Template.REPORT_COPY, "report-filed"))
        if self._generation.batched_notices:
            step = f"review-{state.seq + 1}"
            notify.append(Notice(Recipient.REVIEWER, Template.REPORT_TO_REVIEW, step))
        await self._recorder.record(
            EventType.REPORT_SUBMITTED,
            actor=Actor.EXAMINER,
            acted_by=report.acted_by,
            notify=notify,
            report=self._version(report, "submitted"),
            qa_findings=findings,
        )

    async def review(self, review: ReviewResult) -> None:
        state, profile = self._state, self._state.require_profile()
        state.appeal.note_review(review.acted_by)  # an appeal's reviewer must be someone else
        if review.result == "addendum_requested":
            # Reasons are free text: only their count goes to the audit log; the reasons
            # themselves are stored sealed with the version they send back, for its readers.
            await self.request_addendum(
                EventType.ADDENDUM_REQUESTED,
                actor=Actor.REVIEWER,
                acted_by=review.acted_by,
                report=self._verdict("addendum_requested", reasons=review.reasons),
                reasons=len(review.reasons),
            )
            return
        state.accept_report(workflow.now())
        # Else it runs since the claim came in; on appeal, the appeal's clock runs instead.
        if profile.decision_from == "report_accepted" and state.stage is Stage.DECISION:
            await self._clock.start(
                Stage.DECISION, workflow.now(), {DeadlineName.DECISION: profile.decision_due}
            )
        step = "report-accepted" if state.appeal.received_at is None else "report-accepted-appeal"
        notify = [Notice(Recipient.INSURER, Template.REPORT_AVAILABLE, step)]
        if state.stage is Stage.APPEAL:  # the new IME's report, accepted on appeal
            notify.append(Notice(Recipient.INSURER, Template.APPEAL_DECISION_NEEDED, step))
            if profile.claimant_gets_report != "yes":
                # (h)(4)(i): new evidence reaches the claimant before the decision on appeal.
                notify.append(Notice(Recipient.CLAIMANT, Template.REPORT_COPY, step))
        if profile.claimant_gets_report == "yes":
            notify.append(Notice(Recipient.CLAIMANT, Template.REPORT_COPY, step))
        if (
            profile.claimant_gets_report == "on_request"
            and state.report_copy_requested
            and state.stage is Stage.DECISION
        ):
            notify.append(_copy_on_request())
        recommendation = state.recommendation.value if state.recommendation else None
        await self._recorder.record(
            EventType.REPORT_ACCEPTED,
            actor=Actor.REVIEWER,
            acted_by=review.acted_by,
            notify=notify,
            report=self._verdict("accepted"),
            recommendation=recommendation,
        )

    def check_copy_request(self) -> None:
        """Refuse a request for the claimant's copy unless the profile gives it on request and a
        report was filed; never changes the state (a validator calls it)."""
        state = self._state
        profile = state.require_profile()
        match profile.claimant_gets_report:
            case "yes" | "same_day":
                raise refuse(
                    f"under {profile.name} the claimant's copy of the report is sent "
                    "automatically; no request is needed"
                )
            case "no":
                raise refuse(f"under {profile.name} the claimant is not given a copy of the report")
        state.check(Action.REQUEST_REPORT_COPY, workflow.now())
        if state.reports_submitted == 0:
            raise refuse("no report has been filed yet; ask for the copy once it is")

    async def request_copy(self, request: RequestReportCopy) -> None:
        """The claimant's copy is asked for: sent now if the report is accepted, else when it is.
        Asking again changes nothing (the copy goes out once)."""
        state = self._state
        if state.report_copy_requested:
            return
        state.report_copy_requested = True
        # In DECISION (or APPEAL) the report is accepted (REVIEW, REPORT come before it).
        accepted = state.stage in (Stage.DECISION, Stage.APPEAL)
        await self._recorder.record(
            EventType.REPORT_COPY_REQUESTED,
            actor=Actor.REQUESTER,
            acted_by=request.acted_by,
            notify=[_copy_on_request()] if accepted else [],
            sent=accepted,
            note=request.reason,
        )

    # Why a version goes back rides in the transition write (an activity's input), and only when
    # there is a reason: the workflow issues the same commands as before (replay matches them by
    # type and id, not by input) and a write without reasons is the same payload: no patch.
    def _version(
        self, report: ExamReport, status: ReportStatus, *, reasons: Sequence[str] = ()
    ) -> ReportWrite:
        """The report just filed, as the newest stored version."""
        version = self._state.reports_submitted
        return ReportWrite(
            version=version, status=status, body=report, addendum_reasons=_reasons(reasons)
        )

    def _verdict(self, status: ReportStatus, *, reasons: Sequence[str] = ()) -> ReportWrite | None:
        """The verdict on the newest version (none for reports filed before versions counted)."""
        version = self._state.reports_submitted
        if not version:
            return None
        return ReportWrite(version=version, status=status, addendum_reasons=_reasons(reasons))

    async def request_addendum(
        self,
        event: EventType,
        *,
        actor: Actor,
        acted_by: Caller | None,
        report: ReportWrite | None = None,
        **details: Any,  # the event's details (counts, findings), passed on
    ) -> None:
        """Back to REPORT with a new, shorter report deadline; the examiner is told."""
        profile = self._state.require_profile()
        addendum = self._state.request_addendum(workflow.now())
        await self._clock.start(
            Stage.REPORT, workflow.now(), {DeadlineName.REPORT: profile.escalation_grace}
        )
        # The reasons reach the examiner word for word (email, inbox item): notification details
        # are stored sealed. Only the write's payload grows: no command changes, no patch.
        reasons = list(report.addendum_reasons) if report and report.addendum_reasons else []
        told = {"reasons": reasons} if reasons else {}
        request = Notice(
            Recipient.EXAMINER, Template.ADDENDUM_REQUEST, f"addendum-{addendum}", told
        )
        await self._recorder.record(
            event,
            actor=actor,
            acted_by=acted_by,
            notify=[request],
            report=report,
            addendum=addendum,
            **details,
        )


def _reasons(reasons: Sequence[str]) -> list[str] | None:
    """Why a version goes back for an addendum, as a `ReportWrite` carries them: None if none
    (then the write's payload leaves the field out)."""
    return list(reasons) or None


def _copy_on_request() -> Notice:
    return Notice(Recipient.CLAIMANT, Template.REPORT_COPY, COPY_ON_REQUEST)
