"""`claims_per_s` against `skeleton_per_s`: full DEMO claims driven to CLOSED/approved through the
service layer, as the API drives them (`ClaimService.start`, then `act` with a caller of the right
role for each step, polling the status for the booking as a client polls `GET /v1/claims/{id}`),
against the skeleton workflow driven the same way; both at the same concurrency, with the same 5 s
between booking and appointment, on the same server, in alternating rounds.

A claim counts once its workflow has completed (its closing steps done), as does a skeleton.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from temporalio.client import Client, WorkflowHandle

from bench.batch import Batch, run_batch
from bench.referrals import BENCH_INSURER, DECISION, EXAM, REPORT, REVIEW, referral
from bench.skeleton import SKELETON_QUEUE, SkeletonStatus, SkeletonWorkflow
from claim_service import ClaimService
from domain.errors import ClaimError
from domain.models import Caller, Outcome
from domain.names import Action, Role
from workflows import ClaimWorkflow

# How often the driver reads the status while it waits for the booking.
BOOKING_POLL_SECONDS = 0.2
# After the appointment's start, before the exam is recorded (tests/helpers/walk.py waits the same).
EXAM_MARGIN_SECONDS = 0.5

INSURER = Caller(role=Role.INSURER, key_name="bench insurer", insurer_id=BENCH_INSURER)
OPS = Caller(role=Role.OPS, key_name="bench ops")
REVIEWER = Caller(role=Role.REVIEWER, key_name="bench reviewer")


class StepFailed(Exception):
    """Which step of a claim failed, and how (our error code, or the exception's type)."""

    def __init__(self, step: str, err: BaseException) -> None:
        how = err.code if isinstance(err, ClaimError) else type(err).__name__
        detail = f" ({err.message})" if isinstance(err, ClaimError) else ""
        super().__init__(f"{step}: {how}{detail}")


def failure_kind(err: BaseException) -> str:
    return str(err) if isinstance(err, StepFailed) else type(err).__name__


async def _sleep_until(moment: datetime) -> None:
    await asyncio.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))


class Drivers:
    def __init__(self, service: ClaimService, client: Client) -> None:
        self._service = service
        self._client = client
        # Workflow ids of the claims and skeletons that completed (events_per_claim reads one).
        self.completed_claims: list[str] = []
        self.completed_skeletons: list[str] = []

    async def claim(self, tag: str, n: int) -> None:
        step = "start"
        try:
            status, _ = await self._service.start(referral("DEMO", tag, n), INSURER)
            step = "booking"
            while status.appointment is None:
                await asyncio.sleep(BOOKING_POLL_SECONDS)
                status = await self._service.get(status.claim_id, INSURER)
            step = Action.CONFIRM_APPOINTMENT
            confirmed = await self._service.act(
                status.claim_id, Action.CONFIRM_APPOINTMENT, {}, OPS
            )
            assert confirmed.appointment is not None
            await _sleep_until(confirmed.appointment.starts_at)
            await asyncio.sleep(EXAM_MARGIN_SECONDS)
            for step, body, caller in (
                (Action.EXAM, EXAM, OPS),
                (Action.REPORT, REPORT, OPS),
                (Action.REVIEW, REVIEW, REVIEWER),
                (Action.DECISION, DECISION, INSURER),
            ):
                await self._service.act(status.claim_id, step, body, caller)
            step = "completion"
            handle = self._client.get_workflow_handle_for(ClaimWorkflow.run, status.workflow_id)
            final = await handle.result()
            if final.outcome is not Outcome.APPROVED:
                raise RuntimeError(f"closed as {final.outcome}")
        except Exception as err:
            raise StepFailed(step, err) from err
        self.completed_claims.append(status.workflow_id)

    async def skeleton(self, tag: str, n: int) -> None:
        step = "start"
        workflow_id = f"bench-skeleton-{tag}-{n}"
        try:
            handle = await self._client.start_workflow(
                SkeletonWorkflow.run, f"BENCH-{tag}-{n:06d}", id=workflow_id,
                task_queue=SKELETON_QUEUE,
            )  # fmt: skip
            step = Action.CONFIRM_APPOINTMENT
            confirmed = await self._update(handle, Action.CONFIRM_APPOINTMENT, {})
            assert confirmed.starts_at is not None
            await _sleep_until(confirmed.starts_at)
            await asyncio.sleep(EXAM_MARGIN_SECONDS)
            for step, body in (
                (Action.EXAM, EXAM),
                (Action.REPORT, REPORT),
                (Action.REVIEW, REVIEW),
                (Action.DECISION, DECISION),
            ):
                await self._update(handle, step, body)
            step = "completion"
            await handle.result()
        except Exception as err:
            raise StepFailed(step, err) from err
        self.completed_skeletons.append(workflow_id)

    @staticmethod
    async def _update(
        handle: WorkflowHandle[Any, Any], action: Action, body: object
    ) -> SkeletonStatus:
        # By name, as the service sends a claim's actions.
        status: SkeletonStatus = await handle.execute_update(
            action, body, result_type=SkeletonStatus
        )
        return status

    async def batch(
        self, drive: Callable[[str, int], Awaitable[None]], tag: str, count: int, concurrency: int
    ) -> Batch:
        return await run_batch(count, concurrency, lambda n: drive(tag, n), failure_kind)
