"""`make chaos`'s fast cases, on a dev stack of their own (`python -m devstack`, no demo): claims
walked through the API while the worker is SIGKILLed, while the API is, and while the insurer's
endpoint and the mail relay are down, each followed by the same exact checks as `make chaos`
(chaos/checks.py): every claim at its planned outcome, its audit log the expected events once
each, its notifications once each, each delivered and received once, its appointment attended.

Also: the retry of the action that closed a claim gets its first answer back though the API never
kept it (found by the worker-kill and api-kill scenarios); actions sent to a claim on the dev
server while it continues as new are applied once each (the time-skipping server was seen to drop
such an update)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from chaos.driver import Plan
from chaos.faults import Pace
from chaos.run import Harness, Result, harness
from domain.ids import workflow_id_for

pytestmark = pytest.mark.slow

CLAIMS = 6  # one of them denied (chaos.driver.plans)


@pytest.fixture(scope="module")
async def chaos(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    async with harness(tmp_path_factory.mktemp("chaos")) as running:
        yield running


def passed(result: Result) -> None:
    assert result.passed, "\n".join(result.findings)
    assert result.outcomes == Counter({"approved": CLAIMS - 1, "denied": 1})
    assert result.ready_after is not None


# Long (`make chaos`): a worker SIGKILLed mid-claim is also `test_durability.py`'s, in `make test`.
@pytest.mark.long
async def test_the_worker_killed_twice_loses_and_repeats_nothing(chaos: Harness) -> None:
    result = await chaos.run(
        "worker-kill", CLAIMS, "tw", pace=Pace(times=2, every=8.0), ramp=4.0, fault_after=3.0
    )
    passed(result)
    kills = [what for _, what in result.fault.actions if what.startswith("SIGKILL")]
    assert kills == ["SIGKILL worker", "SIGKILL worker"]


async def test_the_api_killed_with_requests_in_flight_applies_each_step_once(
    chaos: Harness,
) -> None:
    result = await chaos.run(
        "api-kill", CLAIMS, "ta", pace=Pace(times=2, every=6.0), ramp=4.0, fault_after=2.0
    )
    passed(result)
    # Requests were cut by the kills and sent again with their keys.
    assert result.figures["retried_keys"] > 0


async def test_a_delivery_outage_delays_messages_but_loses_and_repeats_none(
    chaos: Harness,
) -> None:
    result = await chaos.run(
        "delivery-outage", CLAIMS, "td", pace=Pace(seconds=6.0), ramp=4.0, fault_after=2.0
    )
    passed(result)
    assert chaos.receiver.refused > 0  # the endpoint did refuse while it was down


async def test_a_retry_of_the_closing_action_gets_its_first_answer_though_none_was_kept(
    chaos: Harness,
) -> None:
    """What the worker-kill and api-kill scenarios found: the decision took effect and closed
    the claim, but its answer never reached the insurer (the API process died before keeping
    it, or it answered 503 while the worker was down), and the retry with the same key was
    answered 409 "the claim is closed". Made certain here: the kept answer is removed."""
    plan = Plan("tr", 0, "approved")
    insurer = chaos.clients["insurer"]
    claim_id = await _walk_to_decision(chaos, plan)
    url = f"/v1/claims/{claim_id}/actions/decision"
    key = plan.key("decision", "1")
    first = await insurer.post(url, json=plan.body("decision"), headers={"Idempotency-Key": key})
    assert first.status_code == 200 and first.json()["status"] == "closed", first.text
    temporal = await Client.connect(chaos.stack.temporal_address)
    handle = temporal.get_workflow_handle(workflow_id_for(claim_id))
    async with asyncio.timeout(30):  # the claim's workflow has finished, not only its stage
        while (await handle.describe()).status != WorkflowExecutionStatus.COMPLETED:
            await asyncio.sleep(0.1)
    conn = await asyncpg.connect(chaos.database_url)
    try:
        forgot = await conn.execute("DELETE FROM idempotency_keys WHERE idempotency_key = $1", key)
        assert forgot == "DELETE 1"
        retry = await insurer.post(
            url, json=plan.body("decision"), headers={"Idempotency-Key": key}
        )
        assert retry.status_code == 200, retry.text
        assert retry.json()["version"] == first.json()["version"]
        other = {"Idempotency-Key": plan.key("decision", "2")}
        fresh = await insurer.post(url, json=plan.body("decision"), headers=other)
        assert fresh.status_code == 409
        assert fresh.json()["error"]["message"] == "the claim is closed"
        decided = await conn.fetchval(
            "SELECT count(*) FROM claim_events WHERE claim_id = $1 AND type = 'decision_issued'",
            claim_id,
        )
        assert decided == 1
    finally:
        await conn.close()


async def _walk_to_decision(chaos: Harness, plan: Plan) -> str:
    """A claim of `plan` walked through the API to its decision stage; its id."""
    ops, reviewer = chaos.clients["ops"], chaos.clients["reviewer"]
    created = await chaos.clients["insurer"].post("/v1/claims", json=plan.referral())
    claim_id: str = created.json()["claim_id"]
    await _booked(ops, claim_id)
    steps = [(ops, "confirm-appointment"), (ops, "exam"), (ops, "report"), (reviewer, "review")]
    for party, step in steps:
        answer = await party.post(
            f"/v1/claims/{claim_id}/actions/{step}",
            json=plan.body(step),
            headers={"Idempotency-Key": plan.key(step, "1")},
        )
        assert answer.status_code == 200, answer.text
        if step == "confirm-appointment":
            starts = datetime.fromisoformat(answer.json()["appointment"]["starts_at"])
            # The exam's outcome is accepted once the appointment has started.
            await asyncio.sleep(max(0.0, (starts - datetime.now(UTC)).total_seconds()) + 0.3)
    return claim_id


async def test_actions_while_a_claim_continues_as_new_are_applied_once(chaos: Harness) -> None:
    """Reschedules sent back to back: each waits for the booking in progress (or is refused, 409,
    when there is none to reschedule) and goes ahead the moment it is made, which is when a claim
    whose history grew long hands its state to a new run. None may be lost (an update dropped by
    the hand-over would hang until the API's action timeout: 503) and none applied twice."""
    ops, insurer = chaos.clients["ops"], chaos.clients["insurer"]
    plan = Plan("tc", 0, "approved")
    created = await insurer.post("/v1/claims", json=plan.referral())
    claim_id = created.json()["claim_id"]
    temporal = await Client.connect(chaos.stack.temporal_address)
    handle = temporal.get_workflow_handle(workflow_id_for(claim_id))
    first_run = (await handle.describe()).run_id
    answers: Counter[int] = Counter()
    tries = 0
    accepted_after = 0  # reschedules accepted by the new run
    while accepted_after < 3:
        assert answers[200] < 200, "the claim never continued as new"
        # A new key after a refusal (the refusal is that key's kept answer).
        answer = await _reschedule(ops, claim_id, plan.key("reschedule", str(tries)))
        answers.update(answer)
        tries += 1
        if answer[-1] == 200 and (await handle.describe()).run_id != first_run:
            accepted_after += 1
        if answer[-1] == 409:
            await asyncio.sleep(0.01)
    assert set(answers) <= {200, 409}, answers  # no 5xx: nothing hung in the hand-over
    events = (await ops.get(f"/v1/claims/{claim_id}/events")).json()
    assert Counter(e["type"] for e in events)["appointment_rescheduled"] == answers[200]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    withdrawn = await insurer.post(
        f"/v1/claims/{claim_id}/actions/withdraw",
        json={"reason": "test done"},
        headers={"Idempotency-Key": plan.key("withdraw", "1")},
    )
    assert withdrawn.status_code == 200, withdrawn.text


async def _booked(http: httpx.AsyncClient, claim_id: str) -> None:
    async with asyncio.timeout(30):
        while (await http.get(f"/v1/claims/{claim_id}")).json()["appointment"] is None:
            await asyncio.sleep(0.05)


async def _reschedule(http: httpx.AsyncClient, claim_id: str, key: str) -> list[int]:
    """POST a reschedule, again with the same key after a 5xx (5 tries); every status code."""
    body = {"reason": "claimant unwell", "requested_by": "claimant"}
    codes: list[int] = []
    while len(codes) < 5 and (not codes or codes[-1] >= 500):
        answer = await http.post(
            f"/v1/claims/{claim_id}/actions/reschedule",
            json=body,
            headers={"Idempotency-Key": key},
        )
        codes.append(answer.status_code)
    return codes
