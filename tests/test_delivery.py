"""Every notification reaches its recipient: insurer webhooks (signed, retried, once per id),
email to claimants and examiners, pages to the on-call chain, and inboxes.

The app, the worker and the dispatcher's relay run for real against the dev server and Postgres;
the outside callees (an insurer's endpoint, an SMTP relay, an on-call tool) are real servers on
loopback (tests/receivers.py).
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from api.app import create_app
from delivery.channels import SEND_TIMEOUT, Channels
from delivery.relay import Relay
from domain.names import Role
from tests.helpers import probes
from tests.helpers.app import ApiHarness
from tests.helpers.config import TEST_SEALER, claim_activities, make_settings
from tests.helpers.receivers import MailSink, PagingReceiver, WebhookReceiver, serving, text_of
from tests.helpers.referrals import referral_payload
from tests.helpers.stack import dev_address
from tests.helpers.walk import Parties, post_action, wait_until, walk_demo_claim_to_approval
from worker import build_worker


@dataclass
class Delivery:
    api: ApiHarness
    relay: Relay
    mail: MailSink
    pager: PagingReceiver
    parties: Parties


@pytest.fixture
async def delivery(dev_env, database_url, task_queue, pool) -> AsyncIterator[Delivery]:
    pager = PagingReceiver()
    with MailSink() as mail:
        async with serving(pager.app()) as pager_url:
            settings = make_settings(database_url, task_queue, dev_address(dev_env)).model_copy(
                update={
                    "smtp_port": mail.port,
                    "paging_url": f"{pager_url}/v2/enqueue",
                    "paging_routing_keys": {"clinician": "rk-clinician"},
                    "webhook_allowed_networks": ["127.0.0.0/8"],
                    "delivery_backoff_first_seconds": 0.2,
                    "delivery_backoff_max_seconds": 1.0,
                }
            )
            app = create_app(settings)
            worker = build_worker(dev_env.client, settings, claim_activities(pool))
            stop = asyncio.Event()
            async with (
                worker,
                app.router.lifespan_context(app),
                httpx.AsyncClient(timeout=SEND_TIMEOUT) as http,
            ):
                relay = Relay(pool, TEST_SEALER, Channels(settings, http), settings)
                running = asyncio.create_task(relay.run(stop))
                api = ApiHarness(app, pool, settings)
                parties = Parties(
                    insurer=await api.as_role(Role.INSURER, insurer="acme-ins"),
                    ops=await api.as_role(Role.OPS),
                    reviewer=await api.as_role(Role.REVIEWER),
                    clinician=await api.as_role(Role.CLINICIAN),
                )
                try:
                    yield Delivery(api, relay, mail, pager, parties)
                finally:
                    stop.set()
                    await running
                    await api.close()


async def until(predicate, timeout: float = 30.0):
    """Polls `predicate` (plain or async) until it returns something truthy, and returns that."""
    async with asyncio.timeout(timeout):
        while True:
            result = predicate()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return result
            await asyncio.sleep(0.1)


async def test_webhooks_arrive_signed_once_each_after_failures_and_only_to_their_insurer(
    delivery: Delivery, pool
):
    flaky = WebhookReceiver(fail_first=3)
    dead = WebhookReceiver(always_fail=True)
    other = WebhookReceiver()
    async with (
        serving(flaky.app()) as flaky_url,
        serving(dead.app()) as dead_url,
        serving(other.app()) as other_url,
    ):
        insurer, ops = delivery.parties.insurer, delivery.parties.ops
        made = await insurer.post("/v1/webhooks", json={"url": f"{flaky_url}/hook"})
        assert made.status_code == 201, made.text
        secret = made.json()["secret"]
        assert secret.startswith("whsec_")
        hook_id = made.json()["id"]
        dead_hook = await ops.post(
            "/v1/webhooks", json={"url": f"{dead_url}/hook", "insurer_id": "acme-ins"}
        )
        assert dead_hook.status_code == 201
        other_hook = await ops.post(
            "/v1/webhooks", json={"url": f"{other_url}/hook", "insurer_id": "other-ins"}
        )
        assert other_hook.status_code == 201
        listed = (await insurer.get("/v1/webhooks")).json()
        assert {h["id"] for h in listed} == {hook_id, dead_hook.json()["id"]}
        assert "secret" not in json.dumps(listed)

        final, _ = await walk_demo_claim_to_approval(delivery.parties)
        claim_id = final["claim_id"]
        want = {"claim.created", "claim.stage_changed", "claim.report_available", "claim.closed"}

        async def all_arrived():
            types = {
                b["type"] for b in flaky.bodies() if b["data"]["claim"]["claim_id"] == claim_id
            }
            return types >= want and len(flaky.accepted) >= 9

        await until(all_arrived, timeout=60)

    # Every event arrived; each webhook-id was accepted exactly once; every signature verifies.
    verifier = Webhook(secret)
    for headers, body in flaky.requests:
        verifier.verify(body, {k: headers[k] for k in headers if k.startswith("webhook-")})
    assert all(count == 1 for count in flaky.accepted.values())
    bodies = [b for b in flaky.bodies() if b["data"]["claim"]["claim_id"] == claim_id]
    stage_changes = [b for b in bodies if b["type"] == "claim.stage_changed"]
    assert {b["data"]["claim"]["stage"] for b in stage_changes} >= {
        "SCHEDULING",
        "EXAM",
        "REPORT",
        "REVIEW",
        "DECISION",
        "CLOSED",
    }
    # Receivers can order by version; the body is the insurer's view, no clinical detail.
    assert all("version" in b["data"]["claim"] for b in bodies)
    assert "Jane Roe" not in json.dumps(bodies) and "1980-04-02" not in json.dumps(bodies)
    # The first attempts failed and were retried; the records say so.
    records = (await insurer.get(f"/v1/webhooks/{hook_id}/deliveries")).json()
    assert all(r["status"] == "delivered" for r in records)
    assert max(r["attempts"] for r in records) > 1
    # Another insurer's endpoint never saw this insurer's claim; a dead one delayed nobody.
    assert not [b for b in other.bodies() if b["data"]["claim"]["claim_id"] == claim_id]
    assert dead.requests  # tried...
    dead_records = await pool.fetch(
        "SELECT status FROM deliveries WHERE webhook_id = $1", dead_hook.json()["id"]
    )
    assert {r["status"] for r in dead_records} <= {"pending", "failed", "dead"}


async def test_webhook_management_is_scoped_and_ssrf_guarded(delivery: Delivery):
    insurer, ops = delivery.parties.insurer, delivery.parties.ops
    other = await delivery.api.as_role(Role.INSURER, insurer="other-ins")
    for url in (
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[fd00::1]/hook",
        "https://192.168.0.10/hook",
        "https://0.0.0.0/hook",
        "ftp://example.org/hook",
        "https://user:pw@127.0.0.1/hook",
    ):
        refused = await insurer.post("/v1/webhooks", json={"url": url})
        assert refused.status_code == 422, (url, refused.text)
        assert refused.json()["error"]["details"][0]["field"] == "url"
    forbidden = await insurer.post(
        "/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "insurer_id": "other-ins"}
    )
    assert forbidden.status_code == 403
    made = (await insurer.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"})).json()
    assert (await other.get(f"/v1/webhooks/{made['id']}/deliveries")).status_code == 404
    assert (await other.delete(f"/v1/webhooks/{made['id']}")).status_code == 404
    rotated = await insurer.post(f"/v1/webhooks/{made['id']}/rotate-secret")
    assert rotated.status_code == 200 and rotated.json()["secret"] != made["secret"]
    reviewer = delivery.parties.reviewer
    assert (await reviewer.get("/v1/webhooks")).status_code == 403
    assert (await ops.get("/v1/webhooks", params={"insurer_id": "acme-ins"})).status_code == 200
    assert (await insurer.delete(f"/v1/webhooks/{made['id']}")).status_code == 204
    assert (await insurer.get("/v1/webhooks")).json() == []


async def test_the_claimant_gets_the_appointment_notice_by_email(delivery: Delivery):
    http = delivery.parties.insurer
    referral = referral_payload("DEMO")
    claim_id = (await http.post("/v1/claims", json=referral)).json()["claim_id"]
    booked = await wait_until(http, claim_id, lambda c: c["appointment"] is not None)

    notices = await until(lambda: delivery.mail.to(referral["claimant"]["email"]))
    text = text_of(notices[0])
    starts = datetime.fromisoformat(booked["appointment"]["starts_at"])
    local = starts.astimezone(ZoneInfo("America/New_York"))
    assert local.strftime("%d %B %Y at %H:%M") in text
    assert booked["appointment"]["location"] in text
    assert booked["examiner"]["name"] in text
    assert "reschedule" in text.lower()
    assert referral["claimant"]["date_of_birth"] not in text  # the minimum necessary
    assert notices[0]["Subject"].startswith("Your medical examination")
    # The examiner is asked to confirm, at the panel's address for them.
    examiner_mail = await until(
        lambda: delivery.mail.to(f"{booked['examiner']['id']}@examiners.example.org")
    )
    assert "Confirm or decline" in text_of(examiner_mail[0])


async def test_pages_reach_the_on_call_tool_and_re_pages_share_the_dedup_key(
    delivery: Delivery, pool
):
    http = delivery.parties.insurer
    referral = referral_payload("DEMO")
    claim_id = (await http.post("/v1/claims", json=referral)).json()["claim_id"]
    await wait_until(http, claim_id, lambda c: c["appointment"] is not None)
    concern = {"level": "imminent", "toward": "self", "notes": "stated a plan"}
    assert (await post_action(http, claim_id, "safety-concern", concern)).status_code == 200
    case_id = f"ime-claim-{claim_id}-safety-1"

    async def pages_of_case(count: int):
        found = [e for e in delivery.pager.events if e["dedup_key"] == case_id]
        return found if len(found) >= count else None

    first = await until(lambda: pages_of_case(2))  # the clinician's page and the crisis line
    page = next(e for e in first if e["routing_key"] == "rk-clinician")
    assert page["event_action"] == "trigger" and page["payload"]["severity"] == "critical"
    assert "stated a plan" not in json.dumps(first)  # notes stay in the clinician's inbox
    # The clinician's page links straight to its case in the console (where it is acknowledged): the
    # console's address and the opaque claim id, nothing of the examinee or the claim number.
    case_page = f"{delivery.api.settings.console_url()}/console/safety/{claim_id}"
    assert page["links"] == [{"href": case_page, "text": "Open the safety case"}]
    (crisis_line,) = [e for e in first if e is not page]
    assert "links" not in crisis_line  # outside the service: no console to open
    for phi in (referral["claimant"]["full_name"], referral["claim_number"]):
        assert phi not in json.dumps(first)
    # The DEMO acknowledgement window is 10 s: the re-page comes with the same dedup key.
    repages = await until(lambda: pages_of_case(3), timeout=40)
    assert {e["dedup_key"] for e in repages} == {case_id}


async def test_inboxes_hold_each_role_its_own_tasks(delivery: Delivery, pool):
    api, parties = delivery.api, delivery.parties
    http = parties.insurer
    claim_id = (await http.post("/v1/claims", json=referral_payload("DEMO"))).json()["claim_id"]
    booked = await wait_until(http, claim_id, lambda c: c["appointment"] is not None)
    examiner = await api.as_role(Role.EXAMINER, examiner=booked["examiner"]["id"])
    other_examiner = await api.as_role(Role.EXAMINER, examiner="ex-ca-neurology-1")
    other_insurer = await api.as_role(Role.INSURER, insurer="other-ins")

    async def inbox_of(client: httpx.AsyncClient) -> list[dict]:
        answer = await client.get("/v1/inbox")
        assert answer.status_code == 200, answer.text
        return [i for i in answer.json() if i["claim_id"] == claim_id]

    requests = await until(lambda: inbox_of(examiner))
    assert [i["kind"] for i in requests] == ["appointment_request"]
    assert await inbox_of(other_examiner) == []

    # Risk toward others: pages for the clinician, a duty-to-protect task for ops.
    concern = {"level": "imminent", "toward": "others", "notes": "named a coworker"}
    assert (await post_action(http, claim_id, "safety-concern", concern)).status_code == 200
    pages = await until(lambda: inbox_of(parties.clinician))
    assert pages[0]["kind"] == "safety_page" and pages[0]["details"]["notes"] == "named a coworker"
    duty = await until(
        lambda: _first(inbox_of(parties.ops), lambda i: i["kind"] == "duty_to_protect_task")
    )
    assert "notes" not in duty["details"]  # ops act on it without the clinical notes
    assert await inbox_of(parties.insurer) == [] and await inbox_of(other_insurer) == []
    assert await inbox_of(await api.as_role(Role.SRE)) == []

    # The case cannot be resolved while the duty-to-protect task is open.
    ack = await post_action(parties.clinician, claim_id, "safety-ack", {"clinician_id": "dr-1"})
    assert ack.status_code == 200
    resolve = {"actions_taken": ["emergency_services_contacted"]}
    early = await post_action(parties.clinician, claim_id, "safety-resolve", resolve)
    assert early.status_code == 409 and "duty-to-protect" in early.json()["error"]["message"]
    done_url = f"/v1/inbox/{duty['id']}/done"
    no_record = await parties.ops.post(done_url, json={"note": "handled"})
    assert no_record.status_code == 422
    assert (await parties.clinician.post(done_url, json={"note": "x"})).status_code == 404
    closed = await parties.ops.post(done_url, json={"note": "called", "warned": ["police"]})
    assert closed.status_code == 200 and closed.json()["done_at"]
    assert (
        await parties.ops.post(done_url, json={"note": "x", "warned": ["x"]})
    ).status_code == 409
    late = await post_action(parties.clinician, claim_id, "safety-resolve", resolve)
    assert late.status_code == 200, late.text


async def _first(items, predicate):
    return next((i for i in await items if predicate(i)), None)


async def test_a_held_notice_goes_out_when_the_hold_lifts_and_a_dead_delivery_tells_ops(
    delivery: Delivery, pool
):
    parties = delivery.parties
    http, ops = parties.insurer, parties.ops
    referral = referral_payload("DEMO")
    claimant = referral["claimant"]["email"]
    claim_id = (await http.post("/v1/claims", json=referral)).json()["claim_id"]
    await wait_until(http, claim_id, lambda c: c["appointment"] is not None)
    # An imminent risk raised before the exam: the claimant is on safety hold (PRODUCT §4).
    concern = {"level": "imminent", "toward": "self", "notes": "stated a plan"}
    raised = await post_action(http, claim_id, "safety-concern", concern)
    assert raised.status_code == 200 and raised.json()["safety_hold"] is True, raised.text

    # The claimant misses three exams; DEMO allows two no-shows, the third closes the claim for
    # non-cooperation: an outcome adverse to the claimant, decided while the hold is on.
    missed: list[str] = []
    for _ in range(3):
        booked = await wait_until(
            http,
            claim_id,
            lambda c: c["appointment"] is not None and c["appointment"]["starts_at"] not in missed,
        )
        missed.append(booked["appointment"]["starts_at"])
        confirmed = await post_action(ops, claim_id, "confirm-appointment")
        assert confirmed.status_code == 200, confirmed.text
        starts_at = datetime.fromisoformat(missed[-1])
        await asyncio.sleep(max(0.0, (starts_at - datetime.now(UTC)).total_seconds()) + 0.2)
        no_show = await post_action(ops, claim_id, "exam", {"attended": False})
        assert no_show.status_code == 200, no_show.text
    closed = no_show.json()
    assert (closed["stage"], closed["outcome"], closed["safety_hold"]) == (
        "CLOSED",
        "non_cooperation",
        True,
    )

    def closed_mail_to_claimant() -> list:
        return [m for m in delivery.mail.to(claimant) if m["Subject"].endswith(" is closed")]

    # The closing's other notices go out (the examiner is told the claim closed; ops are asked to
    # follow up the notice held back); the claimant's notice of the closing does not.
    ops_item = await until(
        lambda: _first(_inbox(ops, claim_id), lambda i: i["kind"] == "adverse_notice_deferred")
    )
    assert ops_item["details"]["notice"] == "non_cooperation_notice"
    await until(lambda: delivered_email(pool, claim_id, "claim_closed"))
    held = await probes.deliveries(pool, claim_id=claim_id, status="held")
    assert [(d.channel, d.event_type) for d in held] == [("email", "non_cooperation_notice")]
    assert closed_mail_to_claimant() == []

    # The clinician resolves the case: the hold lifts and the held notice goes out.
    ack = await post_action(parties.clinician, claim_id, "safety-ack", {"clinician_id": "dr-1"})
    assert ack.status_code == 200, ack.text
    resolve = {"actions_taken": ["warm_handoff", "referral_to_treatment"]}
    resolved = await post_action(parties.clinician, claim_id, "safety-resolve", resolve)
    assert resolved.status_code == 200, resolved.text
    await wait_until(http, claim_id, lambda c: c["safety_hold"] is False)
    (letter,) = await until(closed_mail_to_claimant)
    assert "closed because the examinations were missed" in text_of(letter)
    assert await probes.deliveries(pool, claim_id=claim_id, status="held") == []

    # A delivery that cannot succeed within its retry period is dead, and ops are told.
    await pool.execute(
        """UPDATE deliveries SET status = 'pending', give_up_at = now() + interval '1 second',
               sealed_body = $2, next_attempt_at = now()
           WHERE claim_id = $1 AND channel = 'email' AND outbox_key LIKE '%appointment_notice%'""",
        claim_id,
        TEST_SEALER.seal_json({"recipient": "claimant", "template": "appointment_notice"}),
    )
    await pool.execute("DELETE FROM claim_contacts WHERE claim_id = $1", claim_id)
    ops_items = await until(
        lambda: _first(
            _inbox(delivery.parties.ops, claim_id), lambda i: i["kind"] == "delivery_dead"
        )
    )
    assert ops_items["details"]["channel"] == "email"


async def delivered_email(pool, claim_id: str, template: str) -> bool:
    sent = await probes.deliveries(pool, claim_id=claim_id, channel="email", status="delivered")
    return template in [d.event_type for d in sent]


async def _inbox(client: httpx.AsyncClient, claim_id: str) -> list[dict]:
    return [i for i in (await client.get("/v1/inbox")).json() if i["claim_id"] == claim_id]


def test_backoff_grows_with_jitter_and_stops_at_the_ceiling():
    settings = make_settings("", "q").model_copy(
        update={"delivery_backoff_first_seconds": 1.0, "delivery_backoff_max_seconds": 8.0}
    )
    relay = Relay(None, TEST_SEALER, None, settings)  # type: ignore[arg-type]
    waits = [relay._backoff(n) for n in range(1, 10) for _ in range(20)]
    assert min(waits) >= timedelta(seconds=0.5)
    assert max(waits) <= timedelta(seconds=8.0)
    assert len({w.total_seconds() for w in waits}) > 100  # jittered
