"""/metrics: the business figures read from Postgres at scrape time, exactly, with no claim id in
any label; still answering (HTTP metrics, `ime_business_metrics_up 0`) while Postgres does not;
and the Temporal SDK metrics a real worker process serves.

Claims are put in known states through the store functions the workflow's activities use (and,
for a breach, by a real claim on the time-skipping server); deliveries go through the real relay.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.metrics import BUSINESS_METRICS, WORKER_SDK_METRICS
from delivery.channels import Channels
from delivery.relay import Relay
from devstack.postgres import EmbeddedPostgres
from domain.delivery import Channel
from domain.ids import claim_id_for, plausible_claim_id, workflow_id_for
from domain.models import (
    ClaimEvent,
    ClaimStatus,
    ClaimType,
    ConfirmAppointment,
    ExamOutcome,
    Outcome,
    ProjectionWrite,
    SafetyCaseEvent,
    SafetyCaseWrite,
    SafetyConcern,
    Stage,
)
from domain.names import Action, EventType, Role
from store import case_events, outbox, webhooks
from store.claims import apply_projection
from store.metrics import business_counts
from tests.helpers.app import ApiHarness, api_on_own_postgres
from tests.helpers.claims import (
    act,
    appointment_of,
    projection_until,
    start_demo_claim,
    terminate_leftovers,
    wait_for,
)
from tests.helpers.config import TEST_SEALER, TEST_SECRET
from tests.helpers.processes import free_port, service_env, worker_process
from tests.helpers.stack import dev_address, embedded_postgres, frozen

INSURER = "acme-ins"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def by_label(samples: Samples, name: str, label: str) -> dict[str, float]:
    return {dict(key)[label]: v for (n, key), v in samples.items() if n == name}


async def scrape(http: httpx.AsyncClient) -> Samples:
    answer = await http.get("/metrics")
    assert answer.status_code == 200, answer.text
    return parse(answer.text)


# --- claims, safety cases and deliveries in known states ----------------------------------------


async def put_claim(
    pool: asyncpg.Pool,
    number: str,
    stage: Stage,
    *,
    outcome: Outcome | None = None,
    overdue: bool = False,
    hold: bool = False,
    breaches: tuple[tuple[str, str], ...] = (),
) -> str:
    """A claim recorded as the workflow records it: its events, each with the status it led to.
    `breaches`: (deadline, owner) of each `deadline_breached` event."""
    claim_id = claim_id_for(TEST_SECRET, INSURER, number)
    now = datetime.now(UTC)
    status = ClaimStatus(
        claim_id=claim_id,
        workflow_id=workflow_id_for(claim_id),
        insurer_id=INSURER,
        claim_number=number,
        claim_type=ClaimType.WORKERS_COMP,
        jurisdiction="DEMO",
        stage=stage,
        status="closed" if stage is Stage.CLOSED else "open",
        outcome=outcome,
        safety_hold=hold,
        overdue=overdue,
        created_at=now,
        updated_at=now,
    )
    events: list[tuple[EventType, dict[str, Any]]] = [(EventType.REFERRAL_RECEIVED, {})]
    events += [
        (EventType.DEADLINE_BREACHED, {"deadline": deadline, "owner": owner})
        for deadline, owner in breaches
    ]
    for seq, (kind, details) in enumerate(events, start=1):
        event = ClaimEvent(
            claim_id=claim_id, seq=seq, type=kind, stage=stage, at=now, details=details
        )
        write = ProjectionWrite(status=status.model_copy(update={"version": seq}), event=event)
        async with pool.acquire() as conn:
            assert await apply_projection(conn, write, TEST_SEALER)
    return claim_id


async def case_steps(
    pool: asyncpg.Pool, claim_id: str, steps: list[tuple[EventType, timedelta]]
) -> str:
    """A safety case of the claim whose steps happened `ago`."""
    case_id = f"{workflow_id_for(claim_id)}-safety-1"
    now = datetime.now(UTC)
    events = [
        SafetyCaseEvent(case_id=case_id, seq=seq, claim_id=claim_id, type=kind, at=now - ago)
        for seq, (kind, ago) in enumerate(steps, start=1)
    ]
    async with pool.acquire() as conn:
        assert await case_events.apply(conn, SafetyCaseWrite(events=events), TEST_SEALER)
    return case_id


async def delivery(
    pool: asyncpg.Pool,
    name: str,
    channel: Channel,
    claim_id: str,
    *,
    webhook_id: str | None = None,
    held: bool = False,
) -> None:
    bodies: dict[Channel, dict[str, Any]] = {
        Channel.WEBHOOK: {"id": f"msg_{name}", "type": "claim.created", "data": {}},
        Channel.PAGE: {"payload": {"component": "clinician", "summary": "IME safety case"}},
        Channel.EMAIL: {"recipient": "examiner", "template": "appointment_request"},
    }
    async with pool.acquire() as conn:
        await outbox.insert_delivery(
            conn,
            TEST_SEALER,
            dedup=f"metrics:{name}",
            channel=channel,
            claim_id=claim_id,
            event_type="test",
            body=bodies[channel],
            retry=timedelta(hours=1),
            webhook_id=webhook_id,
            held=held,
        )


async def relay_once(api: ApiHarness) -> None:
    """One pass of the dispatcher's relay over what is due, every attempt finished. No paging
    endpoint is configured, so a page fails (and is retried later)."""
    async with httpx.AsyncClient(timeout=5.0) as http:
        relay = Relay(api.pool, TEST_SEALER, Channels(api.settings, http), api.settings)
        await relay.tick()
        await relay.drain()


async def test_business_metrics_report_every_state_exactly(api: ApiHarness):
    pool = api.pool
    numbers = iter(f"WC-METRICS-{n}" for n in range(100))

    async def claim(stage: Stage, **kwargs: Any) -> str:
        return await put_claim(pool, next(numbers), stage, **kwargs)

    ids = [
        await claim(Stage.SCHEDULING),
        await claim(Stage.SCHEDULING),
        await claim(Stage.EXAM),
        await claim(
            Stage.REPORT,
            overdue=True,
            breaches=(("report", "examiner"), ("report_escalation", "ops")),
        ),
        await claim(Stage.REVIEW),
        paged := await claim(Stage.DECISION, hold=True, breaches=(("decision", "insurer"),)),
        # The hold of a case opened before the claim closed outlasts the closing.
        acknowledged := await claim(Stage.CLOSED, outcome=Outcome.WITHDRAWN, hold=True),
        ended := await claim(Stage.CLOSED, outcome=Outcome.APPROVED),
        await claim(Stage.CLOSED, outcome=Outcome.APPROVED),
        await claim(Stage.CLOSED, outcome=Outcome.DENIED),
    ]
    sent, acked = EventType.SAFETY_PAGE_SENT, EventType.SAFETY_CASE_ACKNOWLEDGED
    hour = timedelta(hours=1)
    cases = [
        # Paged an hour ago and again since, never acknowledged: the one unacknowledged page.
        await case_steps(pool, paged, [(sent, hour), (sent, hour / 2)]),
        # Older, but acknowledged.
        await case_steps(pool, acknowledged, [(sent, 2 * hour), (acked, 1.5 * hour)]),
        # Older still, never acknowledged, but the case ended (terminated): the hold lifted.
        await case_steps(pool, ended, [(sent, 3 * hour)]),
    ]

    # Deliveries: the relay's attempts make `failed` (a page: no paging endpoint; a webhook: its
    # endpoint refuses connections) and `dead` (an email for a claim the projection lacks); a
    # deleted endpoint's deliveries are dead too; what was queued after the relay ran is pending.
    closed_port = free_port()
    refusing = f"http://127.0.0.1:{closed_port}/hook"
    down, _ = await webhooks.create(
        pool, TEST_SEALER, insurer_id=INSURER, url=refusing, event_types=[]
    )
    gone, _ = await webhooks.create(
        pool, TEST_SEALER, insurer_id=INSURER, url="http://127.0.0.1:9/gone", event_types=[]
    )
    await delivery(pool, "page-fails", Channel.PAGE, paged)
    await delivery(pool, "webhook-fails", Channel.WEBHOOK, ids[0], webhook_id=down.id)
    await delivery(pool, "email-dies", Channel.EMAIL, "no-such-claim")
    await relay_once(api)
    await delivery(pool, "webhook-deleted", Channel.WEBHOOK, ids[1], webhook_id=gone.id)
    async with pool.acquire() as conn:
        await webhooks.delete(conn, gone.id)
    await delivery(pool, "email-1", Channel.EMAIL, ids[2])
    await delivery(pool, "email-2", Channel.EMAIL, ids[3])
    await delivery(pool, "webhook-later", Channel.WEBHOOK, ids[4], webhook_id=down.id)
    # Held for the claimant's safety hold: waiting on purpose, not pending.
    await delivery(pool, "email-held", Channel.EMAIL, acknowledged, held=True)

    sre = await api.as_role(Role.SRE)
    samples = await scrape(sre)

    assert value(samples, "ime_business_metrics_up") == 1
    assert by_label(samples, "ime_claims_open", "stage") == {
        "REFERRAL": 0,
        "SCHEDULING": 2,
        "EXAM": 1,
        "REPORT": 1,
        "REVIEW": 1,
        "DECISION": 1,
        "APPEAL": 0,
    }
    assert by_label(samples, "ime_claims_closed", "outcome") == {
        "approved": 2,
        "denied": 1,
        "withdrawn": 1,
        "non_cooperation": 0,
        "cancelled_by_ops": 0,
        "terminated": 0,
        "appeal_upheld": 0,
        "appeal_overturned": 0,
        "appeal_withdrawn": 0,
    }
    assert value(samples, "ime_claims_overdue") == 1
    assert value(samples, "ime_safety_holds_open") == 2
    assert value(samples, "ime_safety_pages_unacknowledged") == 1
    oldest = value(samples, "ime_safety_page_oldest_unacknowledged_seconds")
    assert 3600 <= oldest < 3600 + 120  # the first page of the paged case, an hour ago
    deliveries = {
        (dict(key)["channel"], dict(key)["state"]): v
        for (name, key), v in samples.items()
        if name == "ime_deliveries"
    }
    assert deliveries == {
        ("webhook", "pending"): 1,
        ("webhook", "failed"): 1,
        ("webhook", "dead"): 1,
        ("email", "pending"): 2,
        ("email", "failed"): 0,
        ("email", "dead"): 1,
        ("page", "pending"): 0,
        ("page", "failed"): 1,
        ("page", "dead"): 0,
    }
    assert by_label(samples, "ime_deadline_breaches_total", "owner") == {
        "examiner": 1,
        "ops": 1,
        "insurer": 1,
        "reviewer": 0,
    }
    # Every name dashboards rely on is served, and the HTTP metrics beside them (the scrape
    # before counted).
    assert set(BUSINESS_METRICS) <= {name for name, _ in samples}
    again = await scrape(sre)
    assert (
        value(again, "ime_http_requests_total", method="GET", route="/metrics", status="200") == 1
    )

    # No label names a claim, a workflow, a case or an insurer.
    identifiers = {*ids, *(workflow_id_for(i) for i in ids), *cases, INSURER}
    labels = {v for _, key in samples for _, v in key}
    assert not [v for v in labels if plausible_claim_id(v) or any(i in v for i in identifiers)]


async def test_metrics_are_for_sre_and_ops_keys_only(api: ApiHarness):
    assert (await api.client(None).get("/metrics")).status_code == 401
    assert (await api.client("imek_not-a-key").get("/metrics")).status_code == 401
    forbidden = [
        await api.as_role(Role.INSURER, insurer=INSURER),
        await api.as_role(Role.EXAMINER, examiner="ex-ny-orthopedic-surgery-1"),
        await api.as_role(Role.REVIEWER),
        await api.as_role(Role.SENIOR_REVIEWER),
        await api.as_role(Role.CLINICIAN),
    ]
    for http in forbidden:
        answer = await http.get("/metrics")
        assert answer.status_code == 403
        assert "ime_claims_open" not in answer.text
    for role in (Role.SRE, Role.OPS):
        assert value(await scrape(await api.as_role(role)), "ime_business_metrics_up") == 1


@pytest.mark.usefixtures("ts_worker")
async def test_a_real_breach_is_counted_for_its_owner_and_the_claim_overdue(
    ts_env, client, task_queue, pool
):
    handle = await start_demo_claim(client, task_queue)
    await wait_for(handle, lambda s: s.appointment is not None)
    status = await act(handle, Action.CONFIRM_APPOINTMENT, ConfirmAppointment())
    starts = appointment_of(status).starts_at
    await ts_env.sleep(starts - await ts_env.get_current_time() + timedelta(seconds=1))
    status = await act(handle, Action.EXAM, ExamOutcome(attended=True))
    assert status.stage is Stage.REPORT
    before = await _counts(pool)
    assert before.breaches_by_owner["examiner"] == 0 and before.overdue == 0

    await ts_env.sleep(timedelta(seconds=21))  # DEMO: the report was due 20 s after the exam
    await projection_until(pool, status.claim_id, lambda s: s.overdue)
    after = await _counts(pool)
    assert after.breaches_by_owner == {"examiner": 1, "ops": 0, "reviewer": 0, "insurer": 0}
    assert after.overdue == 1
    assert after.open_by_stage[Stage.REPORT] == 1


async def _counts(pool: asyncpg.Pool):
    async with pool.acquire() as conn:
        return await business_counts(conn, timeout_seconds=5.0)


# --- Postgres down ------------------------------------------------------------------------------


@pytest.fixture
def own_postgres() -> Iterator[EmbeddedPostgres]:
    with embedded_postgres("ime-metrics-") as server:
        yield server


@pytest.fixture
async def app_on_own_postgres(own_postgres, dev_env) -> AsyncIterator[ApiHarness]:
    # The key stays trusted through the outage: the scrape itself is what is tested.
    async with api_on_own_postgres(
        own_postgres, dev_address(dev_env), "tq-metrics", api_key_cache_seconds=5.0
    ) as harness:
        yield harness


async def test_a_scrape_answers_while_postgres_does_not(app_on_own_postgres, own_postgres):
    http = await app_on_own_postgres.as_role(Role.SRE)
    assert value(await scrape(http), "ime_business_metrics_up") == 1
    with frozen(own_postgres):
        samples = await scrape(http)
        assert value(samples, "ime_business_metrics_up") == 0
        # The HTTP metrics are all there (the last scrape counted), the figures are not.
        assert (
            value(samples, "ime_http_requests_total", method="GET", route="/metrics", status="200")
            >= 1
        )
        assert not [name for name, _ in samples if name.startswith(("ime_claims", "ime_safety"))]
    async with asyncio.timeout(20):
        while value(await scrape(http), "ime_business_metrics_up") != 1:
            await asyncio.sleep(0.2)


# --- the worker's SDK metrics -------------------------------------------------------------------


async def test_a_worker_process_serves_every_listed_sdk_metric(dev_env, database_url, task_queue):
    address = f"127.0.0.1:{free_port()}"
    env = service_env(
        dev_address(dev_env), database_url, task_queue, IME_WORKER_METRICS_ADDRESS=address
    )
    async with worker_process(env), httpx.AsyncClient(timeout=5.0) as http:
        try:
            handle = await start_demo_claim(dev_env.client, task_queue)
            await wait_for(handle, lambda s: s.appointment is not None)
            # A safety case runs remote activities (a claim's own are mostly local).
            await act(handle, Action.SAFETY_CONCERN, SafetyConcern(level="imminent", toward="self"))
            missing: list[str] = list(WORKER_SDK_METRICS)
            async with asyncio.timeout(30):
                while missing:
                    text = (await http.get(f"http://{address}/metrics")).text
                    missing = [n for n in WORKER_SDK_METRICS if f"# TYPE {n} " not in text]
                    await asyncio.sleep(0.2)
        finally:
            await terminate_leftovers()
    assert 'service="ime-worker"' in text
    # Latency histograms are in milliseconds: their buckets count from 100 (ms) up.
    assert "temporal_workflow_task_schedule_to_start_latency_bucket{" in text
    assert 'le="100"' in text and 'le="0.1"' not in text


def test_the_banner_shows_where_the_worker_serves_its_metrics(tmp_path):
    from devstack.banner import banner
    from devstack.commands import child_env
    from settings import Settings

    settings = Settings(_env_file=None, data_dir=tmp_path, ui_port=18233)
    text = banner(settings, "postgresql://127.0.0.1/x", {})
    assert "  Worker metrics  http://127.0.0.1:18237/metrics\n" in text
    assert child_env(settings, "")["IME_WORKER_METRICS_ADDRESS"] == "127.0.0.1:18237"
    own = Settings(_env_file=None, data_dir=tmp_path, worker_metrics_port=19999)
    assert "  Worker metrics  http://127.0.0.1:19999/metrics\n" in banner(own, "", {})
    assert child_env(own, "")["IME_WORKER_METRICS_ADDRESS"] == "127.0.0.1:19999"
    given = Settings(_env_file=None, data_dir=tmp_path, worker_metrics_address="0.0.0.0:9464")
    assert "  Worker metrics  http://127.0.0.1:9464/metrics\n" in banner(given, "", {})
    assert child_env(given, "")["IME_WORKER_METRICS_ADDRESS"] == "0.0.0.0:9464"
