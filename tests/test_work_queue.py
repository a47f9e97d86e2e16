"""The inbox as a work queue (issue 17): items close themselves when their step is done, by whoever
did it and through whichever door, recording who and why; a person takes an item and releases
it; the queue shows overdue first, then by due time, filters and pages with a cursor, and counts
the caller's open items by kind. Real Postgres, the real app and real workflows (DEMO windows of
seconds on the dev server), through the API."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from domain.delivery import INBOX
from domain.models import (
    Caller,
    ClaimEvent,
    ClaimStatus,
    ConfirmAppointment,
    ExamOutcome,
    ExamReport,
    Notification,
    QueueQuery,
    Referral,
    Withdraw,
)
from domain.names import Action, EventType, Recipient, Role, Stage, Template
from domain.work_queue import WORK_QUEUE, OpenItem, is_done
from store import outbox
from tests.helpers.app import ApiHarness
from tests.helpers.claims import (
    act,
    act_and_finish,
    appointment_of,
    examiner_of,
    start_claim,
    wait_for,
)
from tests.helpers.config import TEST_SEALER
from tests.helpers.probes import told
from tests.helpers.referrals import complete_report, referral_payload
from tests.helpers.walk import Parties, post_action, wait_until
from work_queue import WorkQueue


async def items_of(
    http: httpx.AsyncClient, claim_id: str, kind: str, *, include_done: bool = False
) -> list[dict]:
    """The caller's items of `kind` for the claim, as the inbox shows them."""
    answer = await http.get("/v1/inbox", params={"kind": kind, "include_done": include_done})
    assert answer.status_code == 200, answer.text
    return [i for i in answer.json() if i["claim_id"] == claim_id]


async def until_items(http: httpx.AsyncClient, claim_id: str, kind: str, timeout: float = 15.0):
    async with asyncio.timeout(timeout):
        while not (found := await items_of(http, claim_id, kind)):
            await asyncio.sleep(0.1)
    return found


def by(name: str, role: str, reason: str) -> dict:
    return {"by": "key", "name": name, "role": role, "reason": reason}


