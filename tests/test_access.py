"""Who may do what, through the real app with real keys: every role by every route and action.

Expected codes are written out here from PRODUCT §6 and the action table of the access issue,
not derived from the code under test. Order of checks: 401 (who), 404 (a claim outside the
caller's scope), 403 (may read, may not act), 422 (the body), 409 (the claim's state). On a
closed claim every caller gets its refusal; on claims in the stage where each action applies,
every permitted (role, action) succeeds (200) and everyone else is refused by role.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from domain.names import Role
from store import api_keys
from store.access_log import for_claim
from tests.helpers.app import ApiHarness
from tests.helpers.config import claim_activities, make_settings
from tests.helpers.referrals import complete_report, referral_payload
from tests.helpers.stack import dev_address, signing_at_server_time, time_skipping_server
from tests.helpers.walk import Parties, post_action, wait_until, walk_to_report_stage
from worker import build_worker

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
    "decision": {"outcome": "approved", "reason_code": "IME_SUPPORTS"},
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


async def everyone(api: ApiHarness, matrix: Matrix, claim: dict) -> dict[str, httpx.AsyncClient]:
    """A client of every kind of caller for `claim`: the matrix's (each role, another insurer
    and examiner), the examiner the claim was booked with, no key, and keys revoked, expired and
    malformed."""
    revoked_key = await api.key(Role.OPS)
    key_id = revoked_key.split("_")[1]
    await api_keys.revoke(api.pool, key_id)
    expired = await api.key(Role.OPS, expires_at=datetime.now(UTC) - timedelta(minutes=1))
    clients = matrix.callers | {
        "examiner": await matrix.examiner_of(claim),
        "no_key": api.client(None),
        "revoked": api.client(revoked_key),
        "expired": api.client(expired),
        "malformed": api.client("not-a-key"),
    }
    assert set(clients) == EVERYONE
    return clients


@pytest.fixture
async def callers(api: ApiHarness, parties: Parties) -> tuple[dict[str, httpx.AsyncClient], dict]:
    claim = await closed_claim_with_a_safety_case(parties)
    # The parties' own keys: the timeline shows each party the key it acted with.
    matrix = await Matrix.of(api, known=parties)
    return await everyone(api, matrix, claim), claim


async def test_every_role_gets_exactly_its_answer_on_every_route_and_action(api: ApiHarness):
    # Every permitted (role, action) succeeds where its action applies (below); the claim the
    # examiner's own key walked to its decision (a safety case raised and resolved on the way,
    # so that every reading role reads it) then serves the refusals on a closed claim.
    matrix = await Matrix.of(api)
    claim = await every_permitted_pair_succeeds(matrix)
    clients = await everyone(api, matrix, claim)
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
        # The referral's questions: to the report's readers, whom they are answered for.
        questions = await http.get(f"/v1/claims/{claim_id}/questions")
        got[(who, "GET /questions")] = questions.status_code
        want[(who, "GET /questions")] = want[(who, "GET /report")]
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
    await every_role_gets_exactly_its_answer_on_the_other_routes((clients, claim))


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
        "user_id": None,
        "user_name": None,
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


# --- every permitted (role, action): 200 on a claim in the stage where the action applies ------
#
# On a closed claim even a permitted action is refused (409). Before the first test's matrix
# of refusals, every pair the action table permits acts on a claim where its action applies and
# succeeds (200), the examiner with their own key; on the same claims, just before, everyone
# else is refused by role (403, or 404 for who cannot read the claim) where the action would
# succeed. Claims that only take actions on their booking are fresh for each action; the rest
# are two walks from booking to decision, each step one permitted pair.

PERMITTED = {(who, action) for action, roles in ACTORS.items() for who in roles}
# Only ERISA-LTD grants decision extensions and sends the claimant's report copy on request
# (DEMO: none, and the copy goes out by itself): those pairs are shown on an ERISA-LTD claim.
ERISA_PAIRS = {
    (who, action)
    for action in ("extend-decision", "request-report-copy")
    for who in ("insurer", "ops")
}
# The sample referral asks for an orthopaedic surgeon for a claimant in New York: the panel's
# two such examiners.
NY_ORTHOPAEDISTS = ("ex-ny-orthopedic-surgery-1", "ex-ny-orthopedic-surgery-2")
# Who reads a claim (PRODUCT §6 and the access issue): ops and the claim's insurer always, the
# examiner it is booked with; reviewers once a report was filed; clinicians once it had a
# safety case.
BOOKED_READERS = {"ops", "insurer", "examiner"}
REVIEWERS = {"reviewer", "senior_reviewer"}
IMMINENT = {"level": "imminent", "toward": "self", "notes": "stated a plan"}


class Matrix:
    """The callers of one app (every authenticated kind, the examiner's own key per claim), and
    the permitted pairs seen to succeed."""

    def __init__(self, api: ApiHarness, callers: dict[str, httpx.AsyncClient]) -> None:
        self.api = api
        self.callers = callers
        self.ok: set[tuple[str, str]] = set()

    @classmethod
    async def of(cls, api: ApiHarness, known: Parties | None = None) -> Matrix:
        """With new keys for every caller, or the `known` parties' for theirs."""
        roles = {
            "ops": (Role.OPS, None),
            "insurer": (Role.INSURER, "acme-ins"),  # the sample referral's insurer
            "other_insurer": (Role.INSURER, "other-ins"),
            "reviewer": (Role.REVIEWER, None),
            "senior_reviewer": (Role.SENIOR_REVIEWER, None),
            "clinician": (Role.CLINICIAN, None),
            "sre": (Role.SRE, None),
        }
        callers = {who: await api.as_role(role, insurer=ins) for who, (role, ins) in roles.items()}
        if known is not None:
            callers |= {
                "ops": known.ops,
                "insurer": known.insurer,
                "reviewer": known.reviewer,
                "clinician": known.clinician,
            }
        callers["other_examiner"] = await api.as_role(Role.EXAMINER, examiner="ex-ca-neurology-1")
        return cls(api, callers)

    async def examiner_of(self, claim: dict) -> httpx.AsyncClient:
        """The own key of the examiner the claim is booked with."""
        return await self.api.as_role(Role.EXAMINER, examiner=claim["examiner"]["id"])

    async def booked(self, jurisdiction: str = "DEMO", **changes: object) -> dict:
        """A new claim of the insurer's, booked (SCHEDULING, not confirmed)."""
        referral = referral_payload(jurisdiction, **changes)
        created = await self.callers["insurer"].post("/v1/claims", json=referral)
        assert created.status_code == 201, created.text
        claim_id = created.json()["claim_id"]
        return await wait_until(
            self.callers["insurer"], claim_id, lambda c: c["appointment"] is not None
        )

    async def succeeds(
        self, who: str, http: httpx.AsyncClient, claim_id: str, action: str, body, stage: str
    ) -> dict:
        """`who` takes `action`: 200, and the claim is in `stage` after it."""
        answer = await post_action(http, claim_id, action, body)
        assert answer.status_code == 200, (who, action, answer.text)
        status = answer.json()
        assert status["stage"] == stage, (who, action, status["stage"])
        self.ok.add((who, action))
        return status

    async def refused(
        self, claim_id: str, action: str, examiner: httpx.AsyncClient, readers: set[str]
    ) -> None:
        """Everyone the action table does not name for `action` is refused: 403 if they read
        the claim, 404 if they do not."""
        got: dict[str, int] = {}
        want: dict[str, int] = {}
        for who, http in (self.callers | {"examiner": examiner}).items():
            if who not in ACTORS[action]:
                answer = await post_action(http, claim_id, action, VALID_BODIES[action])
                got[who] = answer.status_code
                want[who] = 403 if who in readers else 404
        assert got == want, action


async def until_started(claim: dict) -> None:
    """Until the claim's appointment has started (the dev server's clock is the wall clock)."""
    starts_at = datetime.fromisoformat(claim["appointment"]["starts_at"])
    await asyncio.sleep(max(0.0, (starts_at - datetime.now(UTC)).total_seconds()) + 0.5)


async def walk_with_the_examiners_own_key(m: Matrix) -> dict:
    """From booking to decision: the examiner confirms with their own key; the insurer raises
    a safety case and the clinician works it; the examiner records the exam and files the
    report; every reader raises a concern; the reviewer accepts; the insurer decides."""
    c = m.callers
    claim = await m.booked()
    claim_id = claim["claim_id"]
    examiner = await m.examiner_of(claim)
    readers = set(BOOKED_READERS)

    # Confirmed soon after the booking, within DEMO's 20-second confirmation window.
    for action in (
        "assign",
        "confirm-appointment",
        "decline-appointment",
        "reschedule",
        "withdraw",
    ):
        await m.refused(claim_id, action, examiner, readers)
    confirm = VALID_BODIES["confirm-appointment"]
    confirmed = await m.succeeds(
        "examiner", examiner, claim_id, "confirm-appointment", confirm, "EXAM"
    )

    await m.succeeds("insurer", c["insurer"], claim_id, "safety-concern", IMMINENT, "EXAM")
    readers.add("clinician")  # the claim has a safety case now
    for action in ("safety-ack", "safety-resolve"):
        await m.refused(claim_id, action, examiner, readers)
    ack = VALID_BODIES["safety-ack"]
    await m.succeeds("clinician", c["clinician"], claim_id, "safety-ack", ack, "EXAM")
    resolve = VALID_BODIES["safety-resolve"]
    await m.succeeds("clinician", c["clinician"], claim_id, "safety-resolve", resolve, "EXAM")
    await wait_until(c["insurer"], claim_id, lambda s: s["safety_hold"] is False)

    await m.refused(claim_id, "exam", examiner, readers)
    await until_started(confirmed)
    await m.succeeds("examiner", examiner, claim_id, "exam", VALID_BODIES["exam"], "REPORT")

    await m.refused(claim_id, "report", examiner, readers)
    await m.succeeds("examiner", examiner, claim_id, "report", VALID_BODIES["report"], "REVIEW")

    readers |= REVIEWERS  # a report was filed
    await m.refused(claim_id, "safety-concern", examiner, readers)
    moderate = VALID_BODIES["safety-concern"]
    for who in sorted(READERS):
        http = examiner if who == "examiner" else c[who]
        await m.succeeds(who, http, claim_id, "safety-concern", moderate, "REVIEW")
    await m.refused(claim_id, "review", examiner, readers)
    accept = VALID_BODIES["review"]
    await m.succeeds("reviewer", c["reviewer"], claim_id, "review", accept, "DECISION")

    await m.refused(claim_id, "decision", examiner, readers)
    decide = VALID_BODIES["decision"]
    await m.succeeds("insurer", c["insurer"], claim_id, "decision", decide, "CLOSED")
    return await wait_until(c["insurer"], claim_id, lambda s: s["status"] == "closed")


async def walk_with_ops_and_the_senior_reviewer(m: Matrix) -> None:
    """From booking to decision: ops confirm, record the exam, file the report (on the
    examiner's behalf) and decide; the senior reviewer accepts."""
    ops = m.callers["ops"]
    claim = await m.booked()
    claim_id = claim["claim_id"]
    confirm = VALID_BODIES["confirm-appointment"]
    confirmed = await m.succeeds("ops", ops, claim_id, "confirm-appointment", confirm, "EXAM")
    await until_started(confirmed)
    await m.succeeds("ops", ops, claim_id, "exam", VALID_BODIES["exam"], "REPORT")
    await m.succeeds("ops", ops, claim_id, "report", VALID_BODIES["report"], "REVIEW")
    senior = m.callers["senior_reviewer"]
    accept = VALID_BODIES["review"]
    await m.succeeds("senior_reviewer", senior, claim_id, "review", accept, "DECISION")
    await m.succeeds("ops", ops, claim_id, "decision", VALID_BODIES["decision"], "CLOSED")


async def act_on_a_booking_then_withdraw(m: Matrix, who: str, action: str, withdrawer: str):
    """A fresh booked claim: `who` takes `action` on the booking (it stays in SCHEDULING, to be
    booked again), then `withdrawer` withdraws the claim."""
    claim = await m.booked()
    claim_id = claim["claim_id"]
    examiner = await m.examiner_of(claim)
    http = examiner if who == "examiner" else m.callers[who]
    body = VALID_BODIES[action]
    if action == "assign":  # the other orthopaedist than the one booked
        (other,) = [e for e in NY_ORTHOPAEDISTS if e != claim["examiner"]["id"]]
        body = {"examiner_id": other}
    status = await m.succeeds(who, http, claim_id, action, body, "SCHEDULING")
    if action == "assign":
        assert status["examiner"]["id"] == other
    withdraw = VALID_BODIES["withdraw"]
    await m.succeeds(withdrawer, m.callers[withdrawer], claim_id, "withdraw", withdraw, "CLOSED")


async def every_permitted_pair_succeeds(m: Matrix) -> dict:
    """Every permitted pair but ERISA-LTD's succeeds; the claim closed by the examiner's own
    walk."""
    examiners_walk = asyncio.create_task(walk_with_the_examiners_own_key(m))
    await asyncio.gather(
        examiners_walk,
        walk_with_ops_and_the_senior_reviewer(m),
        act_on_a_booking_then_withdraw(m, "examiner", "decline-appointment", "insurer"),
        act_on_a_booking_then_withdraw(m, "ops", "decline-appointment", "ops"),
        act_on_a_booking_then_withdraw(m, "ops", "assign", "insurer"),
        act_on_a_booking_then_withdraw(m, "examiner", "reschedule", "ops"),
        act_on_a_booking_then_withdraw(m, "ops", "reschedule", "insurer"),
        act_on_a_booking_then_withdraw(m, "insurer", "reschedule", "ops"),
    )
    assert m.ok == PERMITTED - ERISA_PAIRS
    return examiners_walk.result()


@pytest.fixture
async def erisa_api(
    database_url: str, task_queue: str, pool: asyncpg.Pool
) -> AsyncIterator[tuple[WorkflowEnvironment, ApiHarness]]:
    """The app and a worker on a time-skipping server of their own: an ERISA-LTD exam is booked
    in office hours days ahead, which the test skips to."""
    async with time_skipping_server() as env:
        settings = make_settings(database_url, task_queue, dev_address(env))
        app = create_app(settings)
        worker = build_worker(env.client, settings, claim_activities(pool))
        async with worker, app.router.lifespan_context(app):
            signing_at_server_time(app.state.temporal, env)
            harness = ApiHarness(app, pool, settings)
            try:
                yield env, harness
            finally:
                await harness.close()


async def test_the_insurer_and_ops_extend_the_decision_and_ask_for_the_report_copy(erisa_api):
    env, api = erisa_api
    m = await Matrix.of(api)
    c = m.callers
    claim = await m.booked("ERISA-LTD", claim_type="long_term_disability")
    claim_id = claim["claim_id"]
    examiner = await m.examiner_of(claim)
    confirm = VALID_BODIES["confirm-appointment"]
    confirmed = await m.succeeds(
        "examiner", examiner, claim_id, "confirm-appointment", confirm, "EXAM"
    )
    starts_at = datetime.fromisoformat(confirmed["appointment"]["starts_at"])
    await env.sleep(starts_at - await env.get_current_time() + timedelta(minutes=1))
    await m.succeeds("examiner", examiner, claim_id, "exam", VALID_BODIES["exam"], "REPORT")
    await m.succeeds("examiner", examiner, claim_id, "report", VALID_BODIES["report"], "REVIEW")
    accept = VALID_BODIES["review"]
    await m.succeeds("reviewer", c["reviewer"], claim_id, "review", accept, "DECISION")

    readers = BOOKED_READERS | REVIEWERS  # no safety case: not the clinician's
    for action in ("extend-decision", "request-report-copy"):
        await m.refused(claim_id, action, examiner, readers)
    extend = VALID_BODIES["extend-decision"]
    for who in ("insurer", "ops"):  # 29 CFR 2560.503-1(f)(3): two extensions
        await m.succeeds(who, c[who], claim_id, "extend-decision", extend, "DECISION")
    third = await post_action(c["insurer"], claim_id, "extend-decision", extend)
    assert third.status_code == 409
    assert third.json()["error"]["message"] == (
        "no decision extension left under ERISA-LTD (2 allowed)"
    )
    copy = VALID_BODIES["request-report-copy"]
    for who in ("insurer", "ops"):
        await m.succeeds(who, c[who], claim_id, "request-report-copy", copy, "DECISION")
    assert m.ok >= ERISA_PAIRS


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
