"""The API's boundary against bad input: each case answers a clear 4xx in the error shape, echoes
nothing it was sent, changes nothing, and leaves the service healthy."""

from __future__ import annotations

import json

import httpx
import pytest

from domain.models import Notification
from domain.names import Recipient, Template
from store import outbox
from tests.helpers.app import ApiHarness
from tests.helpers.config import TEST_SEALER, make_settings
from tests.helpers.probes import claim_count, outbox_rows
from tests.helpers.referrals import complete_report, referral_payload
from tests.helpers.stack import dev_address
from tests.helpers.walk import Parties, post_action, wait_until

MARKER = "Zyxwv-echo-check"


def assert_error(answer: httpx.Response, status: int, code: str | None = None) -> None:
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert set(error) == {"code", "message", "details"}
    if code:
        assert error["code"] == code
    assert MARKER not in answer.text


async def test_a_referral_that_is_not_json_is_refused_before_anything_starts(api_client, pool):
    before = await claim_count(pool)
    body = json.dumps(referral_payload("DEMO") | {"claim_number": MARKER})
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        answer = await api_client.post(
            "/v1/claims", content=body, headers={"content-type": content_type}
        )
        assert_error(answer, 415, "unsupported_media_type")
    assert await claim_count(pool) == before


async def test_bodies_over_the_limit_are_refused_whether_announced_or_streamed(api_client, pool):
    before = await claim_count(pool)
    big = b'{"x": "' + b"a" * 1_100_000 + b'"}'
    announced = await api_client.post(
        "/v1/claims", content=big, headers={"content-type": "application/json"}
    )
    assert_error(announced, 413, "payload_too_large")

    async def chunks():
        for _ in range(12):
            yield b"a" * 100_000

    streamed = await api_client.post(
        "/v1/claims", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_error(streamed, 413, "payload_too_large")
    assert await claim_count(pool) == before


async def test_deeply_nested_and_non_standard_json_is_invalid_not_a_crash(api_client):
    deep = "[" * 10_000 + "]" * 10_000
    for raw in (deep, '{"a": NaN}', '{"a": Infinity}', "{bad", '"\\ud800'):
        answer = await api_client.post(
            "/v1/claims", content=raw, headers={"content-type": "application/json"}
        )
        assert_error(answer, 422, "invalid_input")


async def test_nul_and_control_characters_are_refused_in_path_query_and_body(
    parties: Parties, pool
):
    http = parties.ops
    assert_error(await http.get("/v1/claims/%00abc"), 404, "not_found")
    assert_error(await http.get("/v1/claims", params={"jurisdiction": "NY\x00"}), 422)
    referral = referral_payload("DEMO")
    referral["claimant"]["full_name"] = f"{MARKER}\x00"
    before = await claim_count(pool)
    assert_error(await http.post("/v1/claims", json=referral), 422, "invalid_input")
    assert await claim_count(pool) == before

    claim_id = (await http.post("/v1/claims", json=referral_payload("DEMO"))).json()["claim_id"]
    await wait_until(http, claim_id, lambda c: c["appointment"] is not None)
    for level in ("imminent", "moderate"):
        concern = {"level": level, "toward": "self", "notes": f"{MARKER}\x00"}
        answer = await post_action(http, claim_id, "safety-concern", concern)
        assert_error(answer, 422, "invalid_input")
        assert "notes" in str(answer.json()["error"]["details"])
    status = (await http.get(f"/v1/claims/{claim_id}")).json()
    assert status["safety_hold"] is False  # refused: nothing held, nothing paged


async def test_non_finite_impairment_is_invalid(parties: Parties):
    http = parties.ops
    claim_id = (await http.post("/v1/claims", json=referral_payload("DEMO"))).json()["claim_id"]
    for value in ("NaN", "Infinity", "-inf"):
        report = complete_report() | {"impairment_percent": value}
        answer = await post_action(http, claim_id, "report", report)
        assert_error(answer, 422, "invalid_input")


async def test_out_of_range_times_and_bad_cursors_are_client_errors(api_client):
    for updated_after in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "nonsense"):
        answer = await api_client.get("/v1/claims", params={"updated_after": updated_after})
        assert_error(answer, 422, "invalid_input")
    for cursor in ("%%%", "MDAwMS0wMS0wMVQwMDowMDowMHw", "bm90fGE"):
        assert_error(await api_client.get("/v1/claims", params={"cursor": cursor}), 422)


