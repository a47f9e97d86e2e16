"""A claim whose workflow an operator terminated leaves nothing dangling: the worker's reconciler
releases its examiner's slot (the examiner told) and closes its open step items with the claim,
and lifts its safety hold once its safety case (which outlives it) ends, with an audit event
naming who really ended it. On the dev server (real visibility), through the API."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import timedelta

import asyncpg
import httpx
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client
from temporalio.service import RPCError

from domain.delivery import CLOSED_WITH_ENDED_CLAIM, INBOX, OUTLIVE_ENDED_CLAIM
from reconciler import Reconciler
from tests.helpers.config import TEST_SEALER
from tests.helpers.probes import appointments, notices
from tests.helpers.referrals import referral_payload
from tests.helpers.walk import Parties, post_action, wait_until

INTERVAL = 2.0  # the reconcile interval of these tests, seconds


def reconciler(client: Client, pool: asyncpg.Pool) -> Reconciler:
    # No settle delay: the tests' claims have no activity in flight when they are terminated.
    return Reconciler(client, pool, TEST_SEALER, settle=timedelta(0))


async def start(http: httpx.AsyncClient) -> dict:
    """A DEMO claim with its appointment booked (the examiner asked to confirm it)."""
    created = await http.post("/v1/claims", json=referral_payload("DEMO"))
    assert created.status_code == 201, created.text
    return await wait_until(http, created.json()["claim_id"], lambda c: c["appointment"])


async def open_items(pool: asyncpg.Pool, claim_id: str) -> list[str]:
    """The kinds of the claim's open inbox items, sorted."""
    rows = await pool.fetch(
        "SELECT kind FROM inbox_items WHERE claim_id = $1 AND done_at IS NULL ORDER BY kind",
        claim_id,
    )
    return [r["kind"] for r in rows]


async def booked(pool: asyncpg.Pool, claim_id: str) -> list[str]:
    return [a.id for a in await appointments(pool, claim_id) if a.status == "booked"]


async def visibly_ended(client: Client, workflow_id: str) -> None:
    query = f"WorkflowId = '{workflow_id}' AND ExecutionStatus = 'Terminated'"
    async with asyncio.timeout(10):
        while not [w async for w in client.list_workflows(query)]:
            await asyncio.sleep(0.1)


async def holds_open(http: httpx.AsyncClient) -> float:
    answer = await http.get("/metrics")
    assert answer.status_code == 200, answer.text
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            if sample.name == "ime_safety_holds_open":
                return sample.value
    raise AssertionError("ime_safety_holds_open is not reported")


async def events_of(http: httpx.AsyncClient, claim_id: str) -> list[dict]:
    answer = await http.get(f"/v1/claims/{claim_id}/events")
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_every_inbox_kind_either_closes_with_an_ended_claim_or_outlives_it():
    kinds = {template for _, template in INBOX}
    assert kinds == CLOSED_WITH_ENDED_CLAIM | OUTLIVE_ENDED_CLAIM
    assert not CLOSED_WITH_ENDED_CLAIM & OUTLIVE_ENDED_CLAIM


