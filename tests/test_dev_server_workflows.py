"""Workflow behaviour checked on the dev server in real time: racing updates, and a safety case
outliving its claim. (The time-skipping test server stops skipping time after either, which
would stall every later test there.)"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError

from domain.models import (
    ConfirmAppointment,
    ExamOutcome,
    SafetyAck,
    SafetyCaseStatus,
    SafetyConcern,
    SafetyResolve,
    Stage,
    Withdraw,
)
from domain.names import Action, Query
from store.claims import get_status, list_events
from tests.helpers.claims import (
    act,
    appointment_of,
    start_demo_claim,
    terminate_leftovers,
    wait_for,
)
from tests.helpers.config import claim_activities, make_settings
from tests.helpers.histories import keep_history
from tests.helpers.probes import told
from tests.helpers.stack import dev_address
from worker import build_worker


@pytest.fixture
async def dev_worker(dev_env, database_url, task_queue, pool):
    settings = make_settings(database_url, task_queue, dev_address(dev_env))
    async with build_worker(dev_env.client, settings, claim_activities(pool)):
        yield
        await terminate_leftovers()


@pytest.mark.usefixtures("dev_worker")
async def test_two_concurrent_no_shows_count_once(dev_env, task_queue):
    handle = await start_demo_claim(dev_env.client, task_queue)
    await wait_for(handle, lambda s: s.appointment is not None)
    status = await act(handle, Action.CONFIRM_APPOINTMENT, ConfirmAppointment())
    wait = (appointment_of(status).starts_at - datetime.now(UTC)).total_seconds()
    await asyncio.sleep(max(0.0, wait) + 0.3)
    results = await asyncio.gather(
        act(handle, Action.EXAM, ExamOutcome(attended=False)),
        act(handle, Action.EXAM, ExamOutcome(attended=False)),
        return_exceptions=True,
    )
    rejected = [r for r in results if isinstance(r, WorkflowUpdateFailedError)]
    assert len(rejected) == 1, results
    history = await handle.fetch_history()
    accepted = [
        e
        for e in history.events
        if e.HasField("workflow_execution_update_accepted_event_attributes")
    ]
    assert len(accepted) == 2  # confirm-appointment and one exam


@pytest.mark.usefixtures("dev_worker")
async def test_a_claim_withdrawn_on_hold_shows_the_hold_lifted_once_its_case_ends(
    dev_env, task_queue, pool
):
    client = dev_env.client
    handle = await start_demo_claim(client, task_queue)
    await wait_for(handle, lambda s: s.appointment is not None)
    await act(handle, Action.SAFETY_CONCERN, SafetyConcern(level="imminent", toward="self"))
    case_id = await handle.query(Query.OPEN_SAFETY_CASE, result_type=str)
    closed = await act(handle, Action.WITHDRAW, Withdraw(reason="claimant withdrew"))
    assert (closed.stage, closed.safety_hold) == (Stage.CLOSED, True)

    # The case outlives the claim's closing, and the claim waits for it, closed in stage.
    case = client.get_workflow_handle(case_id, result_type=SafetyCaseStatus)
    assert (await case.describe()).status == WorkflowExecutionStatus.RUNNING
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    await case.execute_update(Action.SAFETY_ACK, SafetyAck(clinician_id="dr-on-call"))
    await case.execute_update(
        Action.SAFETY_RESOLVE,
        SafetyResolve(actions_taken=["warm_handoff"]),
        result_type=SafetyCaseStatus,
    )
    result = await asyncio.wait_for(case.result(), timeout=30)
    assert result.resolved and result.acknowledged

    # Then the hold is seen lifted everywhere: status, timeline, search attribute.
    final = await asyncio.wait_for(handle.result(), timeout=30)
    assert (final.status, final.safety_hold) == ("closed", False)
    projected = await get_status(pool, final.claim_id)
    assert projected is not None and projected.safety_hold is False
    events = [e.type for e in await list_events(pool, final.claim_id)]
    assert events[-2:] == ["claim_closed", "safety_hold_lifted"]
    await keep_history(handle, "withdrawn_on_hold_lifts_when_the_case_ends")
    query = f"WorkflowId = '{handle.id}' AND SafetyHold = false AND ClaimStage = 'CLOSED'"
    async with asyncio.timeout(10):
        while not [w async for w in client.list_workflows(query)]:
            await asyncio.sleep(0.2)


@pytest.mark.usefixtures("dev_worker")
async def test_one_open_case_at_a_time_and_a_lost_case_never_holds_the_claim(
    dev_env, task_queue, pool
):
    client = dev_env.client
    handle = await start_demo_claim(client, task_queue)
    await wait_for(handle, lambda s: s.appointment is not None)
    await act(handle, Action.SAFETY_CONCERN, SafetyConcern(level="imminent", toward="self"))
    first = await handle.query(Query.OPEN_SAFETY_CASE, result_type=str)
    # A second concern while the case is open re-pages on that case instead of opening another.
    await act(handle, Action.SAFETY_CONCERN, SafetyConcern(level="imminent", toward="self"))
    assert await handle.query(Query.OPEN_SAFETY_CASE, result_type=str) == first

    # A case that ends without resolution (an operator terminated it) releases the hold and
    # tells ops and the medical director.
    await client.get_workflow_handle(first).terminate(reason="opened by mistake")
    released = await wait_for(handle, lambda s: not s.safety_hold)
    assert released.stage is Stage.SCHEDULING

    async with asyncio.timeout(10):
        while sorted(await told(pool, released.claim_id, "safety_case_ended_unresolved")) != [
            "medical_director",
            "ops",
        ]:
            await asyncio.sleep(0.1)
