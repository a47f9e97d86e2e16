"""Actions that arrive while the claim is busy wait their turn instead of being refused ("retry in
a moment"), then check again that they are still allowed.

Racing updates run on the dev server in real time (the shared time-skipping server stops skipping
after them); the ERISA case, which needs days to pass, gets a time-skipping server of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateStage
from temporalio.testing import WorkflowEnvironment

from domain.models import (
    Assign,
    ClaimStatus,
    ConfirmAppointment,
    ExamOutcome,
    ExamReport,
    ExtendDecision,
    Referral,
    ReviewResult,
)
from domain.names import Action, ActivityName, DeadlineName, EventType
from store.claims import list_events
from tests.helpers.claims import (
    act,
    examiner_of,
    start_claim,
    start_demo_claim,
    terminate_leftovers,
    wait_for,
)
from tests.helpers.config import claim_activities, make_settings
from tests.helpers.histories import keep_history
from tests.helpers.latency import ActivityLatency
from tests.helpers.referrals import complete_report, referral_payload
from tests.helpers.stack import dev_address, time_skipping_server
from worker import build_worker

SECOND_EXAMINER = "ex-ny-orthopedic-surgery-2"


@pytest.fixture
def latency() -> ActivityLatency:
    return ActivityLatency()


@pytest.fixture
async def dev_worker(dev_env, database_url, task_queue, pool, latency):
    settings = make_settings(database_url, task_queue, dev_address(dev_env))
    worker = build_worker(dev_env.client, settings, claim_activities(pool), interceptors=[latency])
    async with worker:
        yield
        await terminate_leftovers()


async def event_types(pool: asyncpg.Pool, claim_id: str) -> list[str]:
    return [e.type for e in await list_events(pool, claim_id)]


class ExaminerRowsLocked:
    """Hold every examiner row locked, as a long transaction would: bookings block in Postgres."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def __aenter__(self) -> ExaminerRowsLocked:
        self._conn = await self._pool.acquire()
        self._tx = self._conn.transaction()
        await self._tx.start()
        await self._conn.execute("SELECT id FROM examiners FOR UPDATE")
        return self

    async def bookings_blocked(self, count: int = 1) -> None:
        async with asyncio.timeout(15):
            while (
                await self._pool.fetchval(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
                < count
            ):
                await asyncio.sleep(0.05)

    async def __aexit__(self, *_: object) -> None:
        await self._tx.rollback()
        await self._pool.release(self._conn)


async def still_running(update, seconds: float = 0.5) -> bool:
    try:
        await asyncio.wait_for(asyncio.shield(update.result()), seconds)
    except TimeoutError:
        return True
    return False


@pytest.mark.usefixtures("dev_worker")
async def test_assign_during_a_booking_waits_for_it_then_replaces_it(dev_env, task_queue, pool):
    async with ExaminerRowsLocked(pool) as locked:
        handle = await start_demo_claim(dev_env.client, task_queue)
        await locked.bookings_blocked()  # the main loop is mid-booking
        assign = await handle.start_update(
            Action.ASSIGN,
            Assign(examiner_id=SECOND_EXAMINER),
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
            result_type=ClaimStatus,
        )
        assert await still_running(assign)  # accepted, and waiting for the booking
    status = await assign.result()
    assert status.examiner is not None and status.examiner.id == SECOND_EXAMINER
    assert status.appointment is not None and status.appointment.id.endswith(":2")
    claim_id = status.claim_id
    assert await event_types(pool, claim_id) == [
        EventType.REFERRAL_RECEIVED,
        EventType.APPOINTMENT_BOOKED,
        EventType.EXAMINER_ASSIGNED,
    ]
    # The booking it replaced released its slot.
    rows = await pool.fetch(
        "SELECT attempt, status FROM appointments WHERE claim_id = $1 ORDER BY attempt", claim_id
    )
    assert [(r["attempt"], r["status"]) for r in rows] == [(1, "cancelled"), (2, "booked")]
    await keep_history(handle, "assign_waits_for_booking")


@pytest.mark.usefixtures("dev_worker")
async def test_a_confirmation_that_waited_is_refused_when_the_appointment_changed(
    dev_env, task_queue, pool
):
    handle = await start_demo_claim(dev_env.client, task_queue)
    first = await wait_for(handle, lambda s: s.appointment is not None)
    async with ExaminerRowsLocked(pool) as locked:
        assign = await handle.start_update(
            Action.ASSIGN,
            Assign(examiner_id=SECOND_EXAMINER),
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
            result_type=ClaimStatus,
        )
        await locked.bookings_blocked()
        # Meant for the first appointment; accepted, then waits for the assignment's booking.
        confirm = await handle.start_update(
            Action.CONFIRM_APPOINTMENT,
            ConfirmAppointment(),
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
            result_type=ClaimStatus,
        )
        assert await still_running(confirm)
    assert examiner_of(await assign.result()).id == SECOND_EXAMINER
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await confirm.result()
    assert "appointment changed" in str(refused.value.cause)
    status = await wait_for(handle, lambda s: s.version >= 3)
    assert status.stage.value == "SCHEDULING" and status.appointment != first.appointment
    assert EventType.APPOINTMENT_CONFIRMED not in await event_types(pool, status.claim_id)


@pytest.mark.usefixtures("dev_worker")
async def test_a_second_report_waits_for_the_first_to_be_checked(
    dev_env, task_queue, pool, latency
):
    handle = await start_demo_claim(dev_env.client, task_queue)
    await wait_for(handle, lambda s: s.appointment is not None)
    status = await act(handle, Action.CONFIRM_APPOINTMENT, ConfirmAppointment())
    assert status.appointment is not None
    wait = (status.appointment.starts_at - datetime.now(UTC)).total_seconds()
    await asyncio.sleep(max(0.0, wait) + 0.5)
    await act(handle, Action.EXAM, ExamOutcome(attended=True))

    latency.delays[ActivityName.ASSESS_REPORT] = 1.5
    incomplete = ExamReport.model_validate(complete_report() | {"causation": None})
    updates = []
    for report in (incomplete, ExamReport.model_validate(complete_report())):
        updates.append(
            await handle.start_update(
                Action.REPORT,
                report,
                wait_for_stage=WorkflowUpdateStage.ACCEPTED,
                result_type=ClaimStatus,
            )
        )
    # (Claims that check reports in a local activity receive the second report only once the
    # first's check is done; older ones received it mid-check and it waited for the lock.)
    _, second = [await u.result() for u in updates]
    assert second.stage.value == "REVIEW"
    # The incomplete report was checked first (an addendum asked for), then the complete one.
    assert (await event_types(pool, second.claim_id))[-2:] == [
        EventType.REPORT_QA_FAILED,
        EventType.REPORT_SUBMITTED,
    ]
    await keep_history(handle, "second_report_waits_for_first")


# --- a time-skipping server of its own ---------------------------------------------------------


@pytest.fixture
async def own_ts_env() -> AsyncIterator[WorkflowEnvironment]:
    async with time_skipping_server() as env:
        yield env


async def test_an_extension_waits_for_the_decision_deadline_being_set(
    own_ts_env, database_url, task_queue, pool, latency
):
    env = own_ts_env
    settings = make_settings(database_url, task_queue)
    worker = build_worker(env.client, settings, claim_activities(pool), interceptors=[latency])
    async with worker:
        payload = referral_payload("ERISA-LTD") | {"claim_type": "long_term_disability"}
        handle = await start_claim(env.client, Referral.model_validate(payload), task_queue)
        await wait_for(handle, lambda s: s.appointment is not None)
        status = await act(handle, Action.CONFIRM_APPOINTMENT, ConfirmAppointment())
        assert status.appointment is not None
        await env.sleep(
            status.appointment.starts_at - await env.get_current_time() + timedelta(seconds=1)
        )
        await act(handle, Action.EXAM, ExamOutcome(attended=True))
        reported = await act(handle, Action.REPORT, ExamReport.model_validate(complete_report()))
        # ERISA's decision clock runs from the claim's receipt (29 CFR 2560.503-1(f)(3)).
        first_due = next(d.due_at for d in reported.deadlines if d.name == DeadlineName.DECISION)

        latency.delays[ActivityName.COMPUTE_DEADLINES] = 1.5
        review = await handle.start_update(
            Action.REVIEW,
            ReviewResult(result="accepted"),
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
            result_type=ClaimStatus,
        )
        # DECISION is entered; its deadline is still being computed.
        extend = await handle.start_update(
            Action.EXTEND_DECISION,
            ExtendDecision(reason="awaiting records"),
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
            result_type=ClaimStatus,
        )
        await review.result()
        extended = await extend.result()
        due = next(d.due_at for d in extended.deadlines if d.name == DeadlineName.DECISION)
        assert due == first_due + timedelta(days=30)
        assert (await event_types(pool, extended.claim_id))[-2:] == [
            EventType.REPORT_ACCEPTED,
            EventType.DECISION_EXTENDED,
        ]
        await keep_history(handle, "extension_waits_for_decision_deadline")
        await terminate_leftovers()
