"""The safety ladder in the claim's timeline, as each role sees it, and safety cases that live for
weeks (continue-as-new), on the time-skipping server. Reads and actions go through the
`ClaimService` the API and the CLI share, with callers of each role."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import asyncpg
import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from claim_service import ClaimService
from domain.models import Caller, Referral, SafetyCaseStatus, TimelineEvent, Withdraw
from domain.names import Action, Query, Role
from domain.timeline import hidden_from, sees_case_steps
from store import case_events, inbox
from tests.helpers.claims import (
    act_and_finish,
    examiner_of,
    start_claim,
    start_demo_claim,
    wait_for,
)
from tests.helpers.config import TEST_SEALER, make_settings
from tests.helpers.histories import keep_history
from tests.helpers.referrals import referral_payload
from tests.helpers.walk import Parties, post_action, wait_until
from workflows.lifespan import HISTORY_LIMIT

# Clinical notes a clinician writes: they must never reach a timeline.
SCREEN_NOTES = "stated a plan to hurt a named coworker"
RESOLVE_NOTES = "admitted voluntarily; coworker informed"

OPS = Caller(role=Role.OPS, key_id="ops-key", key_name="ops")
INSURER = Caller(role=Role.INSURER, key_id="ins-key", key_name="acme", insurer_id="acme-ins")
CLINICIAN = Caller(role=Role.CLINICIAN, key_id="clin-key", key_name="on call")
HOLD = {"safety_hold_placed", "safety_hold_lifted"}
# The safety branch's steps (PRODUCT §4), written out: the rungs a safety case records in its
# own timeline...
CASE_STEPS = {
    "safety_page_sent",
    "safety_ack_missed",
    "medical_director_paged",
    "duty_to_protect_opened",
    "duty_to_protect_closed",
    "safety_case_acknowledged",
    "safety_follow_up_sent",
    "safety_case_resolved",
}
# ... and a moderate risk's referral to treatment (a claim event). The ladder is for those who
# act on it; everyone else who reads the claim sees of the branch only the hold placed and lifted.
LADDER = CASE_STEPS | {"referral_to_treatment"}
# The event types each role may not see in a claim's timeline (§4: the insurer sees
# `safety_hold: true` only, never the clinical detail; the examiner and the reviewers, who read
# the claim for the exam and the report, see no more of it; an SRE reads no claim).
NOT_SEEN: dict[Role, set[str]] = {
    Role.OPS: set(),
    Role.CLINICIAN: set(),
    Role.INSURER: LADDER,
    Role.EXAMINER: LADDER,
    Role.REVIEWER: LADDER,
    Role.SENIOR_REVIEWER: LADDER,
    Role.SRE: LADDER,
}


def service(pool: asyncpg.Pool, client: Client, database_url: str, task_queue: str) -> ClaimService:
    return ClaimService(pool, client, make_settings(database_url, task_queue), TEST_SEALER)


async def timeline_until(
    claims: ClaimService, claim_id: str, caller: Caller, predicate, timeout: float = 30.0
) -> list[TimelineEvent]:
    async with asyncio.timeout(timeout):
        while not predicate(events := await claims.events(claim_id, caller)):
            await asyncio.sleep(0.05)
    return events


def types(events: list[TimelineEvent]) -> list[str]:
    return [e.type.value for e in events]


def case_steps(events: list[TimelineEvent]) -> list[TimelineEvent]:
    return [e for e in events if e.case_id is not None]


def clinical_words_in(events: list[TimelineEvent]) -> list[str]:
    text = json.dumps([e.model_dump(mode="json") for e in events])
    details = json.dumps([e.details for e in events])
    found = [notes for notes in (SCREEN_NOTES, RESOLVE_NOTES, "coworker") if notes in text]
    # Level and direction are clinical too (minimum necessary): not in any event's details.
    return found + [word for word in ("imminent", "others", "self") if word in details]


def expected_ladder(missed: int) -> list[str]:
    """A case toward others, acknowledged after `missed` windows: its own steps in order."""
    steps = ["safety_page_sent", "duty_to_protect_opened"]
    for n in range(1, missed + 1):
        steps += ["safety_ack_missed", "safety_page_sent"]
        if n == 2:
            steps.append("medical_director_paged")
    return [*steps, "safety_case_acknowledged", "safety_case_resolved"]


def test_only_ops_and_clinicians_see_the_ladder_and_every_reader_sees_the_hold():
    assert set(NOT_SEEN) == set(Role)  # a new role gets its row here
    for role, not_seen in NOT_SEEN.items():
        assert {t.value for t in hidden_from(role)} == not_seen, role
        # Case steps are read for those who see them, and only for them.
        assert sees_case_steps(role) is (role in {Role.OPS, Role.CLINICIAN}), role


@pytest.mark.usefixtures("ts_worker")
async def test_an_unacknowledged_case_shows_its_ladder_to_ops_and_clinicians_only(
    ts_env: WorkflowEnvironment, client: Client, task_queue: str, pool, database_url: str
):
    claims = service(pool, client, database_url, task_queue)
    handle = await start_demo_claim(client, task_queue)
    booked = await wait_for(handle, lambda s: s.appointment is not None)
    claim_id = booked.claim_id
    concern = {"level": "imminent", "toward": "others", "notes": SCREEN_NOTES}
    held = await claims.act(claim_id, Action.SAFETY_CONCERN, concern, INSURER)
    assert held.safety_hold is True

    await ts_env.sleep(timedelta(seconds=21))  # two 10-second acknowledgement windows missed
    await timeline_until(claims, claim_id, OPS, lambda ev: "medical_director_paged" in types(ev))

    # Ops close the duty-to-protect task with whom they warned (as `POST /v1/inbox/{id}/done`).
    items = await inbox.for_caller(pool, TEST_SEALER, OPS, include_done=False, limit=100)
    (task,) = [i for i in items if i.kind == "duty_to_protect_task" and i.claim_id == claim_id]
    record = {"note": "police told", "warned": ["police", "the named person"]}
    async with pool.acquire() as conn:
        assert await inbox.close(conn, TEST_SEALER, task, OPS, record) is not None
        assert await inbox.close(conn, TEST_SEALER, task, OPS, record) is None  # once
    await claims.act(claim_id, Action.SAFETY_ACK, {"clinician_id": "dr-on-call"}, CLINICIAN)
    resolution = {
        "actions_taken": ["emergency_services_contacted", "warm_handoff"],
        "notes": RESOLVE_NOTES,
    }
    await claims.act(claim_id, Action.SAFETY_RESOLVE, resolution, CLINICIAN)
    await wait_for(handle, lambda s: not s.safety_hold)
    case = client.get_workflow_handle(f"{handle.id}-safety-1", result_type=SafetyCaseStatus)
    missed = (await case.result()).missed_acknowledgements
    assert missed >= 2

    for reader in (OPS, CLINICIAN):
        events = await timeline_until(
            claims, claim_id, reader, lambda ev: "safety_hold_lifted" in types(ev)
        )
        assert [e.at for e in events] == sorted(e.at for e in events)
        steps = case_steps(events)
        assert {e.case_id for e in steps} == {case.id}
        assert all(e.seq is None and e.stage is None for e in steps)
        # The case's own steps in their order (ops' record of the task is stamped by Postgres'
        # clock, which the time-skipping server's clock has left behind: its place is not
        # checked here).
        own = [e for e in steps if e.type.value != "duty_to_protect_closed"]
        assert types(own) == expected_ladder(missed), reader.role
        pages = [e.details["page"] for e in own if e.type.value == "safety_page_sent"]
        assert pages == list(range(1, missed + 2))
        missed_counts = [e.details["missed"] for e in own if e.type.value == "safety_ack_missed"]
        assert missed_counts == list(range(1, missed + 1))
        (closed,) = [e for e in steps if e.type.value == "duty_to_protect_closed"]
        assert closed.details == {"warned": 2} and closed.actor == "ops"
        (resolved,) = [e for e in steps if e.type.value == "safety_case_resolved"]
        assert resolved.details == {"actions_taken": resolution["actions_taken"]}
        assert resolved.acted_by is not None and resolved.acted_by.role is Role.CLINICIAN
        branch = [t for t in types(events) if t in HOLD or t in CASE_STEPS]
        assert branch.index("safety_hold_placed") < branch.index("safety_case_acknowledged")
        assert branch[-2:] == ["safety_case_resolved", "safety_hold_lifted"]
        # The resolution's notes are the case's record, read back by clinicians only, on the
        # resolution alone; nothing else clinical is in anyone's timeline.
        assert resolved.note == (RESOLVE_NOTES if reader is CLINICIAN else None), reader.role
        others = [e for e in events if e is not resolved]
        assert clinical_words_in(others) == [], reader.role
        assert clinical_words_in([resolved.model_copy(update={"note": None})]) == []
    # Whom ops warned stays sealed with the inbox item, out of every timeline.
    assert "the named person" not in json.dumps(
        [e.model_dump(mode="json") for e in await claims.events(claim_id, OPS)]
    )

    # The insurer and the examiner see the hold placed and lifted, nothing of the ladder.
    # (The examiner's view as the timeline gives it: by now DEMO's confirmation window may have
    # passed and the claim been booked with another examiner.)
    current = await claims.get(claim_id, INSURER)
    examiner = Caller(role=Role.EXAMINER, examiner_id=examiner_of(booked).id)
    for reader in (INSURER, examiner):
        events = await claims.timeline(current, reader)
        assert case_steps(events) == []
        assert [t for t in types(events) if t in HOLD | LADDER] == [
            "safety_hold_placed",
            "safety_hold_lifted",
        ], reader.role
        assert all(e.seq is not None for e in events)

    await act_and_finish(handle, Action.WITHDRAW, Withdraw(reason="settled"))
    await keep_history(handle, "safety_ladder_toward_others")
    await keep_history(case, "safety_case_ladder_toward_others")


@pytest.mark.usefixtures("ts_worker")
async def test_a_moderate_referral_is_in_the_timeline_of_ops_and_clinicians_not_the_insurer(
    client: Client, task_queue: str, pool, database_url: str
):
    claims = service(pool, client, database_url, task_queue)
    handle = await start_demo_claim(client, task_queue)
    booked = await wait_for(handle, lambda s: s.appointment is not None)
    concern = {"level": "moderate", "toward": "self", "notes": SCREEN_NOTES}
    status = await claims.act(booked.claim_id, Action.SAFETY_CONCERN, concern, INSURER)
    assert status.safety_hold is False

    events = await claims.events(status.claim_id, OPS)
    (referral,) = [e for e in events if e.type.value == "referral_to_treatment"]
    assert referral.details == {"source": "concern"} and referral.case_id is None
    assert clinical_words_in(events) == []
    # The clinician's notice rides with the event (the notes go only to their inbox).
    notice = await pool.fetchval(
        "SELECT recipient FROM notification_outbox WHERE claim_id = $1"
        " AND template = 'referral_to_treatment'",
        status.claim_id,
    )
    assert notice == "clinician"
    # A clinician's view (the claim had no safety case, so the API does not list it to them).
    seen = await claims.timeline(status, CLINICIAN)
    assert "referral_to_treatment" in types(seen)

    insurers = await claims.events(status.claim_id, INSURER)
    assert "referral_to_treatment" not in types(insurers)
    assert referral.seq not in [e.seq for e in insurers]

    await act_and_finish(handle, Action.WITHDRAW, Withdraw(reason="settled"))
    await keep_history(handle, "moderate_referral_in_timeline")


async def case_runs(client: Client, case_id: str) -> list[int]:
    """The history length of every run of a case, newest first (following the chain of
    continue-as-new back to the first run)."""
    lengths: list[int] = []
    run_id: str | None = (await client.get_workflow_handle(case_id).describe()).run_id
    while run_id:
        history = await client.get_workflow_handle(case_id, run_id=run_id).fetch_history()
        lengths.append(len(history.events))
        started = history.events[0].workflow_execution_started_event_attributes
        run_id = started.continued_execution_run_id or None
    return lengths


@pytest.mark.long  # ~50 s of replays and re-pages: `make chaos` runs it
async def test_a_case_unacknowledged_for_a_month_continues_as_new_and_still_lifts_the_hold(
    days_env: WorkflowEnvironment, task_queue: str, pool, database_url: str
):
    client = days_env.client
    claims = service(pool, client, database_url, task_queue)
    # NY-WC: a 15-minute acknowledgement window, so a month is about 2,900 re-pages.
    referral = Referral.model_validate(referral_payload("NY-WC"))
    handle = await start_claim(client, referral, task_queue)
    booked = await wait_for(handle, lambda s: s.appointment is not None)
    concern = {"level": "imminent", "toward": "self", "notes": SCREEN_NOTES}
    await claims.act(booked.claim_id, Action.SAFETY_CONCERN, concern, OPS)
    case_id = await handle.query(Query.OPEN_SAFETY_CASE, result_type=str)

    for _ in range(30):  # a day at a time: one skip of a month outlasts the call's deadline
        await days_env.sleep(timedelta(days=1))

    case = client.get_workflow_handle(case_id, result_type=SafetyCaseStatus)
    state = await case.query(Query.SAFETY_CASE_STATE, result_type=SafetyCaseStatus)
    assert state.missed_acknowledgements >= 30 * 24 * 4 - 4
    runs = await case_runs(client, case_id)
    assert len(runs) >= 2, runs
    assert max(runs) <= HISTORY_LIMIT, runs

    # Still the same case for the clinician: acknowledged and resolved on its latest run.
    await claims.act(booked.claim_id, Action.SAFETY_ACK, {"clinician_id": "dr-1"}, CLINICIAN)
    resolution = {"actions_taken": ["referral_to_treatment"], "notes": RESOLVE_NOTES}
    await claims.act(booked.claim_id, Action.SAFETY_RESOLVE, resolution, CLINICIAN)
    # The claim awaits the case through its first run's handle: it gets the last run's result.
    await wait_for(handle, lambda s: not s.safety_hold)
    final = await case.result()
    assert final.resolved and final.missed_acknowledgements == state.missed_acknowledgements

    # Across runs every page went out once under its own key, and the case's steps carry on
    # one sequence.
    pages = await pool.fetchval(
        "SELECT count(*) FROM notification_outbox WHERE claim_id = $1 AND recipient = 'clinician'"
        " AND template = 'safety_page'",
        booked.claim_id,
    )
    assert pages == final.missed_acknowledgements + 1
    steps = await case_events.for_claim(pool, booked.claim_id)
    assert sorted(s.seq or 0 for s in steps) == list(range(1, len(steps) + 1))
    events = await claims.events(booked.claim_id, OPS)
    assert types(events).count("safety_page_sent") == final.missed_acknowledgements + 1
    assert types(events).count("medical_director_paged") == 1
    assert types(events)[-1] == "safety_hold_lifted"

    await act_and_finish(handle, Action.WITHDRAW, Withdraw(reason="settled"))
    await keep_history(handle, "safety_case_month_unacknowledged")
    await keep_history(case, "safety_case_continued_run")


async def test_through_the_api_ops_close_the_duty_to_protect_task_and_see_it_in_the_timeline(
    api, parties: Parties
):
    """On the dev server (wall-clock time): the inbox route records the closing as a step of
    the case, and the events route carries case steps to ops and clinicians only."""
    created = await parties.insurer.post("/v1/claims", json=referral_payload("DEMO"))
    claim_id = created.json()["claim_id"]
    await wait_until(parties.insurer, claim_id, lambda c: c["appointment"] is not None)
    concern = {"level": "imminent", "toward": "others", "notes": SCREEN_NOTES}
    answer = await post_action(parties.insurer, claim_id, "safety-concern", concern)
    assert answer.status_code == 200 and answer.json()["safety_hold"] is True

    async def duty_task() -> dict | None:
        items = (await parties.ops.get("/v1/inbox")).json()
        return next(
            (i for i in items if i["claim_id"] == claim_id and i["kind"] == "duty_to_protect_task"),
            None,
        )

    async with asyncio.timeout(30):
        while (task := await duty_task()) is None:
            await asyncio.sleep(0.1)
    done = {"note": "called the police", "warned": ["police"]}
    assert (await parties.ops.post(f"/v1/inbox/{task['id']}/done", json=done)).status_code == 200
    ack = await post_action(parties.clinician, claim_id, "safety-ack", {"clinician_id": "dr-1"})
    assert ack.status_code == 200
    resolve = {"actions_taken": ["warm_handoff"], "notes": RESOLVE_NOTES}
    assert (await post_action(parties.clinician, claim_id, "safety-resolve", resolve)).is_success
    await wait_until(parties.insurer, claim_id, lambda c: c["safety_hold"] is False)

    async def timeline(http: httpx.AsyncClient) -> list[dict]:
        answer = await http.get(f"/v1/claims/{claim_id}/events")
        assert answer.status_code == 200, answer.text
        return answer.json()

    async def lifted() -> list[dict] | None:
        events = await timeline(parties.ops)
        return events if "safety_hold_lifted" in [e["type"] for e in events] else None

    async with asyncio.timeout(30):
        while (ops := await lifted()) is None:
            await asyncio.sleep(0.1)
    branch = [e for e in ops if e["type"] in HOLD | LADDER]
    steps = [e["type"] for e in branch if e["case_id"]]
    # Each rung in the order it happened (the clinician acted within the first window).
    assert steps[:2] == ["safety_page_sent", "duty_to_protect_opened"]
    assert steps[-3:] == [
        "duty_to_protect_closed",
        "safety_case_acknowledged",
        "safety_case_resolved",
    ]
    assert all(e["seq"] is None and e["stage"] is None for e in branch if e["case_id"])
    (closed,) = [e for e in branch if e["type"] == "duty_to_protect_closed"]
    assert closed["acted_by"]["role"] == "ops" and closed["details"] == {"warned": 1}
    assert branch[-1]["type"] == "safety_hold_lifted"
    assert [e["type"] for e in await timeline(parties.clinician) if e["case_id"]] == steps
    insurer = await timeline(parties.insurer)
    assert [e["type"] for e in insurer if e["type"] in HOLD | LADDER] == [
        "safety_hold_placed",
        "safety_hold_lifted",
    ]
    assert all(e["case_id"] is None and e["seq"] for e in insurer)
    for events in (ops, insurer):
        assert SCREEN_NOTES not in json.dumps(events) and RESOLVE_NOTES not in json.dumps(events)
