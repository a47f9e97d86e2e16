"""Starting claims and acting on them the way the API does, for workflow-level tests, and
waiting for their workflow state or their projection in Postgres."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import Any

from temporalio.client import Client, WorkflowHandle, WorkflowUpdateStage
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from domain.ids import claim_id_for, workflow_id_for
from domain.models import (
    AppointmentRef,
    ClaimStatus,
    ExaminerRef,
    Model,
    PanelChoice,
    RecordStateAssignment,
    RecordStatePanel,
    Referral,
)
from domain.names import Action, Query
from domain.parsing import claim_intake
from tests.helpers.config import TEST_SECRET
from tests.helpers.referrals import referral_payload
from workflows import ClaimWorkflow

# Claims a test started: terminated at teardown if still open, because a workflow left running
# without its worker would keep the time-skipping server from skipping time in later tests.
STARTED: list[WorkflowHandle] = []


async def terminate_leftovers() -> None:
    while STARTED:
        handle = STARTED.pop()
        # Safety cases outlive their claim by design (parent-close policy ABANDON).
        children = [f"{handle.id}-safety-{n}" for n in (1, 2, 3)]
        for workflow_id in [handle.id, *children]:
            with contextlib.suppress(RPCError):
                await handle._client.get_workflow_handle(workflow_id).terminate(
                    reason="test finished"
                )


async def start_claim(
    client: Client, referral: Referral, task_queue: str
) -> WorkflowHandle[ClaimWorkflow, ClaimStatus]:
    """Start the claim's workflow with the input the service gives it."""
    claim_id = claim_id_for(TEST_SECRET, referral.insurer_id, referral.claim_number)
    handle = await client.start_workflow(
        ClaimWorkflow.run,
        claim_intake(referral, TEST_SECRET),
        id=workflow_id_for(claim_id),
        task_queue=task_queue,
    )
    STARTED.append(handle)
    return handle


async def act(handle: WorkflowHandle, action: Action, payload: Model) -> ClaimStatus:
    return await handle.execute_update(action, payload, result_type=ClaimStatus)


async def act_and_finish(
    handle: WorkflowHandle[ClaimWorkflow, ClaimStatus], action: Action, payload: Model
) -> ClaimStatus:
    """For the action that closes a claim: wait for acceptance, then for the workflow result.

    The time-skipping test server forgets an update's outcome once its workflow has completed,
    so polling a closing update's result there can race with the completion.
    """
    await handle.start_update(action, payload, wait_for_stage=WorkflowUpdateStage.ACCEPTED)
    return await handle.result()


async def wait_for(handle: WorkflowHandle, predicate, timeout: float = 30.0) -> ClaimStatus:
    """Poll the workflow's status query until `predicate` holds. A query the server leaves
    unanswered (the time-skipping server, under load, as a run continues as new) is given up
    after a few seconds and asked again, within `timeout`."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                status = await handle.query(
                    Query.CLAIM_STATUS, result_type=ClaimStatus, rpc_timeout=QUERY_RPC_TIMEOUT
                )
            except RPCError as err:
                if err.status not in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
                    raise
                continue
            if predicate(status):
                return status
            await asyncio.sleep(0.05)


QUERY_RPC_TIMEOUT = timedelta(seconds=5)


async def start_demo_claim(client: Client, task_queue: str) -> WorkflowHandle:
    return await start_claim(client, Referral.model_validate(referral_payload("DEMO")), task_queue)


async def booked_by_the_state(
    handle: WorkflowHandle, specialty: str = "orthopedic-surgery"
) -> ClaimStatus:
    """Where the claim's profile has the state pick the examiner: record what the state issued
    (an assignment; or a panel, and the unrepresented claimant's choice of its first), as ops
    would, and wait for the booking. A vendor-picked claim is left to book by itself."""
    status = await wait_for(
        handle,
        lambda s: (
            s.appointment is not None or (s.selection and s.selection.phase == "awaiting_state")
        ),
    )
    if status.selection is not None and status.appointment is None:
        state = status.jurisdiction.split("-")[0].lower()
        first = f"ex-{state}-{specialty}-1"
        if status.selection.kind == "state_assigned":
            await act(
                handle,
                Action.RECORD_STATE_ASSIGNMENT,
                RecordStateAssignment(reference="STATE-ORDER-1", examiner_id=first),
            )
        else:
            others = [f"ex-{state}-{specialty}-2", f"ex-{state}-neurology-1"]
            panel = RecordStatePanel(reference="STATE-PANEL-1", examiner_ids=[first, *others])
            await act(handle, Action.RECORD_STATE_PANEL, panel)
            await act(handle, Action.PANEL_CHOICE, PanelChoice(examiner_id=first, party="claimant"))
    return await wait_for(handle, lambda s: s.appointment is not None)


async def set_clock(env: WorkflowEnvironment, at: datetime) -> None:
    """Move a time-skipping server of the test's own to `at`, a date the test counted by hand."""
    now = await env.get_current_time()
    assert now < at, f"the hand-counted dates of this test are in the past: now is {now}"
    await env.sleep(at - now)


def deadline(status: ClaimStatus, name: str) -> Any:
    """The claim's deadline `name` (None when it has none); typed loosely, as tests read it."""
    found = [d for d in status.deadlines if d.name == name]
    return found[0] if found else None


def appointment_of(status: ClaimStatus) -> AppointmentRef:
    assert status.appointment is not None, "no appointment is booked"
    return status.appointment


def examiner_of(status: ClaimStatus) -> ExaminerRef:
    assert status.examiner is not None, "no examiner is booked"
    return status.examiner


async def projection_until(pool, claim_id: str, predicate, timeout: float = 30.0) -> ClaimStatus:
    """Poll the Postgres projection (what callers read) until `predicate` holds: a workflow's
    state moves first, its recorded transition lands a moment later."""
    from store.claims import get_status

    async with asyncio.timeout(timeout):
        while True:
            status = await get_status(pool, claim_id)
            if status is not None and predicate(status):
                return status
            await asyncio.sleep(0.05)