async def test_a_claims_items_close_themselves_as_each_step_is_done_by_whoever_did_it(
    api: ApiHarness, parties: Parties
):
    http, ops, reviewer = parties.insurer, parties.ops, parties.reviewer
    created = await http.post("/v1/claims", json=referral_payload("DEMO"))
    assert created.status_code == 201, created.text
    claim_id = created.json()["claim_id"]
    booked = await wait_until(ops, claim_id, lambda c: c["appointment"] is not None)
    examiner_id = booked["examiner"]["id"]
    examiner = await api.as_role(Role.EXAMINER, examiner=examiner_id)
    colleague = await api.as_role(Role.EXAMINER, examiner=examiner_id)  # another key of theirs

    # The examiner's appointment request: theirs once taken, nobody else's to take or release.
    [request] = await until_items(examiner, claim_id, "appointment_request")
    assert (request["jurisdiction"], request["insurer_id"]) == ("DEMO", "acme-ins")
    assert (request["taken_by"], request["done_by"]) == (None, None)
    taken = await examiner.post(f"/v1/inbox/{request['id']}/take", json={})
    assert taken.status_code == 200, taken.text
    assert taken.json()["taken_by"]["name"] == "test examiner"
    assert taken.json()["taken_at"] is not None
    again = await examiner.post(f"/v1/inbox/{request['id']}/take", json={})
    assert again.status_code == 200 and again.json()["taken_at"] == taken.json()["taken_at"]
    refused = await colleague.post(f"/v1/inbox/{request['id']}/take", json={})
    assert refused.status_code == 409
    assert refused.json()["error"]["message"] == (
        "the item is taken by test examiner: they (or ops) must release it first"
    )
    not_theirs = await colleague.post(f"/v1/inbox/{request['id']}/release", json={})
    assert not_theirs.status_code == 403
    mine = (await examiner.get("/v1/inbox", params={"owner": "me"})).json()
    assert [i["id"] for i in mine] == [request["id"]]
    assert (await colleague.get("/v1/inbox", params={"owner": "me"})).json() == []
    unknown = await examiner.post("/v1/inbox/00000000-0000-0000-0000-000000000000/take", json={})
    assert unknown.status_code == 404

    # The confirmation deadline's reminder (at 15 of its 20 seconds), then the examiner confirms
    # through the API: both items are done, by that key, because the appointment was confirmed.
    [reminder] = await until_items(examiner, claim_id, "deadline_reminder", timeout=25)
    confirmed = await post_action(examiner, claim_id, "confirm-appointment")
    assert confirmed.status_code == 200 and confirmed.json()["stage"] == "EXAM", confirmed.text
    confirmed_by = by("test examiner", "examiner", "appointment_confirmed")
    for kind, item in (("appointment_request", request), ("deadline_reminder", reminder)):
        assert await items_of(examiner, claim_id, kind) == []
        [closed] = await items_of(examiner, claim_id, kind, include_done=True)
        assert (closed["id"], closed["done_by"]) == (item["id"], confirmed_by)
        assert closed["done_at"] is not None
    late = await examiner.post(f"/v1/inbox/{request['id']}/take", json={})
    assert late.status_code == 409
    assert late.json()["error"]["message"] == "the item is closed already"

    starts_at = datetime.fromisoformat(confirmed.json()["appointment"]["starts_at"])
    await asyncio.sleep(max(0.0, (starts_at - datetime.now(UTC)).total_seconds()) + 0.5)
    exam = await post_action(ops, claim_id, "exam", {"attended": True})
    assert exam.status_code == 200 and exam.json()["stage"] == "REPORT", exam.text
    filed = await post_action(examiner, claim_id, "report", complete_report())
    assert filed.status_code == 200 and filed.json()["stage"] == "REVIEW", filed.text

    # The reviewer asks for an addendum: their review item is done, the examiner's request opens.
    [first_review] = await until_items(reviewer, claim_id, "report_to_review")
    asked = {"result": "addendum_requested", "reasons": ["answer question 2"]}
    assert (await post_action(reviewer, claim_id, "review", asked)).status_code == 200
    [closed] = await items_of(reviewer, claim_id, "report_to_review", include_done=True)
    assert closed["id"] == first_review["id"]
    assert closed["done_by"] == by("test reviewer", "reviewer", "addendum_requested")
    [addendum] = await until_items(examiner, claim_id, "addendum_request")

    # The examiner submits again: the addendum request is done; a new review item opens.
    again = await post_action(examiner, claim_id, "report", complete_report())
    assert again.status_code == 200 and again.json()["stage"] == "REVIEW", again.text
    [closed] = await items_of(examiner, claim_id, "addendum_request", include_done=True)
    assert closed["id"] == addendum["id"]
    assert closed["done_by"] == by("test examiner", "examiner", "report_submitted")
    [second_review] = await until_items(reviewer, claim_id, "report_to_review")
    accepted = {"result": "accepted", "reasons": []}
    assert (await post_action(reviewer, claim_id, "review", accepted)).status_code == 200
    closed_reviews = await items_of(reviewer, claim_id, "report_to_review", include_done=True)
    assert [(i["id"], i["done_by"]) for i in closed_reviews] == [
        (first_review["id"], by("test reviewer", "reviewer", "addendum_requested")),
        (second_review["id"], by("test reviewer", "reviewer", "report_accepted")),
    ]

    # The insurer decides: the claim is closed, and nobody has anything left to do on it.
    decision = {"outcome": "approved", "reason_code": "IME_SUPPORTS"}
    assert (await post_action(http, claim_id, "decision", decision)).status_code == 200
    await wait_until(http, claim_id, lambda c: c["status"] == "closed")
    for party in (examiner, reviewer, ops, http):
        queue = (await party.get("/v1/inbox/queue", params={"limit": 500})).json()
        assert [i for i in queue["items"] if i["claim_id"] == claim_id] == []


async def test_a_claim_waiting_for_an_examiner_withdrawn_closes_ops_item(
    api: ApiHarness, parties: Parties
):
    pool, ops = api.pool, parties.ops
    # The claimant treats with both New York orthopaedic surgeons: nobody can examine them.
    npis = [
        await pool.fetchval(
            "SELECT npi FROM examiners WHERE id = $1", f"ex-ny-orthopedic-surgery-{n}"
        )
        for n in (1, 2)
    ]
    payload = referral_payload("DEMO")
    payload["claimant"]["treating_provider_npis"] = npis
    claim_id = (await ops.post("/v1/claims", json=payload)).json()["claim_id"]
    [waiting] = await until_items(ops, claim_id, "no_examiner_available")
    assert waiting["done_by"] is None
    withdrawn = await post_action(ops, claim_id, "withdraw", {"reason": "claimant settled"})
    assert withdrawn.status_code == 200, withdrawn.text
    assert await items_of(ops, claim_id, "no_examiner_available") == []
    [closed] = await items_of(ops, claim_id, "no_examiner_available", include_done=True)
    assert closed["done_by"] == by("test ops", "ops", "claim_withdrawn")


