"""A claim whose workflow an operator terminated in Temporal shows closed (`terminated`) to the
insurers polling the projection: the worker's reconciler, on the dev server (real visibility)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType as HistoryEventType
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from reconciler import Reconciler
from tests.helpers.config import TEST_SEALER
from tests.helpers.probes import deliveries
from tests.helpers.referrals import referral_payload
from tests.helpers.walk import Parties, post_action, wait_until

# The tables a terminate reason could leak into (sealed columns are opened and read too).
_TABLES = {
    "claims": None,
    "claim_events": None,
    "notification_outbox": "sealed_details",
    "inbox_items": "sealed_details",
    "deliveries": "sealed_body",
}


def reconciler(client: Client, pool: asyncpg.Pool) -> Reconciler:
    # No settle delay: the tests' claims have no activity in flight when they are terminated.
    return Reconciler(client, pool, TEST_SEALER, settle=timedelta(0))


async def start(http: httpx.AsyncClient) -> tuple[dict, str]:
    """A DEMO claim with its appointment booked; and its claimant's name."""
    referral = referral_payload("DEMO")
    created = await http.post("/v1/claims", json=referral)
    assert created.status_code == 201, created.text
    claim_id = created.json()["claim_id"]
    booked = await wait_until(http, claim_id, lambda c: c["appointment"] is not None)
    return booked, referral["claimant"]["full_name"]


async def end(client: Client, *workflow_ids: str) -> None:
    """Terminate what a test left running (claims started through the API are not tracked)."""
    for workflow_id in workflow_ids:
        with contextlib.suppress(RPCError):
            await client.get_workflow_handle(workflow_id).terminate(reason="test finished")


async def visibly_ended(client: Client, workflow_id: str) -> None:
    """Wait until Temporal's visibility lists the run as ended (it may lag the RPC)."""
    query = f"WorkflowId = '{workflow_id}' AND ExecutionStatus = 'Terminated'"
    async with asyncio.timeout(10):
        while not [w async for w in client.list_workflows(query)]:
            await asyncio.sleep(0.2)


async def rows_of(pool: asyncpg.Pool, claim_id: str) -> dict[str, list[str]]:
    """Every row the claim has in the tables that matter, as text, sealed columns opened."""
    found: dict[str, list[str]] = {}
    for table, sealed in _TABLES.items():
        rows = await pool.fetch(
            f"SELECT t::text AS row, {sealed or 'NULL::bytea'} AS sealed FROM {table} t"
            " WHERE claim_id = $1",
            claim_id,
        )
        found[table] = sorted(
            r["row"] + (str(TEST_SEALER.open_json(bytes(r["sealed"]))) if r["sealed"] else "")
            for r in rows
        )
    return found


