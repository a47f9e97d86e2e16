"""Who may do what, through the real app with real keys: every role by every route and action.

Expected codes are written out here from PRODUCT §6 and the action table of the access issue,
not derived from the code under test. Order of checks: 401 (who), 404 (a claim outside the
caller's scope), 403 (may read, may not act), 422 (the body), 409 (the claim's state).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from domain.names import Role
from store import api_keys
from store.access_log import for_claim
from tests.conftest import ApiHarness
from tests.factories import complete_report, referral_payload
from tests.walk import Parties, post_action, wait_until, walk_to_report_stage

UNAUTHENTICATED = ("no_key", "revoked", "expired", "malformed")
READERS = {"ops", "insurer", "examiner", "reviewer", "senior_reviewer", "clinician"}
EVERYONE = READERS | {"other_insurer", "other_examiner", "sre", *UNAUTHENTICATED}
# The action table: who may take each action on a claim they can read.
ACTORS = {
    "assign": {"ops"},
    "confirm-appointment": {"examiner", "ops"},
    "decline-appointment": {"examiner", "ops"},
    "exam": {"examiner", "ops"},
    "report": {"examiner", "ops"},
    "reschedule": {"ops", "examiner", "insurer"},
    "review": {"reviewer", "senior_reviewer"},
    "decision": {"insurer", "ops"},
    "extend-decision": {"insurer", "ops"},
    "withdraw": {"insurer", "ops"},
    "safety-concern": READERS,
    "safety-ack": {"clinician"},
    "safety-resolve": {"clinician"},
    "request-report-copy": {"insurer", "ops"},
}
# Who reads the examination report: the claim's parties. A clinician reads the claim (its safety
# case) but not the report: 404, as for those who cannot read the claim.
REPORT_READERS = {"ops", "insurer", "examiner", "reviewer", "senior_reviewer"}
VALID_BODIES = {
    "assign": {"examiner_id": "ex-ny-neurology-1"},
    "confirm-appointment": {},
    "decline-appointment": {"reason": "on leave"},
    "exam": {"attended": True, "risk_screen": {"level": "none"}},
    "report": complete_report(),
    "reschedule": {"reason": "ill", "requested_by": "claimant"},
    "review": {"result": "accepted", "reasons": []},
    "decision": {"outcome": "approved", "reason_code": "OK"},
    "extend-decision": {"reason": "records"},
    "withdraw": {"reason": "settled"},
    "safety-concern": {"level": "moderate", "toward": "self"},
    "safety-ack": {"clinician_id": "dr-1"},
    "safety-resolve": {"actions_taken": ["warm_handoff"]},
    "request-report-copy": {"reason": "the claimant asked"},
}


def expected_for_action(caller: str, action: str, *, valid_body: bool) -> int:
    if caller in UNAUTHENTICATED:
        return 401
    if caller not in READERS:
        return 404
    if caller not in ACTORS[action]:
        return 403
    return 409 if valid_body else 422  # the claim is closed; a malformed body is refused first


async def closed_claim_with_a_safety_case(parties: Parties) -> dict:
    """A DEMO claim walked to CLOSED/approved, with a safety case raised and resolved on the way:
    something for every reading role (insurer, examiner, reviewer, clinician) to see."""
    http = parties.insurer
    claim_id = (await walk_to_report_stage(parties))["claim_id"]
    steps = [
        (parties.ops, "report", complete_report()),
        (parties.reviewer, "review", {"result": "accepted"}),
        (http, "decision", {"outcome": "approved", "reason_code": "IME_SUPPORTS"}),
    ]
    for party, action, body in steps:
        answer = await post_action(party, claim_id, action, body)
        assert answer.status_code == 200, (action, answer.text)
    return await wait_until(http, claim_id, lambda c: c["version"] >= 10)


@pytest.fixture
async def callers(api: ApiHarness, parties: Parties) -> tuple[dict[str, httpx.AsyncClient], dict]:
    claim = await closed_claim_with_a_safety_case(parties)
    revoked_key = await api.key(Role.OPS)
    key_id = revoked_key.split("_")[1]
    await api_keys.revoke(api.pool, key_id)
    expired = await api.key(Role.OPS, expires_at=datetime.now(UTC) - timedelta(minutes=1))
    clients = {
        "ops": parties.ops,
        "insurer": parties.insurer,
        "other_insurer": await api.as_role(Role.INSURER, insurer="other-ins"),
        "examiner": await api.as_role(Role.EXAMINER, examiner=claim["examiner"]["id"]),
        "other_examiner": await api.as_role(Role.EXAMINER, examiner="ex-ca-neurology-1"),
        "reviewer": parties.reviewer,
        "senior_reviewer": await api.as_role(Role.SENIOR_REVIEWER),
        "clinician": parties.clinician,
        "sre": await api.as_role(Role.SRE),
        "no_key": api.client(None),
        "revoked": api.client(revoked_key),
        "expired": api.client(expired),
        "malformed": api.client("not-a-key"),
    }
    assert set(clients) == EVERYONE
    return clients, claim


async def test_every_role_gets_exactly_its_answer_on_every_route_and_action(
    callers, api: ApiHarness
):
    clients, claim = callers
    claim_id = claim["claim_id"]
    got: dict[tuple[str, str], int] = {}
    want: dict[tuple[str, str], int] = {}
    for who, http in clients.items():
        unauthenticated = who in UNAUTHENTICATED
        for route in ("", "/events"):
            answer = await http.get(f"/v1/claims/{claim_id}{route}")
            got[(who, f"GET {route or '/'}")] = answer.status_code
            want[(who, f"GET {route or '/'}")] = (
                401 if unauthenticated else 200 if who in READERS else 404
            )
        report = await http.get(f"/v1/claims/{claim_id}/report")
        got[(who, "GET /report")] = report.status_code
        want[(who, "GET /report")] = (
            401 if unauthenticated else 200 if who in REPORT_READERS else 404
        )
        for action, body in VALID_BODIES.items():
            url = f"/v1/claims/{claim_id}/actions/{action}"
            answer = await http.post(url, json=body)
            got[(who, f"{action} valid")] = answer.status_code
            want[(who, f"{action} valid")] = expected_for_action(who, action, valid_body=True)
            broken = await http.post(
                url, content=b"{not json", headers={"content-type": "application/json"}
            )
            got[(who, f"{action} malformed")] = broken.status_code
            want[(who, f"{action} malformed")] = expected_for_action(who, action, valid_body=False)
    assert got == want
    for who in UNAUTHENTICATED:
        answer = await clients[who].get(f"/v1/claims/{claim_id}")
        assert answer.headers["www-authenticate"] == "Bearer"
        assert answer.json()["error"]["code"] == "unauthenticated"
    await every_role_gets_exactly_its_answer_on_the_other_routes(callers)


# One claim walked for all that follows (the walk is the slow part).
async def test_each_caller_sees_only_its_own_and_every_access_is_logged(callers, api: ApiHarness):
    await lists_hold_only_what_each_caller_may_read(callers)
    await the_timeline_says_who_acted_and_only_ops_see_which_key(callers)
    await reads_and_actions_are_in_the_access_log(callers, api)


async def every_role_gets_exactly_its_answer_on_the_other_routes(callers) -> None:
    clients, _ = callers
    payloads = {"payloads": [{"metadata": {"encoding": _b64(b"json/plain")}, "data": _b64(b"1")}]}
    got: dict[tuple[str, str], int] = {}
    want: dict[tuple[str, str], int] = {}

    def expect(who: str, route: str, allowed: set[str], ok: int) -> None:
        want[(who, route)] = 401 if who in UNAUTHENTICATED else ok if who in allowed else 403

    for n, (who, http) in enumerate(clients.items()):
        referral = referral_payload("DEMO")  # insurer acme-ins
        got[(who, "POST /v1/claims")] = (await http.post("/v1/claims", json=referral)).status_code
        expect(who, "POST /v1/claims", {"ops", "insurer"}, 201)
        got[(who, "GET /v1/claims")] = (await http.get("/v1/claims")).status_code
        expect(who, "GET /v1/claims", READERS | {"other_insurer", "other_examiner"}, 200)
        got[(who, "GET /v1/examiners")] = (await http.get("/v1/examiners")).status_code
        expect(who, "GET /v1/examiners", {"ops"}, 200)
        examiner = {
            "id": f"ex-matrix-{n}",
            "name": "Dr. Matrix",
            "npi": f"17{n:08d}",
            "specialty": "neurology",
            "licensed_states": ["NY"],
            "location": "Albany",
        }
        got[(who, "POST /v1/examiners")] = (
            await http.post("/v1/examiners", json=examiner)
        ).status_code
        expect(who, "POST /v1/examiners", {"ops"}, 201)
        for op in ("encode", "decode"):
            answer = await http.post(f"/codec/{op}", json=payloads)
            got[(who, f"POST /codec/{op}")] = answer.status_code
            expect(who, f"POST /codec/{op}", {"sre", "ops"}, 200)
        got[(who, "GET /metrics")] = (await http.get("/metrics")).status_code
        expect(who, "GET /metrics", {"sre", "ops"}, 200)
    assert got == want

    # An insurer starts claims for itself only: another insurer's id is forbidden, not invalid.
    other = referral_payload("DEMO") | {"insurer_id": "other-ins"}
    assert (await clients["insurer"].post("/v1/claims", json=other)).status_code == 403
    assert (await clients["other_insurer"].post("/v1/claims", json=other)).status_code == 201


async def lists_hold_only_what_each_caller_may_read(callers) -> None:
    clients, claim = callers
    claim_id = claim["claim_id"]

    async def listed(who: str) -> set[str]:
        page = (await clients[who].get("/v1/claims", params={"limit": 200})).json()
        return {c["claim_id"] for c in page["items"]}

    for who in READERS:
        assert claim_id in await listed(who), who
    for who in ("other_insurer", "other_examiner"):
        assert claim_id not in await listed(who), who
    insurer_claims = (await clients["insurer"].get("/v1/claims")).json()["items"]
    assert {c["insurer_id"] for c in insurer_claims} == {"acme-ins"}
    examiner_claims = (await clients["examiner"].get("/v1/claims")).json()["items"]
    assert {c["examiner"]["id"] for c in examiner_claims} == {claim["examiner"]["id"]}


async def the_timeline_says_who_acted_and_only_ops_see_which_key(callers) -> None:
    clients, claim = callers
    claim_id = claim["claim_id"]
    events = (await clients["ops"].get(f"/v1/claims/{claim_id}/events")).json()
    acted = {e["type"]: e["acted_by"] for e in events}
    assert acted["referral_received"]["role"] == "insurer"
    assert acted["referral_received"]["insurer_id"] == "acme-ins"
    assert acted["appointment_confirmed"]["role"] == "ops"
    assert acted["report_accepted"]["role"] == "reviewer"
    assert acted["decision_issued"]["role"] == "insurer"
    assert all(acted[t]["key_id"] for t in ("report_accepted", "decision_issued"))
    assert acted["appointment_booked"] is None  # the claim's own step
    assert {e["actor"] for e in events if e["type"] == "report_accepted"} == {"reviewer"}

    seen_by_insurer = (await clients["insurer"].get(f"/v1/claims/{claim_id}/events")).json()
    by_type = {e["type"]: e["acted_by"] for e in seen_by_insurer}
    assert by_type["report_accepted"] == {
        "role": "reviewer",
        "key_id": None,
        "key_name": None,
        "insurer_id": None,
        "examiner_id": None,
    }
    assert by_type["decision_issued"]["key_id"] is not None  # the insurer's own key


async def reads_and_actions_are_in_the_access_log(callers, api: ApiHarness) -> None:
    clients, claim = callers
    claim_id = claim["claim_id"]
    await clients["insurer"].get(f"/v1/claims/{claim_id}")
    await clients["other_insurer"].get(f"/v1/claims/{claim_id}")
    await post_action(clients["reviewer"], claim_id, "withdraw", {"reason": "x"})
    logged = await for_claim(api.pool, claim_id)
    entries = [
        (e.entry.role, e.entry.method, e.entry.route, e.entry.action, e.entry.status)
        for e in logged
    ]
    assert ("insurer", "GET", "/v1/claims/{claim_id}", None, 200) in entries
    assert ("insurer", "GET", "/v1/claims/{claim_id}", None, 404) in entries  # other insurer
    assert (
        "reviewer",
        "POST",
        "/v1/claims/{claim_id}/actions/withdraw",
        "withdraw",
        403,
    ) in entries
    assert all(e.entry.request_id for e in logged)
    other = [e for e in logged if e.entry.insurer_id == "other-ins"]
    assert other and all(e.entry.status == 404 for e in other)
    with pytest.raises(Exception, match="append-only"):
        await api.pool.execute("DELETE FROM access_log WHERE claim_id = $1", claim_id)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
