"""End to end through the HTTP API: real dev server, real Postgres, a live worker."""

from __future__ import annotations

import asyncio

import pytest

from domain.names import Role
from store import api_keys
from tests.helpers.config import make_settings
from tests.helpers.probes import claim_count
from tests.helpers.referrals import referral_payload
from tests.helpers.stack import dev_address
from tests.helpers.walk import (
    HAPPY_PATH_EVENTS,
    post_action,
    wait_until,
    walk_demo_claim_to_approval,
)

PHI = ("Jane Roe", "1980-04-02", "212-555-0100", "jane@example.org", "1 Main St")


async def test_demo_claim_walks_to_closed_approved_through_the_api(parties, dev_env):
    http = parties.insurer
    referral = referral_payload("DEMO")
    created = await http.post("/v1/claims", json=referral)
    assert created.status_code == 201, created.text
    claim = created.json()
    assert claim["workflow_id"] == f"ime-claim-{claim['claim_id']}"
    assert referral["claim_number"] not in claim["workflow_id"]
    assert claim["status"] == "open"
    again = await http.post("/v1/claims", json=referral)
    assert again.status_code == 200 and again.json()["claim_id"] == claim["claim_id"]

    final, events = await walk_demo_claim_to_approval(parties)
    assert (final["stage"], final["status"], final["outcome"]) == ("CLOSED", "closed", "approved")
    assert final["decision"]["reason_code"] == "IME_SUPPORTS"
    assert final["recommendation"] == "approve"
    assert [e["type"] for e in events] == HAPPY_PATH_EVENTS
    assert [e["seq"] for e in events] == list(range(1, len(HAPPY_PATH_EVENTS) + 1))
    text = (await http.get(f"/v1/claims/{final['claim_id']}")).text + str(events)
    assert not [value for value in PHI if value in text]

    # SREs find the claim in the Temporal UI by its search attributes.
    query = (
        f"WorkflowId = '{final['workflow_id']}' AND ClaimStage = 'CLOSED' AND "
        "ClaimOutcome = 'approved' AND Jurisdiction = 'DEMO' AND InsurerId = 'acme-ins' "
        "AND Overdue = false AND SafetyHold = false"
    )
    async with asyncio.timeout(10):
        while not [w async for w in dev_env.client.list_workflows(query)]:
            await asyncio.sleep(0.2)


async def test_action_in_wrong_stage_is_409_and_changes_nothing(api_client):
    http = api_client
    claim_id = (await http.post("/v1/claims", json=referral_payload("DEMO"))).json()["claim_id"]
    before = await wait_until(http, claim_id, lambda c: c["appointment"] is not None)
    answer = await post_action(
        http, claim_id, "decision", {"outcome": "approved", "reason_code": "IME_SUPPORTS"}
    )
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "action_not_allowed"
    assert "SCHEDULING" in answer.json()["error"]["message"]
    assert (await http.get(f"/v1/claims/{claim_id}")).json() == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"jurisdiction": "XX-NOPE"}, "jurisdiction"),
        ({"claim_type": "pet_insurance"}, "claim_type"),
        ({"questions": []}, "questions"),
        ({"claimant": None}, "claimant"),
    ],
)
async def test_invalid_referral_is_422_and_starts_nothing(api_client, pool, dev_env, change, field):
    http = api_client
    referral = referral_payload("DEMO") | change
    answer = await http.post("/v1/claims", json=referral)
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "invalid_input"
    assert any(d["field"].startswith(field) for d in error["details"])
    assert not [value for value in PHI if value in answer.text]
    assert await claim_count(pool) == 0


@pytest.mark.parametrize(
    ("jurisdiction", "claim_type", "why"),
    [
        ("ERISA-LTD", "workers_comp", "the ERISA-LTD profile serves long_term_disability claims"),
        ("NY-NF", "long_term_disability", "the NY-NF profile serves auto_no_fault claims"),
        ("NY-WC", "personal_injury", "the NY-WC profile serves workers_comp claims"),
    ],
)
async def test_a_claim_type_its_profile_does_not_serve_is_422_saying_why(
    api_client, pool, dev_env, jurisdiction, claim_type, why
):
    referral = referral_payload(jurisdiction) | {"claim_type": claim_type}
    answer = await api_client.post("/v1/claims", json=referral)
    assert answer.status_code == 422
    [detail] = answer.json()["error"]["details"]
    assert detail["field"] == "jurisdiction"
    assert detail["message"] == f"Value error, {why}, not {claim_type}"
    assert not [value for value in PHI if value in answer.text]
    assert await claim_count(pool) == 0