async def test_the_slot_is_released_and_the_items_closed_within_two_intervals(
    parties: Parties, dev_env, pool
):
    client, insurer, ops = dev_env.client, parties.insurer, parties.ops
    claim = await start(insurer)
    claim_id = claim["claim_id"]
    # A moderate risk: the clinician's referral to treatment outlives the claim.
    moderate = {"level": "moderate", "toward": "self", "notes": ""}
    referred = await post_action(insurer, claim_id, "safety-concern", moderate)
    assert referred.status_code == 200, referred.text
    async with asyncio.timeout(10):
        while "referral_to_treatment" not in await open_items(pool, claim_id):
            await asyncio.sleep(0.1)
    slot = await booked(pool, claim_id)
    assert len(slot) == 1
    assert "appointment_request" in await open_items(pool, claim_id)

    stop = asyncio.Event()
    loop = asyncio.create_task(reconciler(client, pool).run(INTERVAL, stop))
    try:
        await client.get_workflow_handle(claim["workflow_id"]).terminate(reason="stuck")
        await visibly_ended(client, claim["workflow_id"])
        # The reconciler cannot know before visibility does: two intervals from then.
        seen = time.monotonic()
        async with asyncio.timeout(2 * INTERVAL):
            while await booked(pool, claim_id) or "appointment_request" in await open_items(
                pool, claim_id
            ):
                await asyncio.sleep(0.1)
        assert time.monotonic() - seen <= 2 * INTERVAL
    finally:
        stop.set()
        await asyncio.wait_for(loop, timeout=15)

    status = (await insurer.get(f"/v1/claims/{claim_id}")).json()
    assert (status["status"], status["outcome"]) == ("closed", "terminated")
    assert [a.status for a in await appointments(pool, claim_id)] == ["cancelled"]
    # The clinical referral and ops' follow-up stay open; the examiner's request is gone.
    assert await open_items(pool, claim_id) == ["claim_terminated", "referral_to_treatment"]
    # The examiner is told their appointment is cancelled (nothing is due from them).
    assert ("examiner", "appointment_cancelled") in await notices(pool, claim_id)
    # Someone with access to Temporal ended it: the event says so, not a role of the service.
    [ended] = [e for e in await events_of(ops, claim_id) if e["type"] == "claim_terminated"]
    assert (ended["actor"], ended["acted_by"]) == ("operator", None)
    [item] = [i for i in (await ops.get("/v1/inbox")).json() if i["kind"] == "claim_terminated"]
    assert item["details"]["appointment_booked"] is True
    assert item["details"]["appointments_released"] == 1
    assert item["details"]["items_closed"] >= 1

    # A further sweep changes nothing.
    before = await notices(pool, claim_id)
    assert await reconciler(client, pool).sweep() == 0
    assert await notices(pool, claim_id) == before
    assert await open_items(pool, claim_id) == ["claim_terminated", "referral_to_treatment"]


async def test_a_terminated_claim_still_holding_a_slot_is_tidied(parties: Parties, dev_env, pool):
    """Closed before the reconciler released anything (or booked by an activity that outlived
    its run): the next sweep releases it."""
    client, insurer = dev_env.client, parties.insurer
    claim = await start(insurer)
    claim_id = claim["claim_id"]
    await client.get_workflow_handle(claim["workflow_id"]).terminate(reason="stuck")
    await visibly_ended(client, claim["workflow_id"])
    assert await reconciler(client, pool).sweep() == 1
    [slot] = [a.id for a in await appointments(pool, claim_id)]
    # As a claim closed by the reconciler of before left it: the slot booked, the request open.
    await pool.execute("UPDATE appointments SET status = 'booked' WHERE id = $1", slot)
    await pool.execute(
        "UPDATE inbox_items SET done_at = NULL"
        " WHERE claim_id = $1 AND kind = 'appointment_request'",
        claim_id,
    )
    assert await reconciler(client, pool).sweep() == 0
    assert await booked(pool, claim_id) == []
    assert await open_items(pool, claim_id) == ["claim_terminated"]