async def events_of(http: httpx.AsyncClient, claim_id: str) -> list[dict]:
    answer = await http.get(f"/v1/claims/{claim_id}/events")
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_a_terminated_claim_shows_closed_terminated_once(parties: Parties, dev_env, pool):
    client, insurer, ops = dev_env.client, parties.insurer, parties.ops
    hook = await insurer.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"})
    assert hook.status_code == 201, hook.text
    terminated, name = await start(insurer)
    withdrawn, _ = await start(insurer)
    running, _ = await start(insurer)
    try:
        answer = await post_action(insurer, withdrawn["claim_id"], "withdraw", {"reason": "x"})
        assert answer.status_code == 200, answer.text
        await asyncio.wait_for(client.get_workflow_handle(withdrawn["workflow_id"]).result(), 30)
        withdrawn = (await insurer.get(f"/v1/claims/{withdrawn['claim_id']}")).json()
        assert withdrawn["outcome"] == "withdrawn"

        # The operator's reason names the claimant: it must never reach the service's data.
        marker = f"ticket-{uuid.uuid4().hex}"
        reason = f"duplicate of {name}'s other claim, DOB 1980-04-02 ({marker})"
        handle = client.get_workflow_handle(terminated["workflow_id"])
        run_id = (await handle.describe()).run_id
        polled_at = datetime.now(UTC)
        await handle.terminate(reason=reason)
        await visibly_ended(client, handle.id)
        before = await insurer.get(f"/v1/claims/{terminated['claim_id']}")
        assert before.json()["status"] == "open"  # the workflow could not say otherwise

        assert await reconciler(client, pool).sweep() == 1

        status = (await insurer.get(f"/v1/claims/{terminated['claim_id']}")).json()
        assert (status["status"], status["outcome"], status["stage"]) == (
            "closed",
            "terminated",
            "CLOSED",
        )
        assert status["version"] > terminated["version"]
        assert status["overdue"] is False and status["next_deadline"] is None
        events = await events_of(insurer, terminated["claim_id"])
        assert [e["type"] for e in events].count("claim_terminated") == 1
        last = events[-1]
        assert last["type"] == "claim_terminated" and last["seq"] == len(events)
        assert last["details"] == {
            "execution_status": "terminated",
            "run_id": run_id,
            "stage_at_end": "SCHEDULING",
        }

        # Pollers find it: by outcome, and as updated since their last poll.
        listed = (await insurer.get("/v1/claims", params={"outcome": "terminated"})).json()
        assert [c["claim_id"] for c in listed["items"]] == [terminated["claim_id"]]
        since = polled_at.isoformat()
        recent = (await insurer.get("/v1/claims", params={"updated_after": since})).json()
        assert terminated["claim_id"] in [c["claim_id"] for c in recent["items"]]

        # Ops are asked to follow up (the examiner's slot was booked: now released).
        inbox = [i for i in (await ops.get("/v1/inbox")).json() if i["kind"] == "claim_terminated"]
        assert [i["claim_id"] for i in inbox] == [terminated["claim_id"]]
        assert inbox[0]["details"]["appointment_booked"] is True
        assert inbox[0]["details"]["execution_status"] == "terminated"
        # The insurer's webhook says the claim closed.
        webhooks = await deliveries(pool, claim_id=terminated["claim_id"], channel="webhook")
        assert "claim.closed" in [d.event_type for d in webhooks]

        rows = await rows_of(pool, terminated["claim_id"])
        text = str(rows)
        assert marker not in text and reason not in text and "1980-04-02" not in text

        # A second sweep (another worker's, or the next one) changes nothing.
        others = {c["claim_id"]: await rows_of(pool, c["claim_id"]) for c in (withdrawn, running)}
        assert await reconciler(client, pool).sweep() == 0
        assert await rows_of(pool, terminated["claim_id"]) == rows
        assert len(rows["claim_events"]) == len(events)
        assert [r for r in rows["notification_outbox"] if "claim_terminated" in r] != []
        assert len([r for r in rows["inbox_items"] if ",claim_terminated," in r]) == 1

        # The claim closed by its own workflow and the running one are untouched.
        assert await rows_of(pool, withdrawn["claim_id"]) == others[withdrawn["claim_id"]]
        still = (await insurer.get(f"/v1/claims/{withdrawn['claim_id']}")).json()
        assert (still["outcome"], still["version"]) == ("withdrawn", withdrawn["version"])
        open_one = (await insurer.get(f"/v1/claims/{running['claim_id']}")).json()
        assert (open_one["status"], open_one["outcome"]) == ("open", None)
        assert "claim_terminated" not in [
            e["type"] for e in await events_of(insurer, running["claim_id"])
        ]
    finally:
        await end(client, running["workflow_id"])


