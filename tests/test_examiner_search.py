"""A claim waiting for an examiner says why: each examiner of the specialty passed over and the
rule that excluded them (PRODUCT §3, Scheduling), in the status, the event and ops' item — with
examiner ids and rule names only. And the conflict rule counts exams, not every booking."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from cli.samples import fresh_referral
from domain.claim_state import ClaimState
from domain.models import (
    AppointmentRef,
    ExaminerRef,
    ExaminerSearch,
    PassedOver,
    Referral,
    ScheduleRequest,
    Specialty,
)
from domain.names import AppointmentStatus, PassOverRule, Stage
from domain.profiles import PROFILES
from store import panel
from tests.helpers.probes import inbox_items
from tests.helpers.referrals import referral_payload

AT = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
# The tests' seeded panel: two examiners per specialty in each of NY, CA, TX, FL and PA, six
# specialties: 60 examiners, 10 of them neurologists, so 50 without neurology.
NEUROLOGISTS = [
    f"ex-{state}-neurology-{n}" for state in ("ca", "fl", "ny", "pa", "tx") for n in (1, 2)
]


def request(claim_id: str, **overrides) -> ScheduleRequest:
    values = {
        "claim_id": claim_id,
        "attempt": 1,
        "specialty": Specialty.NEUROLOGY,
        "licence_state": "TX",
        "claimant_key": "claimant-s",
        "earliest_start": AT,
        "duration_seconds": 3600,
        "business_hours": True,
        "timezone": "America/Chicago",
    } | overrides
    return ScheduleRequest.model_validate(values)


async def search(pool: asyncpg.Pool, req: ScheduleRequest) -> dict[str, str]:
    async with pool.acquire() as conn:
        assert await panel.book(conn, req, "claimant-s") is None
        found = await panel.search(conn, req, "claimant-s", at=AT)
    assert found.searched_at == AT
    return {p.examiner_id: p.rule.value for p in found.passed_over}


async def npi_of(pool: asyncpg.Pool, examiner_id: str) -> str:
    return await pool.fetchval("SELECT npi FROM examiners WHERE id = $1", examiner_id)


async def test_each_examiner_of_the_specialty_is_named_with_the_rule_that_excluded_them(pool):
    treating = await npi_of(pool, "ex-tx-neurology-1")
    req = request(
        "s1", treating_provider_npis=[treating], exclude_examiner_ids=["ex-tx-neurology-2"]
    )
    assert await search(pool, req) == {
        # Neurologists licensed elsewhere.
        "ex-ca-neurology-1": "licence",
        "ex-ca-neurology-2": "licence",
        "ex-fl-neurology-1": "licence",
        "ex-fl-neurology-2": "licence",
        "ex-ny-neurology-1": "licence",
        "ex-ny-neurology-2": "licence",
        "ex-pa-neurology-1": "licence",
        "ex-pa-neurology-2": "licence",
        # Treats the claimant.
        "ex-tx-neurology-1": "conflict",
        # Declined (or let lapse, or was replaced on) this claim.
        "ex-tx-neurology-2": "off_this_claim",
    }
    async with pool.acquire() as conn:
        found = await panel.search(conn, req, "claimant-s", at=AT)
    assert found.without_specialty == 50
    # Ids and rule names: nothing of the claimant (their key, their treating provider's NPI).
    text = found.model_dump_json()
    assert "claimant-s" not in text and treating not in text


async def test_inactive_capacity_and_no_slot(pool):
    await pool.execute("UPDATE examiners SET active = false WHERE id = 'ex-tx-neurology-1'")
    await pool.execute("UPDATE examiners SET capacity = 1 WHERE id = 'ex-tx-neurology-2'")
    async with pool.acquire() as conn:  # another claimant's exam fills the one place left
        taken = await panel.book(conn, request("other", claimant_key="claimant-o"), "claimant-o")
    assert taken is not None and taken[0].id == "ex-tx-neurology-2"
    rules = await search(pool, request("s2"))
    assert (rules["ex-tx-neurology-1"], rules["ex-tx-neurology-2"]) == ("inactive", "capacity")

    await pool.execute(
        "UPDATE examiners SET active = true, capacity = 5 WHERE specialty = 'neurology'"
    )
    # The exam window closed before the first free slot: eligible, but nowhere to put the exam.
    closed = request("s3", latest_start=AT - timedelta(days=1))
    rules = await search(pool, closed)
    assert (rules["ex-tx-neurology-1"], rules["ex-tx-neurology-2"]) == ("no_slot", "no_slot")


async def test_ops_choice_is_searched_alone_including_its_specialty(pool):
    async with pool.acquire() as conn:
        chosen = request("s4", only_examiner_id="ex-tx-psychiatry-1")
        assert await panel.book(conn, chosen, "claimant-s") is None
        found = await panel.search(conn, chosen, "claimant-s", at=AT)
    assert [(p.examiner_id, p.rule.value) for p in found.passed_over] == [
        ("ex-tx-psychiatry-1", "specialty")
    ]
    assert found.without_specialty == 0


async def test_the_conflict_rule_counts_exams_not_bookings_that_examined_nobody(pool):
    """NY 12 NYCRR 300.2(a): never an examiner who examined the claimant. A booking cancelled,
    lapsed or missed examined nobody; one attended, or still booked, did (or will)."""
    async with pool.acquire() as conn:
        first = await panel.book(conn, request("claim-a"), "claimant-c")
        assert first is not None and first[0].id == "ex-tx-neurology-1"
        await panel.set_appointment_status(conn, first[1].id, AppointmentStatus.CANCELLED)
        # Cancelled: the same examiner (least loaded, first by id) may examine them on claim B.
        second = await panel.book(conn, request("claim-b"), "claimant-c")
        assert second is not None and second[0].id == "ex-tx-neurology-1"
        await panel.set_appointment_status(conn, second[1].id, AppointmentStatus.ATTENDED)
        # Attended: on claim C they are a conflict, and the other neurologist is booked.
        third = await panel.book(conn, request("claim-c"), "claimant-c")
        assert third is not None and third[0].id == "ex-tx-neurology-2"
        # Still booked on claim C, attended on claim B: nobody left for claim D.
        assert await panel.book(conn, request("claim-d"), "claimant-c") is None
        found = await panel.search(conn, request("claim-d"), "claimant-c", at=AT)
    rules = {p.examiner_id: p.rule.value for p in found.passed_over}
    assert (rules["ex-tx-neurology-1"], rules["ex-tx-neurology-2"]) == ("conflict", "conflict")


async def wait_for_status(ops: httpx.AsyncClient, claim_id: str, predicate) -> dict:
    async with asyncio.timeout(30):
        while True:
            status = (await ops.get(f"/v1/claims/{claim_id}")).json()
            if predicate(status):
                return status
            await asyncio.sleep(0.1)


async def test_a_waiting_claim_says_why_in_its_status_its_event_and_ops_item(api, api_client):
    pool = api.pool
    # The claimant treats with both New York orthopaedic surgeons: nobody can examine them.
    npis = [await npi_of(pool, f"ex-ny-orthopedic-surgery-{n}") for n in (1, 2)]
    payload = referral_payload("DEMO")
    payload["claimant"]["treating_provider_npis"] = npis
    created = await api_client.post("/v1/claims", json=payload)
    assert created.status_code == 201, created.text
    claim_id = created.json()["claim_id"]

    status = await wait_for_status(api_client, claim_id, lambda s: s["examiner_search"])
    assert status["stage"] == "SCHEDULING" and status["examiner"] is None
    search = status["examiner_search"]
    excluded = {p["examiner_id"]: p["rule"] for p in search["passed_over"]}
    assert excluded["ex-ny-orthopedic-surgery-1"] == "conflict"
    assert excluded["ex-ny-orthopedic-surgery-2"] == "conflict"
    assert excluded["ex-tx-orthopedic-surgery-1"] == "licence"
    assert len(excluded) == 10 and search["without_specialty"] == 50

    events = (await api_client.get(f"/v1/claims/{claim_id}/events")).json()
    [waiting] = [e for e in events if e["type"] == "no_examiner_available"]
    assert {p["examiner_id"]: p["rule"] for p in waiting["details"]["passed_over"]} == excluded

    [item] = await inbox_items(pool, claim_id, "no_examiner_available")
    assert item.role == "ops"
    inbox = (await api_client.get("/v1/inbox")).json()
    [mine] = [
        i for i in inbox if i["claim_id"] == claim_id and i["kind"] == "no_examiner_available"
    ]
    assert {p["examiner_id"]: p["rule"] for p in mine["details"]["passed_over"]} == excluded
    for text in (str(status), str(events), str(mine)):
        assert payload["claimant"]["full_name"] not in text and npis[0] not in text

    # Ops choose one of them by hand: refused with the rule, not the id they sent back.
    assigned = await api_client.post(
        f"/v1/claims/{claim_id}/actions/assign", json={"examiner_id": "ex-ny-orthopedic-surgery-1"}
    )
    assert assigned.status_code == 409
    message = assigned.json()["error"]["message"]
    assert "has a conflict with the claimant" in message
    assert "ex-ny-orthopedic-surgery-1" not in message


def test_sample_referrals_are_each_a_new_claimant_and_claim():
    """`starter.py referral`: what the README's walk pastes, and its bulk example."""
    samples = [Referral.model_validate(fresh_referral()) for _ in range(50)]
    assert len({s.claim_number for s in samples}) == 50
    assert len({(s.claimant.full_name, s.claimant.date_of_birth) for s in samples}) == 50
    assert {(s.jurisdiction, s.claimant.address.state) for s in samples} == {("DEMO", "NY")}
    texas = Referral.model_validate(fresh_referral("TX-DD"))
    assert texas.claimant.address.state == "TX"


def test_the_next_booking_clears_why_the_claim_waited():
    referral = Referral.model_validate(referral_payload("DEMO"))
    state = ClaimState.open(referral, claim_id="c", workflow_id="ime-claim-c", at=AT)
    state.profile = PROFILES["DEMO"]
    state.enter(Stage.SCHEDULING, AT)
    passed = PassedOver(examiner_id="ex-ny-orthopedic-surgery-1", rule=PassOverRule.CAPACITY)
    state.examiner_search = ExaminerSearch(searched_at=AT, passed_over=[passed])
    assert state.status().examiner_search is not None
    examiner = ExaminerRef(
        id="ex-ny-orthopedic-surgery-1", name="Dr. A", specialty=Specialty.ORTHOPEDIC_SURGERY
    )
    starts = AT + timedelta(hours=1)
    slot = AppointmentRef(
        id="c:2", starts_at=starts, ends_at=starts + timedelta(hours=1), location="x"
    )
    state.publish_booking(examiner, slot, AT)
    assert state.status().examiner_search is None