async def test_resolving_the_safety_case_of_a_terminated_claim_lifts_its_hold(
    parties: Parties, dev_env, pool
):
    client, insurer, clinician = dev_env.client, parties.insurer, parties.clinician
    claim = await start(insurer)
    claim_id = claim["claim_id"]
    imminent = {"level": "imminent", "toward": "self", "notes": ""}
    held = await post_action(insurer, claim_id, "safety-concern", imminent)
    assert held.status_code == 200 and held.json()["safety_hold"] is True, held.text
    case_id = f"{claim['workflow_id']}-safety-1"
    try:
        await client.get_workflow_handle(claim["workflow_id"]).terminate(reason="stuck")
        await visibly_ended(client, claim["workflow_id"])
        assert await reconciler(client, pool).sweep() == 1
        # The case is still open: the hold stays, sweep after sweep.
        assert await reconciler(client, pool).sweep() == 0
        status = (await insurer.get(f"/v1/claims/{claim_id}")).json()
        assert (status["outcome"], status["safety_hold"]) == ("terminated", True)
        assert await holds_open(parties.ops) == 1

        # The clinician acknowledges and resolves the case through the API.
        ack = await post_action(clinician, claim_id, "safety-ack", {"clinician_id": "dr-on-call"})
        assert ack.status_code == 200, ack.text
        resolution = {"actions_taken": ["warm_handoff"], "notes": ""}
        resolved = await post_action(clinician, claim_id, "safety-resolve", resolution)
        assert resolved.status_code == 200, resolved.text
        await asyncio.wait_for(client.get_workflow_handle(case_id).result(), 20)

        stop = asyncio.Event()
        loop = asyncio.create_task(reconciler(client, pool).run(INTERVAL, stop))
        try:
            lifted = await wait_until(
                insurer, claim_id, lambda c: not c["safety_hold"], 4 * INTERVAL
            )
        finally:
            stop.set()
            await asyncio.wait_for(loop, timeout=15)
        assert (lifted["status"], lifted["outcome"]) == ("closed", "terminated")
        assert lifted["version"] > status["version"]
        assert await holds_open(parties.ops) == 0

        events = await events_of(parties.ops, claim_id)
        claim_events = [e for e in events if e.get("seq") is not None]
        assert [e["seq"] for e in claim_events] == list(range(1, len(claim_events) + 1))
        last = claim_events[-1]
        assert last["type"] == "safety_hold_lifted"
        # The resolution is the clinician's: the lift is theirs.
        assert last["actor"] == "clinician"
        assert last["acted_by"]["role"] == "clinician"
        assert last["details"]["case_id"] == case_id
        assert last["details"]["case_status"] == "completed"
        # The insurer sees the hold lifted, and gets its webhook event.
        insurer_events = [e["type"] for e in await events_of(insurer, claim_id)]
        assert insurer_events[-1] == "safety_hold_lifted"
        # Lifted once: later sweeps find nothing on hold.
        assert await reconciler(client, pool).sweep() == 0
        again = await events_of(parties.ops, claim_id)
        assert [e["type"] for e in again].count("safety_hold_lifted") == 1
    finally:
        with contextlib.suppress(RPCError):  # ended already
            await client.get_workflow_handle(case_id).terminate(reason="test finished")


async def test_a_safety_case_an_operator_terminated_lifts_the_hold_as_theirs(
    parties: Parties, dev_env, pool
):
    client, insurer = dev_env.client, parties.insurer
    claim = await start(insurer)
    claim_id = claim["claim_id"]
    imminent = {"level": "imminent", "toward": "self", "notes": ""}
    held = await post_action(insurer, claim_id, "safety-concern", imminent)
    assert held.status_code == 200, held.text
    await client.get_workflow_handle(claim["workflow_id"]).terminate(reason="stuck")
    await visibly_ended(client, claim["workflow_id"])
    assert await reconciler(client, pool).sweep() == 1
    await client.get_workflow_handle(f"{claim['workflow_id']}-safety-1").terminate(reason="x")
    assert await reconciler(client, pool).sweep() == 0
    status = (await insurer.get(f"/v1/claims/{claim_id}")).json()
    assert status["safety_hold"] is False
    last = (await events_of(parties.ops, claim_id))[-1]
    assert last["type"] == "safety_hold_lifted"
    # Not a clinician's act: someone with access to Temporal ended the case.
    assert (last["actor"], last["acted_by"]) == ("operator", None)
    assert last["details"]["case_status"] == "terminated"
    # Nothing held without an owner: ops and the medical director are told.
    told = await notices(pool, claim_id)
    assert ("ops", "safety_case_ended_unresolved") in told
    assert ("medical_director", "safety_case_ended_unresolved") in told
    assert await holds_open(parties.ops) == 0