async def test_the_background_loop_closes_it_within_a_few_intervals(
    parties: Parties, dev_env, pool
):
    client, insurer = dev_env.client, parties.insurer
    claim, _ = await start(insurer)
    stop = asyncio.Event()
    loop = asyncio.create_task(reconciler(client, pool).run(0.2, stop))
    try:
        await client.get_workflow_handle(claim["workflow_id"]).terminate(reason="stuck")
        closed = await wait_until(insurer, claim["claim_id"], lambda c: c["status"] == "closed")
        assert closed["outcome"] == "terminated"
    finally:
        stop.set()
        await asyncio.wait_for(loop, timeout=10)  # and it stops when told
    events = await events_of(insurer, claim["claim_id"])
    assert [e["type"] for e in events].count("claim_terminated") == 1


async def test_a_held_claim_keeps_its_hold_and_ops_are_told(parties: Parties, dev_env, pool):
    client, insurer, ops = dev_env.client, parties.insurer, parties.ops
    claim, _ = await start(insurer)
    concern = {"level": "imminent", "toward": "self", "notes": ""}
    held = await post_action(insurer, claim["claim_id"], "safety-concern", concern)
    assert held.status_code == 200 and held.json()["safety_hold"] is True, held.text
    try:
        await client.get_workflow_handle(claim["workflow_id"]).terminate(reason="stuck")
        await visibly_ended(client, claim["workflow_id"])
        assert await reconciler(client, pool).sweep() == 1
        status = (await insurer.get(f"/v1/claims/{claim['claim_id']}")).json()
        # The safety case outlives the claim (ABANDON) and is still open: the hold stays.
        assert (status["outcome"], status["safety_hold"]) == ("terminated", True)
        case = await client.get_workflow_handle(f"{claim['workflow_id']}-safety-1").describe()
        assert case.status == WorkflowExecutionStatus.RUNNING
        items = [
            i for i in (await ops.get("/v1/inbox")).json() if i["claim_id"] == claim["claim_id"]
        ]
        told = [i for i in items if i["kind"] == "claim_terminated"]
        assert len(told) == 1 and told[0]["details"]["safety_hold"] is True
        # The clinician still acts on the case through the API.
        ack = {"clinician_id": "dr-on-call"}
        acked = await post_action(parties.clinician, claim["claim_id"], "safety-ack", ack)
        assert acked.status_code == 200, acked.text
    finally:
        await end(client, f"{claim['workflow_id']}-safety-1")


async def test_a_run_within_the_settle_time_waits_for_a_later_sweep(
    parties: Parties, dev_env, pool
):
    client, insurer = dev_env.client, parties.insurer
    claim, _ = await start(insurer)
    await client.get_workflow_handle(claim["workflow_id"]).terminate(reason="stuck")
    await visibly_ended(client, claim["workflow_id"])
    # Just ended: an activity attempt might still be writing; this sweep leaves it.
    patient = Reconciler(client, pool, TEST_SEALER, settle=timedelta(hours=1))
    assert await patient.sweep() == 0
    assert (await insurer.get(f"/v1/claims/{claim['claim_id']}")).json()["status"] == "open"
    assert await reconciler(client, pool).sweep() == 1


async def test_a_reset_claim_lives_on_in_its_new_run_and_is_left_open(
    parties: Parties, dev_env, pool
):
    client, insurer = dev_env.client, parties.insurer
    claim, _ = await start(insurer)
    handle = client.get_workflow_handle(claim["workflow_id"])
    old_run = (await handle.describe()).run_id
    history = await handle.fetch_history()
    first_task = next(
        e.event_id
        for e in history.events
        if e.event_type == HistoryEventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    )
    # A reset ends the current run as Terminated and carries the claim on in a new run.
    await client.workflow_service.reset_workflow_execution(
        ResetWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=handle.id, run_id=old_run),
            reason="replay from the start",
            workflow_task_finish_event_id=first_task,
            request_id=str(uuid.uuid4()),
        )
    )
    try:
        await visibly_ended(client, handle.id)
        assert await reconciler(client, pool).sweep() == 0
        status = (await insurer.get(f"/v1/claims/{claim['claim_id']}")).json()
        assert (status["status"], status["outcome"]) == ("open", None)
    finally:
        await end(client, handle.id)
