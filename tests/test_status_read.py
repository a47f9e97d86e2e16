"""The status poll (`GET /v1/claims/{id}`) serves the projection's JSON as stored: what the caller
gets is field for field what validating it as a `ClaimStatus` gives, rows of an older shape are
read through the model, and every read still leaves one access-log row."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field, computed_field

from domain.ids import claim_id_for, workflow_id_for
from domain.models import (
    AppointmentRef,
    ClaimStatus,
    ClaimType,
    Deadline,
    DecisionRecord,
    ExaminerRef,
    Outcome,
    Recommendation,
    Specialty,
    Stage,
)
from domain.names import DeadlineName, Role
from store import claims as claims_store
from store.access_log import for_claim
from store.json_shape import same_shape_sql
from tests.helpers.app import ApiHarness
from tests.helpers.config import TEST_SECRET
from tests.helpers.referrals import referral_payload
from tests.helpers.walk import wait_until

ROUTE = "/v1/claims/{claim_id}"


def full_status(claim_number: str) -> ClaimStatus:
    """A status with every part filled in: examiner, appointment, deadlines, decision."""
    at = datetime(2026, 11, 26, 12, 0, 0, 123456, tzinfo=UTC)
    claim_id = claim_id_for(TEST_SECRET, "acme-ins", claim_number)
    return ClaimStatus(
        claim_id=claim_id,
        workflow_id=workflow_id_for(claim_id),
        insurer_id="acme-ins",
        claim_number=claim_number,
        claim_type=ClaimType.WORKERS_COMP,
        jurisdiction="NY-WC",
        stage=Stage.CLOSED,
        status="closed",
        outcome=Outcome.DENIED,
        safety_hold=False,
        recommendation=Recommendation.DENY,
        examiner=ExaminerRef(
            id="ex-ny-orthopedic-surgery-1", name="Dr. Ortho", specialty=Specialty.NEUROLOGY
        ),
        appointment=AppointmentRef(
            id="apt-1",
            starts_at=at + timedelta(days=9),
            ends_at=at + timedelta(days=9, hours=1),
            location="12 Exam Rd, Albany, NY",
        ),
        deadlines=[
            Deadline(
                name=DeadlineName.REPORT,
                due_at=at + timedelta(days=20),
                breached=True,
                met_at=at + timedelta(days=22),
                remind_at=at + timedelta(days=17),
                reminded=True,
            ),
            Deadline(name=DeadlineName.DECISION, due_at=at + timedelta(days=50)),
        ],
        decision=DecisionRecord(
            outcome="denied", reason_code="IME_NOT_RELATED", decided_at=at + timedelta(days=30)
        ),
        overdue=False,
        next_deadline=at + timedelta(days=50),
        created_at=at,
        updated_at=at + timedelta(days=30),
        version=17,
    )


async def stored(api: ApiHarness, status: ClaimStatus) -> None:
    async with api.pool.acquire() as conn:
        created, _ = await claims_store.insert_new_claim(conn, status, "hash", b"sealed")
    assert created


def model_answer(body: Any) -> dict[str, Any]:
    """What the model path answers for a stored body: validated, then dumped as JSON."""
    return json.loads(ClaimStatus.model_validate(body).model_dump_json())


async def test_the_stored_status_is_served_field_for_field_as_the_model_gives_it(api: ApiHarness):
    status = full_status("WC-RAW-1")
    await stored(api, status)
    insurer = await api.as_role(Role.INSURER, insurer="acme-ins")

    answer = await insurer.get(f"/v1/claims/{status.claim_id}")

    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-request-id"]
    body = await api.pool.fetchval("SELECT body FROM claims WHERE claim_id = $1", status.claim_id)
    assert answer.json() == model_answer(body) == status.model_dump(mode="json")
    # Served as stored: the row has today's shape.
    found = await claims_store.get_scoped_json(api.pool, status.claim_id)
    assert found is not None and found.current


async def test_a_claim_the_workflow_wrote_reads_as_its_model(api: ApiHarness):
    insurer = await api.as_role(Role.INSURER, insurer="acme-ins")
    created = await insurer.post("/v1/claims", json=referral_payload("DEMO"))
    assert created.status_code == 201, created.text
    claim_id = created.json()["claim_id"]
    polled = await wait_until(insurer, claim_id, lambda c: c["appointment"] is not None)

    answer = await insurer.get(f"/v1/claims/{claim_id}")

    body = await api.pool.fetchval("SELECT body FROM claims WHERE claim_id = $1", claim_id)
    assert answer.json() == model_answer(body)
    assert answer.json()["version"] >= polled["version"]
    assert answer.json()["examiner"] and answer.json()["deadlines"]


async def test_rows_of_an_older_shape_are_read_through_the_model(api: ApiHarness):
    # Written before `overdue` and `next_deadline` existed: the model derives them.
    older = full_status("WC-RAW-OLD").model_copy(
        update={"stage": Stage.REPORT, "status": "open", "outcome": None, "decision": None}
    )
    await stored(api, older)
    await api.pool.execute(
        "UPDATE claims SET body = body - 'overdue' - 'next_deadline' WHERE claim_id = $1",
        older.claim_id,
    )
    # A deadline written before `reminded` existed: the model's default fills it in.
    nested = full_status("WC-RAW-NESTED")
    await stored(api, nested)
    await api.pool.execute(
        "UPDATE claims SET body = jsonb_set(body, '{deadlines,1}', (body #> '{deadlines,1}')"
        " - 'reminded') WHERE claim_id = $1",
        nested.claim_id,
    )
    ops = await api.as_role(Role.OPS)

    for status in (older, nested):
        found = await claims_store.get_scoped_json(api.pool, status.claim_id)
        assert found is not None and not found.current
        answer = await ops.get(f"/v1/claims/{status.claim_id}")
        assert answer.status_code == 200, answer.text
        body = await api.pool.fetchval(
            "SELECT body FROM claims WHERE claim_id = $1", status.claim_id
        )
        assert answer.json() == model_answer(body)

    derived = (await ops.get(f"/v1/claims/{older.claim_id}")).json()
    assert set(derived) == set(ClaimStatus.model_fields)
    # The report deadline was breached and met; the decision deadline is the pending one.
    assert derived["overdue"] is False
    assert derived["next_deadline"] == older.model_dump(mode="json")["deadlines"][1]["due_at"]
    filled = (await ops.get(f"/v1/claims/{nested.claim_id}")).json()
    assert filled["deadlines"][1]["reminded"] is False


async def test_every_read_is_one_access_log_row_written_before_the_answer(api: ApiHarness):
    status = full_status("WC-RAW-LOG")
    await stored(api, status)
    insurer = await api.as_role(Role.INSURER, insurer="acme-ins")
    stranger = await api.as_role(Role.INSURER, insurer="other-ins")
    url = f"/v1/claims/{status.claim_id}"

    # Concurrent reads share group commits; each still has its own row once it is answered.
    answers = await asyncio.gather(*(insurer.get(url) for _ in range(12)))
    refused = await stranger.get(url)

    assert [a.status_code for a in answers] == [200] * 12
    assert refused.status_code == 404
    logged = await for_claim(api.pool, status.claim_id)
    assert len(logged) == 13
    assert {e.entry.request_id for e in logged} == {
        a.headers["x-request-id"] for a in [*answers, refused]
    }
    assert {(e.entry.method, e.entry.route, e.entry.action) for e in logged} == {
        ("GET", ROUTE, None)
    }
    by_request = {e.entry.request_id: e.entry for e in logged}
    assert by_request[refused.headers["x-request-id"]].status == 404
    assert by_request[refused.headers["x-request-id"]].insurer_id == "other-ins"
    assert {by_request[a.headers["x-request-id"]].status for a in answers} == {200}


def test_a_model_whose_dump_cannot_be_checked_by_its_keys_is_never_served_as_stored():
    class Aliased(BaseModel):
        value: int = Field(alias="Value")

    class Computed(BaseModel):
        value: int

        @computed_field  # type: ignore[prop-decorator]
        @property
        def double(self) -> int:
            return 2 * self.value

    class Plain(BaseModel):
        value: int

    class MappedModels(BaseModel):
        by_name: dict[str, Plain]

    for model in (Aliased, Computed, MappedModels):
        assert same_shape_sql("body", model) == "false"