async def _ops_item(pool, label: str, kind: Template, due: datetime | None) -> None:
    details = {"label": label} | ({"due_at": due.isoformat()} if due else {})
    note = Notification(
        key=f"clm-queue:ops:{kind}:{label}",
        claim_id=f"clm-queue-{label}",
        recipient=Recipient.OPS,
        template=kind,
        details=details,
    )
    async with pool.acquire() as conn:
        assert await outbox.enqueue(conn, note, TEST_SEALER)


async def test_the_queue_shows_overdue_first_then_by_due_time_filters_and_pages(
    api: ApiHarness, parties: Parties
):
    pool, ops = api.pool, parties.ops
    other_ops = await api.as_role(Role.OPS)
    now = datetime.now(UTC)
    dead, cleaned = Template.DELIVERY_DEAD, Template.NOTIFICATION_DATA_CLEANED
    for label, kind, due in [
        ("A", dead, now - timedelta(hours=1)),
        ("B", dead, now + timedelta(hours=1)),
        ("C", cleaned, None),
        ("D", dead, now - timedelta(hours=2)),
        ("E", cleaned, now + timedelta(hours=2)),
        ("F", dead, None),
    ]:
        await _ops_item(pool, label, kind, due)
    # Their claims are not stored: the jurisdiction a claim would have given them, set here.
    await pool.execute(
        "UPDATE inbox_items SET jurisdiction = CASE WHEN claim_id LIKE ANY($1) THEN 'NY-WC'"
        " ELSE 'DEMO' END WHERE claim_id LIKE 'clm-queue-%'",
        ["%-A", "%-E", "%-F"],
    )

    async def labels(**params) -> tuple[list[str], dict]:
        answer = await ops.get("/v1/inbox/queue", params=params)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        return [i["details"]["label"] for i in page["items"]], page

    order, page = await labels()
    assert order == ["D", "A", "B", "E", "C", "F"]
    assert [i["overdue"] for i in page["items"]] == [True, True, False, False, False, False]
    assert page["counts_by_kind"] == {"delivery_dead": 4, "notification_data_cleaned": 2}
    assert page["overdue"] == 2
    assert page["next_cursor"] is None

    # Pages of two, each continuing where the last stopped.
    seen, cursor = [], None
    for expected in (["D", "A"], ["B", "E"], ["C", "F"], []):
        got, page = await labels(limit=2, **({"cursor": cursor} if cursor else {}))
        assert got == expected
        seen += got
        cursor = page["next_cursor"]
    assert cursor is None and seen == ["D", "A", "B", "E", "C", "F"]
    # The list route pages the same way, its cursor in a header.
    first = await ops.get("/v1/inbox", params={"limit": 4})
    assert [i["details"]["label"] for i in first.json()] == ["D", "A", "B", "E"]
    rest = await ops.get("/v1/inbox", params={"cursor": first.headers["Next-Cursor"]})
    assert [i["details"]["label"] for i in rest.json()] == ["C", "F"]
    assert "Next-Cursor" not in rest.headers
    bad = await ops.get("/v1/inbox", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 422

    assert (await labels(kind="delivery_dead"))[0] == ["D", "A", "B", "F"]
    assert (await labels(jurisdiction="NY-WC"))[0] == ["A", "E", "F"]
    assert (await labels(insurer_id="acme-ins"))[0] == []

    # Ops take B and C between them; another ops releases C (ops may release anyone's).
    ids = {i["details"]["label"]: i["id"] for i in page_items(await ops.get("/v1/inbox"))}
    assert (await ops.post(f"/v1/inbox/{ids['B']}/take", json={})).status_code == 200
    assert (await other_ops.post(f"/v1/inbox/{ids['C']}/take", json={})).status_code == 200
    assert (await labels(owner="me"))[0] == ["B"]
    assert (await labels(owner="unowned"))[0] == ["D", "A", "E", "F"]
    released = await ops.post(f"/v1/inbox/{ids['C']}/release", json={})
    assert released.status_code == 200 and released.json()["taken_by"] is None
    assert (await labels(owner="unowned"))[0] == ["D", "A", "E", "C", "F"]

    # Marked done by hand: out of the queue and the counts, shown with who closed it.
    done = await ops.post(f"/v1/inbox/{ids['D']}/done", json={"note": "resent by hand"})
    assert done.status_code == 200, done.text
    assert done.json()["done_by"] == by("test ops", "ops", "marked_done")
    order, page = await labels()
    assert order == ["A", "B", "E", "C", "F"]
    assert page["counts_by_kind"] == {"delivery_dead": 3, "notification_data_cleaned": 2}
    assert page["overdue"] == 1
    assert (await labels(include_done=True))[0] == ["D", "A", "B", "E", "C", "F"]
    assert (await other_ops.post(f"/v1/inbox/{ids['D']}/take", json={})).status_code == 409


def page_items(answer: httpx.Response) -> list[dict]:
    assert answer.status_code == 200, answer.text
    return answer.json()


# --- the rule table ------------------------------------------------------------------------


def test_every_inbox_kind_has_a_row_saying_when_it_is_done():
    assert {template for _, template in INBOX} == set(WORK_QUEUE)
    by_hand = sorted(k.value for k, rule in WORK_QUEUE.items() if rule.step is None)
    assert by_hand == [
        "adverse_notice_deferred",
        "claim_terminated",
        "delivery_dead",
        "duty_to_protect_task",
        "notification_data_cleaned",
        "referral_to_treatment",
        "safety_case_ended_unresolved",
        "safety_escalation",
        "safety_page",
        "safety_unresolved",
    ]


CLOSED = ClaimStatus.model_validate(
    {
        "claim_id": "clm-1",
        "workflow_id": "claim-clm-1",
        "insurer_id": "acme-ins",
        "claim_number": "WC-1",
        "claim_type": "workers_comp",
        "jurisdiction": "DEMO",
        "stage": Stage.CLOSED,
        "status": "closed",
        "outcome": "withdrawn",
        "created_at": "2026-10-01T12:00:00+00:00",
        "updated_at": "2026-10-01T13:00:00+00:00",
    }
)
CLOSING = ClaimEvent(
    claim_id="clm-1", seq=9, type=EventType.CLAIM_CLOSED, stage=Stage.CLOSED,
    at=datetime(2026, 10, 1, 13, tzinfo=UTC),
)  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "case_id", "done"),
    [
        ("duty_to_protect_task", "clm-1-safety-1", False),  # closed only with whom was warned
        ("safety_page", "clm-1-safety-1", False),
        ("delivery_dead", None, False),
        ("claim_terminated", None, False),
        ("records_to_examiner", None, True),
        ("deadline_breached", None, True),
        ("report_to_review", None, True),
    ],
)
def test_a_closed_claim_ends_its_step_items_never_a_persons(kind, case_id, done):
    item = OpenItem(
        id="i", kind=kind, role="ops", examiner_id=None, due_at=None, details={}, step="x",
        case_id=case_id,
    )  # fmt: skip
    assert is_done(item, CLOSED, CLOSING) is done


