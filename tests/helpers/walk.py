"""Walking a DEMO claim through the HTTP API the way the README's curl lines do."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import httpx

# The happy path's events are the chaos checks' too: one list, kept with them.
from chaos.expected import HAPPY_PATH_EVENTS as HAPPY_PATH_EVENTS
from domain.names import Role
from tests.helpers.referrals import complete_report, referral_payload

if TYPE_CHECKING:
    from tests.helpers.app import ApiHarness


@dataclass(frozen=True)
class Parties:
    """Who plays which part of a claim: the insurer (acme-ins, the sample referral's), operations
    on the examiner's behalf, a reviewer, a clinician."""

    insurer: httpx.AsyncClient
    ops: httpx.AsyncClient
    reviewer: httpx.AsyncClient
    clinician: httpx.AsyncClient


async def post_action(http: httpx.AsyncClient, claim_id: str, action: str, body=None):
    return await http.post(f"/v1/claims/{claim_id}/actions/{action}", json=body or {})


async def wait_until(http: httpx.AsyncClient, claim_id: str, predicate, timeout=30.0) -> dict:
    async with asyncio.timeout(timeout):
        while True:
            body = (await http.get(f"/v1/claims/{claim_id}")).json()
            if predicate(body):
                return body
            await asyncio.sleep(0.1)


async def walk_demo_claim_to_approval(parties: Parties) -> tuple[dict, list[dict]]:
    """POST a DEMO referral, play every human step, return the final status and the events."""
    http = parties.insurer
    created = await http.post("/v1/claims", json=referral_payload("DEMO"))
    assert created.status_code == 201, created.text
    claim_id = created.json()["claim_id"]

    booked = await wait_until(http, claim_id, lambda c: c["appointment"] is not None)
    assert booked["stage"] == "SCHEDULING"
    confirmed = await post_action(parties.ops, claim_id, "confirm-appointment")
    assert confirmed.status_code == 200 and confirmed.json()["stage"] == "EXAM"
    starts_at = datetime.fromisoformat(confirmed.json()["appointment"]["starts_at"])
    await asyncio.sleep(max(0.0, (starts_at - datetime.now(UTC)).total_seconds()) + 0.5)

    exam = {"attended": True, "risk_screen": {"level": "none", "toward": None}}
    steps = [
        (parties.ops, "exam", exam, "REPORT"),
        (parties.ops, "report", complete_report(), "REVIEW"),
        (parties.reviewer, "review", {"result": "accepted", "reasons": []}, "DECISION"),
        (http, "decision", {"outcome": "approved", "reason_code": "IME_SUPPORTS"}, "CLOSED"),
    ]
    for party, action, body, stage in steps:
        answer = await post_action(party, claim_id, action, body)
        assert answer.status_code == 200, (action, answer.text)
        assert answer.json()["stage"] == stage

    final = await wait_until(http, claim_id, lambda c: c["version"] >= len(HAPPY_PATH_EVENTS))
    events = (await http.get(f"/v1/claims/{claim_id}/events")).json()
    return final, events


async def walk_to_report_stage(parties: Parties) -> dict:
    """A DEMO claim with a safety case raised and resolved (so a clinician can read the claim),
    walked to REPORT: the exam took place, no report yet."""
    http = parties.insurer
    claim_id = (await http.post("/v1/claims", json=referral_payload("DEMO"))).json()["claim_id"]
    await wait_until(http, claim_id, lambda c: c["appointment"] is not None)
    concern = {"level": "imminent", "toward": "self", "notes": "plan"}
    assert (await post_action(http, claim_id, "safety-concern", concern)).status_code == 200
    ack = await post_action(parties.clinician, claim_id, "safety-ack", {"clinician_id": "dr-1"})
    assert ack.status_code == 200, ack.text
    resolve = {"actions_taken": ["warm_handoff"]}
    assert (await post_action(parties.clinician, claim_id, "safety-resolve", resolve)).is_success
    await wait_until(http, claim_id, lambda c: not c["safety_hold"])
    confirmed = await post_action(parties.ops, claim_id, "confirm-appointment")
    assert confirmed.status_code == 200, confirmed.text
    starts_at = datetime.fromisoformat(confirmed.json()["appointment"]["starts_at"])
    await asyncio.sleep(max(0.0, (starts_at - datetime.now(UTC)).total_seconds()) + 0.5)
    exam = await post_action(parties.ops, claim_id, "exam", {"attended": True})
    assert exam.status_code == 200 and exam.json()["stage"] == "REPORT", exam.text
    return exam.json()


async def walk_to_review(
    api: ApiHarness, insurer_id: str = "acme-ins"
) -> tuple[dict, httpx.AsyncClient]:
    """A DEMO claim of `insurer_id` walked through the API to REVIEW: booked, confirmed by ops,
    examined, the complete report filed by the booked examiner's key. The claim (as the report's
    filing answered) and that examiner's key."""
    insurer = await api.as_role(Role.INSURER, insurer=insurer_id)
    ops = await api.as_role(Role.OPS)
    created = await insurer.post("/v1/claims", json=referral_payload("DEMO"))
    assert created.status_code == 201, created.text
    claim_id = created.json()["claim_id"]
    booked = await wait_until(insurer, claim_id, lambda c: c["appointment"] is not None)
    examiner = await api.as_role(Role.EXAMINER, examiner=booked["examiner"]["id"])
    confirmed = await post_action(ops, claim_id, "confirm-appointment")
    assert confirmed.status_code == 200, confirmed.text
    starts = datetime.fromisoformat(confirmed.json()["appointment"]["starts_at"])
    await asyncio.sleep(max(0.0, (starts - datetime.now(UTC)).total_seconds()) + 0.5)
    exam = {"attended": True, "risk_screen": {"level": "none"}}
    assert (await post_action(ops, claim_id, "exam", exam)).status_code == 200
    filed = await post_action(examiner, claim_id, "report", complete_report())
    assert filed.status_code == 200 and filed.json()["stage"] == "REVIEW", filed.text
    return filed.json(), examiner