async def test_a_decision_gives_one_of_its_profiles_reason_codes(api_client, dev_env):
    http = api_client
    created = await http.post("/v1/claims", json=referral_payload("DEMO"))
    claim_id = created.json()["claim_id"]
    before = await wait_until(http, claim_id, lambda c: c["appointment"] is not None)
    for body, allowed in (
        (
            {"outcome": "denied", "reason_code": "IME_SUPPORTS"},
            "IME_ABLE_TO_WORK, IME_MMI_NO_IMPAIRMENT, IME_NOT_RELATED, IME_NO_FURTHER_TREATMENT",
        ),
        ({"outcome": "approved", "reason_code": "MADE_UP"}, "IME_SUPPORTS, RECORDS_SUPPORT"),
    ):
        answer = await post_action(http, claim_id, "decision", body)
        # The payload (422) is refused before the claim's stage is asked (409).
        assert answer.status_code == 422, answer.text
        [detail] = answer.json()["error"]["details"]
        assert detail == {
            "field": "reason_code",
            "message": f"under DEMO, a decision {body['outcome']} gives one of: {allowed}",
        }
    assert (await http.get(f"/v1/claims/{claim_id}")).json() == before


async def test_malformed_json_and_bad_action_payloads_are_structured_errors(api_client):
    http = api_client
    bad_json = await http.post(
        "/v1/claims", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 422 and bad_json.json()["error"]["code"] == "invalid_input"

    claim_id = (await http.post("/v1/claims", json=referral_payload("DEMO"))).json()["claim_id"]
    bad_payload = await post_action(http, claim_id, "decision", {"outcome": "maybe"})
    assert bad_payload.status_code == 422
    assert {d["field"] for d in bad_payload.json()["error"]["details"]} >= {
        "outcome",
        "reason_code",
    }
    unknown = await post_action(http, claim_id, "teleport")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    missing = await http.get("/v1/claims/does-not-exist")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


async def test_same_claim_number_with_a_different_referral_is_a_conflict(api_client):
    http = api_client
    referral = referral_payload("DEMO")
    first = await http.post("/v1/claims", json=referral)
    assert first.status_code == 201
    changed = referral | {"questions": ["A different question?"]}
    second = await http.post("/v1/claims", json=changed)
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "duplicate_claim_number"
    assert second.json()["error"]["details"]["claim_id"] == first.json()["claim_id"]


async def test_readiness_reports_both_dependencies(api_client):
    answer = await api_client.get("/readyz")
    assert answer.status_code == 200
    assert answer.json()["checks"] == {"postgres": "ok", "temporal": "ok"}


async def test_database_outage_is_503_unavailable_not_a_stack_trace(dev_env, postgres, template_db):
    """Postgres gone under a running API: structured 503s, readiness says which dependency."""
    import asyncpg
    import httpx

    from api.app import create_app

    name = "outage_check"
    admin = await asyncpg.connect(postgres.url())
    await admin.execute(f"CREATE DATABASE {name} TEMPLATE {template_db}")
    settings = make_settings(postgres.url(name), "tq-outage", dev_address(dev_env))
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            _, key = await api_keys.create(app.state.pool, settings.api_key_secret, role=Role.OPS)
            transport = httpx.ASGITransport(app=app)
            headers = {"Authorization": f"Bearer {key}"}
            async with httpx.AsyncClient(
                transport=transport, base_url="http://api", headers=headers
            ) as http:
                assert (await http.get("/readyz")).status_code == 200
                await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
                answer = await http.get("/v1/claims/aaaaaaaaaaaaaaaaaaaaaaaa")
                assert answer.status_code == 503
                assert answer.json()["error"]["code"] == "unavailable"
                ready = await http.get("/readyz")
                assert ready.status_code == 503
                assert ready.json()["checks"]["postgres"].startswith("failing")
                assert ready.json()["checks"]["temporal"] == "ok"
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


async def test_unexpected_error_is_a_plain_500_without_its_text(api_client, monkeypatch):
    from claim_service import ClaimService

    async def broken(self, claim_id: str):
        raise ValueError("Jane Roe 1980-04-02 leaked into an exception")

    monkeypatch.setattr(ClaimService, "get_json", broken)  # what the status route calls
    answer = await api_client.get("/v1/claims/anything")
    assert answer.status_code == 500
    assert answer.json() == {
        "error": {
            "code": "internal_error",
            "message": "an internal error occurred",
            "details": None,
        }
    }


async def test_claims_list_filters_and_pages_with_a_cursor(api_client):
    http = api_client
    ids = []
    for _ in range(3):
        ids.append(
            (await http.post("/v1/claims", json=referral_payload("DEMO"))).json()["claim_id"]
        )
    for claim_id in ids:
        await wait_until(http, claim_id, lambda c: c["appointment"] is not None)

    first = await http.get("/v1/claims", params={"stage": "SCHEDULING", "limit": 2})
    assert first.status_code == 200, first.text
    page = first.json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    second = (
        await http.get(
            "/v1/claims", params={"stage": "SCHEDULING", "limit": 2, "cursor": page["next_cursor"]}
        )
    ).json()
    assert second["next_cursor"] is None
    listed = [c["claim_id"] for c in page["items"] + second["items"]]
    assert sorted(listed) == sorted(ids)
    updated = [c["updated_at"] for c in page["items"] + second["items"]]
    assert updated == sorted(updated)

    assert (await http.get("/v1/claims", params={"stage": "CLOSED"})).json()["items"] == []
    assert (await http.get("/v1/claims", params={"jurisdiction": "NY-WC"})).json()["items"] == []
    for bad in ({"stage": "LIMBO"}, {"limit": 0}, {"cursor": "%%%"}, {"overdue": "perhaps"}):
        answer = await http.get("/v1/claims", params=bad)
        assert answer.status_code == 422, bad
        assert answer.json()["error"]["code"] == "invalid_input"


async def test_examiner_panel_lists_and_adds_examiners(api_client):
    http = api_client
    panel = (await http.get("/v1/examiners")).json()
    assert len(panel) == 60
    assert {e["specialty"] for e in panel} >= {"orthopedic_surgery", "psychiatry", "neurology"}
    new = {
        "id": "ex-nj-ortho-1",
        "name": "Dr. New Jersey",
        "npi": "1888888888",
        "specialty": "orthopedic_surgery",
        "licensed_states": ["NJ", "NY"],
        "location": "Newark, NJ",
    }
    created = await http.post("/v1/examiners", json=new)
    assert created.status_code == 201 and created.json()["capacity"] == 20
    again = await http.post("/v1/examiners", json=new)
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    invalid = await http.post(
        "/v1/examiners", json=new | {"id": "x2", "npi": "12", "licensed_states": []}
    )
    assert invalid.status_code == 422
    assert {d["field"] for d in invalid.json()["error"]["details"]} == {"npi", "licensed_states"}
    assert len((await http.get("/v1/examiners")).json()) == 61


async def test_retried_action_with_the_same_idempotency_key_is_applied_once(api_client):
    http = api_client
    claim_id = (await http.post("/v1/claims", json=referral_payload("DEMO"))).json()["claim_id"]
    await wait_until(http, claim_id, lambda c: c["appointment"] is not None)
    url = f"/v1/claims/{claim_id}/actions/confirm-appointment"
    key = {"Idempotency-Key": "confirm-7f3a"}
    first = await http.post(url, json={}, headers=key)
    retry = await http.post(url, json={}, headers=key)
    assert first.status_code == retry.status_code == 200
    assert retry.json()["version"] == first.json()["version"]
    fresh = await http.post(url, json={}, headers={"Idempotency-Key": "another"})
    assert fresh.status_code == 409
    events = (await http.get(f"/v1/claims/{claim_id}/events")).json()
    assert [e["type"] for e in events].count("appointment_confirmed") == 1


async def test_metrics_count_requests_by_route_template(api_client):
    await api_client.get("/v1/claims/not-a-claim")
    scraped = (await api_client.get("/metrics")).text
    assert (
        'ime_http_requests_total{method="GET",route="/v1/claims/{claim_id}",status="404"} 1.0'
        in scraped
    )
    assert "not-a-claim" not in scraped


async def test_safety_concern_holds_the_claim_until_a_clinician_resolves_it(parties):
    http, clinician = parties.ops, parties.clinician
    claim_id = (await http.post("/v1/claims", json=referral_payload("DEMO"))).json()["claim_id"]
    await wait_until(http, claim_id, lambda c: c["appointment"] is not None)
    # Before any safety case the claim is none of a clinician's business.
    early = await post_action(clinician, claim_id, "safety-ack", {"clinician_id": "dr-1"})
    assert early.status_code == 404

    raised = await post_action(
        http, claim_id, "safety-concern", {"level": "imminent", "toward": "others", "notes": "x"}
    )
    assert raised.status_code == 200 and raised.json()["safety_hold"] is True
    premature = await post_action(
        clinician, claim_id, "safety-resolve", {"actions_taken": ["warm_handoff"]}
    )
    assert premature.status_code == 409
    acked = await post_action(clinician, claim_id, "safety-ack", {"clinician_id": "dr-1"})
    assert acked.status_code == 200, acked.text
    # Risk toward others: ops close the duty-to-protect task (whom was warned) before resolution.
    async with asyncio.timeout(10):
        while not (
            duty := [
                i
                for i in (await http.get("/v1/inbox")).json()
                if i["claim_id"] == claim_id and i["kind"] == "duty_to_protect_task"
            ]
        ):
            await asyncio.sleep(0.1)
    warned = {"note": "warned as required", "warned": ["police"]}
    assert (await http.post(f"/v1/inbox/{duty[0]['id']}/done", json=warned)).status_code == 200
    resolved = await post_action(
        clinician, claim_id, "safety-resolve", {"actions_taken": ["emergency_services_contacted"]}
    )
    assert resolved.status_code == 200, resolved.text
    released = await wait_until(http, claim_id, lambda c: c["safety_hold"] is False)
    assert released["status"] == "open"
    events = [e["type"] for e in (await http.get(f"/v1/claims/{claim_id}/events")).json()]
    assert events.count("safety_hold_placed") == 1 and events.count("safety_hold_lifted") == 1
    late = await post_action(clinician, claim_id, "safety-ack", {"clinician_id": "dr-1"})
    assert late.status_code == 409 and "no open safety case" in late.json()["error"]["message"]
