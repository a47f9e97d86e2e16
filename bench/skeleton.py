"""The baseline of `claims_vs_skeleton`: a workflow with a claim's happy-path shape and nothing
else. It takes the same five Updates (confirm-appointment, exam, report, review, decision) and runs
one no-op activity for each transition a DEMO claim records on that path (8), with the same 5 s
between booking and the appointment. Registered only on the bench's own worker and task queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.names import Action

SKELETON_QUEUE = "ime-bench-skeleton"
# The DEMO profile's notice lead: the appointment starts this long after it is booked.
NOTICE_LEAD = timedelta(seconds=5)
_TIMEOUT = timedelta(seconds=30)


@dataclass
class SkeletonStatus:
    stage: str
    version: int
    starts_at: datetime | None = None


@activity.defn(name="bench_record_transition")
async def record_transition(event: str) -> None:
    """Stands for the claim's record_transition: does nothing."""


@workflow.defn(name="BenchSkeletonWorkflow")
class SkeletonWorkflow:
    def __init__(self) -> None:
        self._stage = "REFERRAL"
        self._version = 0
        self._starts_at: datetime | None = None
        self._booked = False
        self._decided = False

    @workflow.run
    async def run(self, claim_number: str) -> SkeletonStatus:
        await self._record("referral_received", "SCHEDULING")
        self._starts_at = workflow.now() + NOTICE_LEAD
        await self._record("appointment_booked", "SCHEDULING")
        self._booked = True
        await workflow.wait_condition(lambda: self._decided)
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._record("claim_closed", "CLOSED")
        return self._status()

    @workflow.update(name=Action.CONFIRM_APPOINTMENT)
    async def confirm_appointment(self, body: dict[str, Any]) -> SkeletonStatus:
        # A claim refuses a confirmation before its booking; the driver polls for the booking
        # there, here it waits for it.
        await workflow.wait_condition(lambda: self._booked)
        return await self._step("EXAM", "appointment_confirmed")

    @workflow.update(name=Action.EXAM)
    async def exam(self, body: dict[str, Any]) -> SkeletonStatus:
        return await self._step("REPORT", "exam_attended")

    @exam.validator
    def _validate_exam(self, body: dict[str, Any]) -> None:
        if self._starts_at is None or workflow.now() < self._starts_at:
            raise ApplicationError("the appointment has not started yet", non_retryable=True)

    @workflow.update(name=Action.REPORT)
    async def report(self, body: dict[str, Any]) -> SkeletonStatus:
        return await self._step("REVIEW", "report_submitted")

    @workflow.update(name=Action.REVIEW)
    async def review(self, body: dict[str, Any]) -> SkeletonStatus:
        return await self._step("DECISION", "report_accepted")

    @workflow.update(name=Action.DECISION)
    async def decision(self, body: dict[str, Any]) -> SkeletonStatus:
        self._decided = True
        return await self._step("CLOSED", "decision_issued")

    async def _step(self, stage: str, event: str) -> SkeletonStatus:
        await self._record(event, stage)
        return self._status()

    async def _record(self, event: str, stage: str) -> None:
        self._stage = stage
        self._version += 1
        await workflow.execute_activity(record_transition, event, start_to_close_timeout=_TIMEOUT)

    def _status(self) -> SkeletonStatus:
        return SkeletonStatus(stage=self._stage, version=self._version, starts_at=self._starts_at)
