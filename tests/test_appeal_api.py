"""The appeal of a denial through the HTTP API (dev server, real time, real Postgres): DEMO's
seconds-long windows (an appeal within 20 s of the denial, recorded up to 20 s later), each
role's door (403 for those who may not), the reviewer and the decider other than the first (409),
the reason code of an upheld denial (422), the claimant's letter; an appeal refused with the
reason once the window has passed, and under a profile that grants none."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
import httpx
from temporalio.testing import WorkflowEnvironment

from domain.names import Role
from tests.helpers.app import ApiHarness
from tests.helpers.config import TEST_SEALER
from tests.helpers.probes import inbox_done, told
from tests.helpers.referrals import referral_payload
from tests.helpers.walk import post_action, wait_until, walk_to_review

DENIAL = {"outcome": "denied", "reason_code": "IME_NOT_RELATED"}


async def denied(api: ApiHarness, reviewer: httpx.AsyncClient, insurer: httpx.AsyncClient) -> str:
    claim, _ = await walk_to_review(api)
    accepted = await post_action(reviewer, claim["claim_id"], "review", {"result": "accepted"})
    assert accepted.status_code == 200, accepted.text
    decided = await post_action(insurer, claim["claim_id"], "decision", DENIAL)
    assert decided.status_code == 200, decided.text
    await wait_until(insurer, claim["claim_id"], lambda c: c["appeal"] is not None)
    return str(claim["claim_id"])


def message(answer: httpx.Response) -> str:
    return str(answer.json()["error"]["message"])


async def webhook_stages(pool: asyncpg.Pool, claim_id: str) -> list[tuple[str, str]]:
    """(event type, the claim's stage in the body) of the claim's webhook deliveries, in order."""
    rows = await pool.fetch(
        "SELECT event_type, sealed_body FROM deliveries WHERE claim_id = $1 AND channel ="
        " 'webhook' ORDER BY created_at, event_type",
        claim_id,
    )
    bodies = [(r["event_type"], TEST_SEALER.open_json(bytes(r["sealed_body"]))) for r in rows]
    return [(kind, body["data"]["claim"]["stage"]) for kind, body in bodies]


async def test_a_denial_appealed_reviewed_anew_and_upheld_through_the_api(
    api: ApiHarness, pool: asyncpg.Pool, dev_env: WorkflowEnvironment
):
    insurer_a = await api.as_role(Role.INSURER, insurer="acme-ins")
    hook = await insurer_a.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"})
    assert hook.status_code == 201, hook.text
    insurer_b = await api.as_role(Role.INSURER, insurer="acme-ins")
    reviewer_a = await api.as_role(Role.REVIEWER)
    reviewer_b = await api.as_role(Role.REVIEWER)
    ops = await api.as_role(Role.OPS)
    lapsing = await denied(api, reviewer_a, insurer_a)
    claim_id = await denied(api, reviewer_a, insurer_a)

    now = datetime.now(UTC).isoformat()
    appeal = {"received_at": now, "reason": "new records from my physician"}
    assert (await post_action(reviewer_a, claim_id, "appeal", appeal)).status_code == 403
    answer = await post_action(insurer_a, claim_id, "appeal", appeal)
    assert answer.status_code == 200, answer.text
    reopened = answer.json()
    assert (reopened["stage"], reopened["status"], reopened["outcome"]) == ("APPEAL", "open", None)
    assert reopened["decision"]["outcome"] == "denied" and reopened["appeal"]["phase"] == "review"
    # SREs find the claims under appeal in the Temporal UI.
    query = f"WorkflowId = '{reopened['workflow_id']}' AND ClaimStage = 'APPEAL'"
    async with asyncio.timeout(10):
        while not [w async for w in dev_env.client.list_workflows(query)]:
            await asyncio.sleep(0.2)
    again = await post_action(ops, claim_id, "appeal", appeal)
    assert again.status_code == 409 and message(again) == "this claim's denial was appealed already"

    upheld = {"outcome": "upheld", "reason_code": "IME_NOT_RELATED", "notes": "reviewed anew"}
    early = await post_action(insurer_b, claim_id, "appeal-decision", upheld)
    assert early.status_code == 409 and "once its review is recorded" in message(early)
    first = await post_action(reviewer_a, claim_id, "review", {"result": "accepted"})
    assert first.status_code == 409
    assert (
        message(first) == "the appeal is reviewed by someone who did not review this claim before"
    )
    answer = await post_action(reviewer_b, claim_id, "review", {"result": "accepted"})
    assert answer.status_code == 200 and answer.json()["appeal"]["phase"] == "deciding"

    assert (await post_action(ops, claim_id, "appeal-decision", upheld)).status_code == 403
    wrong_code = {**upheld, "reason_code": "IME_SUPPORTS"}
    invalid = await post_action(insurer_b, claim_id, "appeal-decision", wrong_code)
    assert invalid.status_code == 422, invalid.text
    by_denier = await post_action(insurer_a, claim_id, "appeal-decision", upheld)
    assert by_denier.status_code == 409
    assert message(by_denier) == "the appeal is decided by someone other than who made the denial"
    answer = await post_action(insurer_b, claim_id, "appeal-decision", upheld)
    assert answer.status_code == 200, answer.text
    final = await wait_until(insurer_b, claim_id, lambda c: c["outcome"] == "appeal_upheld")
    assert final["appeal"]["outcome"] == "upheld" and final["stage"] == "CLOSED"
    # The closing steps record a moment after the decision on appeal: wait for the second close.
    closings = "SELECT count(*) FROM claim_events WHERE claim_id = $1 AND type = 'claim_closed'"
    async with asyncio.timeout(15):
        while await pool.fetchval(closings, claim_id) < 2:
            await asyncio.sleep(0.1)
    assert await told(pool, claim_id, "appeal_decision_notice") == ["claimant"]
    # The reviewers' and the insurer's items closed themselves as their steps were taken.
    assert await inbox_done(pool, claim_id, "appeal_to_review") == [("reviewer", True)]
    assert await inbox_done(pool, claim_id, "appeal_decision_needed") == [("insurer", True)]
    events = (await insurer_b.get(f"/v1/claims/{claim_id}/events")).json()
    types = [e["type"] for e in events]
    assert types.index("appeal_received") < types.index("appeal_reviewed")
    assert types.index("appeal_reviewed") < types.index("appeal_decided")
    assert types.count("claim_closed") == 2
    # The insurer's webhooks: the stage into APPEAL, and the claim closed twice.
    delivered = await webhook_stages(pool, claim_id)
    assert ("claim.stage_changed", "APPEAL") in delivered
    assert [d for d in delivered if d[0] == "claim.closed"] == [
        ("claim.closed", "CLOSED"),
        ("claim.closed", "CLOSED"),
    ]

    # The other denial, left alone: 20 s to appeal, 20 s more to record one; then the run ends.
    async with asyncio.timeout(90):
        while True:
            listed = (await ops.get(f"/v1/claims/{lapsing}/events")).json()
            if any(e["type"] == "appeal_window_closed" for e in listed):
                break
            await asyncio.sleep(1)
    late = await post_action(ops, lapsing, "appeal", appeal)
    assert late.status_code == 409 and message(late).startswith("the appeal window ended on ")


async def test_an_appeal_under_a_profile_that_grants_none_is_refused(api: ApiHarness):
    ops = await api.as_role(Role.OPS)
    created = await ops.post("/v1/claims", json=referral_payload("NY-WC"))
    assert created.status_code == 201, created.text
    claim_id = created.json()["claim_id"]
    await wait_until(ops, claim_id, lambda c: c["stage"] != "REFERRAL")
    withdrawn = await post_action(ops, claim_id, "withdraw", {"reason": "test done"})
    assert withdrawn.status_code == 200
    await wait_until(ops, claim_id, lambda c: c["status"] == "closed")
    await asyncio.sleep(1)  # the run's closing steps end it
    appeal = {"received_at": datetime.now(UTC).isoformat(), "reason": "disagree"}
    refused = await post_action(ops, claim_id, "appeal", appeal)
    assert refused.status_code == 409
    assert message(refused).startswith("NY-WC grants no appeal through this service")