# --- doors that close items: ops assigning, reassignment, deadline rungs; what stays open ------


async def _add_wyoming_examiner(pool: asyncpg.Pool, examiner_id: str, npi: str) -> None:
    await pool.execute(
        "INSERT INTO examiners (id, name, npi, specialty, licensed_states, location)"
        " VALUES ($1, 'Dr. Wyoming', $2, 'orthopedic_surgery', '{WY}', 'Cheyenne')",
        examiner_id,
        npi,
    )


async def test_ops_assigning_and_reassigning_close_the_items_they_answer_never_a_duty_task(
    api: ApiHarness, parties: Parties
):
    pool, ops = api.pool, parties.ops
    # A Wyoming claimant: no examiner on the panel is licensed there, ops are told.
    payload = referral_payload("DEMO")
    payload["claimant"]["address"] |= {"state": "WY", "city": "Cheyenne", "postal_code": "82001"}
    created = await ops.post("/v1/claims", json=payload)
    assert created.status_code == 201, created.text
    claim_id = created.json()["claim_id"]
    [waiting] = await until_items(ops, claim_id, "no_examiner_available")
    assert waiting["done_by"] is None

    # Two Wyoming examiners join; ops assign the first through the API (before the claim's own
    # retry, 10 s away, could book): the ops item is done, by that key, because ops assigned.
    await _add_wyoming_examiner(pool, "ex-wy-a", "1999999911")
    await _add_wyoming_examiner(pool, "ex-wy-b", "1999999912")
    assigned = await post_action(ops, claim_id, "assign", {"examiner_id": "ex-wy-a"})
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["examiner"]["id"] == "ex-wy-a"
    assert await items_of(ops, claim_id, "no_examiner_available") == []
    [closed] = await items_of(ops, claim_id, "no_examiner_available", include_done=True)
    assert (closed["id"], closed["done_by"]) == (
        waiting["id"],
        by("test ops", "ops", "examiner_assigned"),
    )
    first = await api.as_role(Role.EXAMINER, examiner="ex-wy-a")
    second = await api.as_role(Role.EXAMINER, examiner="ex-wy-b")
    [request_a] = await until_items(first, claim_id, "appointment_request")
    assert request_a["details"]["appointment_id"] == assigned.json()["appointment"]["id"]

    # Risk toward others: a duty-to-protect task for ops (a person's, closed with whom was warned).
    concern = {"level": "imminent", "toward": "others", "notes": "named a coworker"}
    raised = await post_action(parties.insurer, claim_id, "safety-concern", concern)
    assert raised.status_code == 200 and raised.json()["safety_hold"] is True, raised.text
    [duty] = await until_items(ops, claim_id, "duty_to_protect_task")

    # Ops reassign the claim to the second examiner: the first's request is done (no longer
    # theirs), by ops, because of the assignment; the second has a request of their own.
    reassigned = await post_action(ops, claim_id, "assign", {"examiner_id": "ex-wy-b"})
    assert reassigned.status_code == 200, reassigned.text
    assert reassigned.json()["examiner"]["id"] == "ex-wy-b"
    assert await items_of(first, claim_id, "appointment_request") == []
    [closed] = await items_of(first, claim_id, "appointment_request", include_done=True)
    assert (closed["id"], closed["done_by"]) == (
        request_a["id"],
        by("test ops", "ops", "examiner_assigned"),
    )
    [request_b] = await until_items(second, claim_id, "appointment_request")
    assert request_b["done_by"] is None
    assert request_b["details"]["appointment_id"] == reassigned.json()["appointment"]["id"]
    assert request_b["details"]["appointment_id"] != request_a["details"]["appointment_id"]
    assert [i["id"] for i in await items_of(ops, claim_id, "duty_to_protect_task")] == [duty["id"]]

    # The claim is withdrawn: the second examiner's request is done with it; the duty-to-protect
    # task stays open (the safety case outlives the claim) until ops close it with whom was warned.
    withdrawn = await post_action(ops, claim_id, "withdraw", {"reason": "claimant settled"})
    assert withdrawn.status_code == 200, withdrawn.text
    await wait_until(ops, claim_id, lambda c: c["stage"] == "CLOSED")
    [closed] = await items_of(second, claim_id, "appointment_request", include_done=True)
    assert (closed["id"], closed["done_by"]) == (
        request_b["id"],
        by("test ops", "ops", "claim_withdrawn"),
    )
    [still] = await items_of(ops, claim_id, "duty_to_protect_task")
    assert (still["id"], still["done_at"], still["done_by"]) == (duty["id"], None, None)
    pages = await items_of(parties.clinician, claim_id, "safety_page")  # the case's, too
    assert pages and [p["done_by"] for p in pages] == [None] * len(pages)
    queue = (await ops.get("/v1/inbox/queue", params={"limit": 500})).json()
    assert [i["kind"] for i in queue["items"] if i["claim_id"] == claim_id] == [
        "duty_to_protect_task"
    ]
    done = {"note": "called the police", "warned": ["police"]}
    answer = await ops.post(f"/v1/inbox/{duty['id']}/done", json=done)
    assert answer.status_code == 200, answer.text
    assert answer.json()["done_by"] == by("test ops", "ops", "marked_done")