async def test_unknown_actions_and_ids_are_404(api_client):
    assert_error(await api_client.post(f"/v1/claims/{'a' * 24}/actions/confirm-appointment"), 404)
    assert_error(await api_client.post(f"/v1/claims/{'a' * 24}/actions/{MARKER}"), 404)
    assert_error(await api_client.get(f"/v1/claims/{MARKER}"), 404)


async def test_bad_bytes_to_the_codec_are_invalid_and_echo_nothing(api_client):
    encrypted = "YmluYXJ5L2VuY3J5cHRlZA=="  # binary/encrypted
    unknown_key = {"encoding": encrypted, "encryption-key-id": "WnlYd3Y="}  # "ZyXwv"
    known_key = {"encoding": encrypted, "encryption-key-id": "dGVzdC0x"}  # "test-1"
    cases = [
        {"payloads": [{"metadata": unknown_key, "data": "AAAA"}]},
        {"payloads": [{"metadata": known_key, "data": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]},
        {"payloads": "nope"},
    ]
    for body in cases:
        answer = await api_client.post("/codec/decode", json=body)
        assert_error(answer, 422, "invalid_input")
        assert "ZyXwv" not in answer.text
    raw = await api_client.post(
        "/codec/decode", content=b"\xff\xfe\x00", headers={"content-type": "application/json"}
    )
    assert_error(raw, 422, "invalid_input")


async def test_an_idempotent_retry_gets_the_first_answer_even_after_the_claim_closed(
    parties: Parties,
):
    http = parties.insurer
    claim_id = (await http.post("/v1/claims", json=referral_payload("DEMO"))).json()["claim_id"]
    await wait_until(http, claim_id, lambda c: c["appointment"] is not None)
    key = {"Idempotency-Key": "withdraw-once"}
    url = f"/v1/claims/{claim_id}/actions/withdraw"
    first = await http.post(url, json={"reason": "settled"}, headers=key)
    assert first.status_code == 200 and first.json()["stage"] == "CLOSED"
    await wait_until(http, claim_id, lambda c: c["status"] == "closed" and c["version"] >= 4)
    again = await http.post(url, json={"reason": "settled"}, headers=key)
    assert again.status_code == 200 and again.json() == first.json()

    reused = await http.post(url, json={"reason": MARKER}, headers=key)
    assert_error(reused, 422, "idempotency_key_reused")
    # Keys are per caller: the same key from another caller is another request.
    other = await parties.ops.post(url, json={"reason": "settled"}, headers=key)
    assert_error(other, 409, "action_not_allowed")


async def test_a_refusal_is_also_the_first_answer_of_its_key(parties: Parties):
    http = parties.ops
    claim_id = (await http.post("/v1/claims", json=referral_payload("DEMO"))).json()["claim_id"]
    await wait_until(http, claim_id, lambda c: c["appointment"] is not None)
    key = {"Idempotency-Key": "decide-early"}
    body = {"outcome": "approved", "reason_code": "IME_SUPPORTS"}
    url = f"/v1/claims/{claim_id}/actions/decision"
    first = await http.post(url, json=body, headers=key)
    assert_error(first, 409, "action_not_allowed")
    assert (await http.post(url, json=body, headers=key)).json() == first.json()


async def test_the_service_is_healthy_after_the_abuse(api_client):
    for _ in range(3):
        await api_client.post(
            "/v1/claims", content="[" * 5000, headers={"content-type": "application/json"}
        )
    assert (await api_client.get("/readyz")).status_code == 200
    assert (await api_client.get("/v1/claims")).status_code == 200


async def test_a_page_with_unstorable_details_still_goes_out_and_ops_are_told(pool):
    note = Notification(
        key="c1:clinician:safety_page:x",
        claim_id="c1",
        recipient=Recipient.CLINICIAN,
        template=Template.SAFETY_PAGE,
        details={"notes": "plan\x00\ud800", "level": "imminent"},
    )
    async with pool.acquire() as conn:
        assert await outbox.enqueue(conn, note, TEST_SEALER) is True
    rows = await outbox_rows(pool, "c1")
    assert [(r.recipient, r.template) for r in rows] == [
        ("clinician", "safety_page"),
        ("ops", "notification_data_cleaned"),
    ]
    assert rows[0].details == {}  # sealed at rest, not in the clear
    [sealed] = [r.sealed_details for r in rows if r.key == note.key]
    assert sealed is not None
    assert TEST_SEALER.open_json(sealed) == {"notes": "plan", "level": "imminent"}
    async with pool.acquire() as conn:
        assert await outbox.enqueue(conn, note, TEST_SEALER) is False  # still once


async def test_the_openapi_document_declares_auth_bodies_and_every_answer(api_client):
    document = (await api_client.get("/openapi.json")).json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["HTTPBearer"]["scheme"] == "bearer"
    operations = {
        (path, method): op
        for path, item in document["paths"].items()
        for method, op in item.items()
    }
    for (path, method), op in operations.items():
        if path in ("/healthz", "/readyz"):
            assert "security" not in op
            continue
        assert op.get("security") == [{"HTTPBearer": []}], (path, method)
        assert "401" in op["responses"] and "Who may call it" in op["description"], path
        bodiless = ("/codec/session", "/rotate-secret", "/retry")
        if (path, method) == ("/v1/claims/{claim_id}/documents", "post"):
            # A document upload: a multipart form, the file last.
            form = op["requestBody"]["content"]["multipart/form-data"]["schema"]
            assert form["required"] == ["kind", "file"]
            assert form["properties"]["file"] == {"type": "string", "format": "binary"}
            assert form["properties"]["kind"]["enum"] == [
                "records", "report_pdf", "addendum_pdf", "letter"
            ]  # fmt: skip
            assert set(op["responses"]) >= {"201", "401", "403", "404", "413", "415", "422"}
        elif method == "post" and not path.endswith(bodiless):
            body = op["requestBody"]["content"]["application/json"]["schema"]
            assert body["$ref"].startswith("#/components/schemas/"), path
    decision = operations[("/v1/claims/{claim_id}/actions/decision", "post")]
    assert set(decision["responses"]) >= {"200", "401", "403", "404", "409", "415", "422"}
    referral = document["components"]["schemas"]["Referral"]
    assert "claimant" in referral["properties"]
    report = document["components"]["schemas"]["ExamReport"]
    assert "acted_by" not in report["properties"]  # set by the service, never by a caller


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/openapi.json", "/docs"])
async def test_health_and_docs_stay_open(api: object, path: str):
    assert isinstance(api, ApiHarness)
    assert (await api.client(None).get(path)).status_code == 200


async def test_an_action_nobody_processes_answers_503_within_the_action_timeout(
    dev_env, database_url, pool
):
    """No worker on the claim's task queue: the action is bounded by the action timeout."""
    import time

    from api.app import create_app
    from domain.names import Role

    settings = make_settings(database_url, "nobody-polls-this", dev_address(dev_env))
    settings = settings.model_copy(update={"action_timeout_seconds": 1.5})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        harness = ApiHarness(app, app.state.pool, settings)
        http = await harness.as_role(Role.OPS)
        claim_id = (await http.post("/v1/claims", json=referral_payload("DEMO"))).json()["claim_id"]
        started = time.monotonic()
        answer = await post_action(http, claim_id, "withdraw", {"reason": "x"})
        took = time.monotonic() - started
        await harness.close()
    assert_error(answer, 503, "unavailable")
    assert took < 5.0