async def _done_by(pool: asyncpg.Pool, caller: Caller, claim_id: str, kind: str) -> list:
    """Who closed each of the caller's items of `kind` for the claim (None: open), oldest
    first, as the work queue (the API's and the console's one path) shows them."""
    page = await WorkQueue(pool, TEST_SEALER).page(
        caller, QueueQuery(kind=kind, include_done=True, limit=500)
    )
    items = sorted((i for i in page.items if i.claim_id == claim_id), key=lambda i: i.created_at)
    return [i.done_by.model_dump() if i.done_by else None for i in items]


def _examiner(examiner_id: str) -> Caller:
    return Caller(
        role=Role.EXAMINER, key_id=f"k-{examiner_id}", key_name="dr key", examiner_id=examiner_id
    )


def _by_examiner(reason: str) -> dict:
    return {"by": "key", "name": "dr key", "role": "examiner", "reason": reason}


@pytest.mark.usefixtures("ts_worker")
async def test_deadline_rungs_close_what_they_answer_and_breach_items_close_with_the_report(
    ts_env: WorkflowEnvironment, task_queue: str, pool: asyncpg.Pool
):
    """On the time-skipping server (DEMO: confirmation window 20 s, report due 20 s)."""
    referral = Referral.model_validate(referral_payload("DEMO"))
    handle = await start_claim(ts_env.client, referral, task_queue)
    first = await wait_for(handle, lambda s: s.appointment is not None)
    claim_id, late = first.claim_id, examiner_of(first).id
    ops = Caller(role=Role.OPS, key_id="k-ops", key_name="ops key")

    # Nobody confirms: the reminder (at 15 s), then the rung that releases the appointment and
    # books the next examiner. The first examiner's items are done, by the service, because the
    # appointment expired; the next examiner has a request of their own.
    await ts_env.sleep(timedelta(seconds=21))
    second = await wait_for(
        handle,
        lambda s: s.appointment is not None and s.appointment.id != appointment_of(first).id,
    )
    booked = examiner_of(second).id
    assert booked != late
    expired = {"by": "system", "name": None, "role": None, "reason": "appointment_expired"}
    for kind in ("appointment_request", "deadline_reminder"):
        assert await _done_by(pool, _examiner(late), claim_id, kind) == [expired]
    assert await _done_by(pool, _examiner(booked), claim_id, "appointment_request") == [None]

    # They confirm, the exam is held, then the report is late: the examiner and ops each get a
    # breach item, the examiner a reminder before it.
    mine = _examiner(booked)
    confirm = ConfirmAppointment().model_copy(update={"acted_by": mine})
    status = await act(handle, Action.CONFIRM_APPOINTMENT, confirm)
    starts = appointment_of(status).starts_at
    await ts_env.sleep(starts - await ts_env.get_current_time() + timedelta(seconds=1))
    status = await act(handle, Action.EXAM, ExamOutcome(attended=True))
    assert status.stage is Stage.REPORT
    await ts_env.sleep(timedelta(seconds=21))
    await wait_for(handle, lambda s: any(d.name == "report_escalation" for d in s.deadlines))
    async with asyncio.timeout(10):
        while await told(pool, claim_id, "deadline_breached") != ["examiner", "ops"]:
            await asyncio.sleep(0.05)
    assert await _done_by(pool, mine, claim_id, "deadline_breached") == [None]
    assert await _done_by(pool, ops, claim_id, "deadline_breached") == [None]
    # A breach's follow-up is late work already: due when it opened, so overdue in the queue.
    breached = await WorkQueue(pool, TEST_SEALER).page(ops, QueueQuery(kind="deadline_breached"))
    assert [(i.overdue, i.deadline) for i in breached.items if i.claim_id == claim_id] == [
        (True, "report")
    ]
    assert breached.overdue >= 1

    # The examiner submits the report: the breach items (theirs and ops') and their reminder are
    # done, by the examiner's key, because the report was submitted.
    report = ExamReport.model_validate(complete_report()).model_copy(update={"acted_by": mine})
    status = await act(handle, Action.REPORT, report)
    assert status.stage is Stage.REVIEW
    submitted = _by_examiner("report_submitted")
    assert await _done_by(pool, mine, claim_id, "deadline_breached") == [submitted]
    assert await _done_by(pool, ops, claim_id, "deadline_breached") == [submitted]
    # (Confirmed at once, they had no reminder to confirm: the one reminder is the report's.)
    assert await _done_by(pool, mine, claim_id, "deadline_reminder") == [submitted]
    assert await _done_by(pool, mine, claim_id, "appointment_request") == [
        _by_examiner("appointment_confirmed")
    ]
    await act_and_finish(handle, Action.WITHDRAW, Withdraw(reason="test done"))
