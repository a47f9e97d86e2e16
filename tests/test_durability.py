"""A worker killed with SIGKILL mid-claim: a new worker finishes the claim, nothing duplicated."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

import httpx

from domain.models import (
    ConfirmAppointment,
    DecisionInput,
    ExamOutcome,
    ExamReport,
    Referral,
    ReviewResult,
    Stage,
)
from domain.names import Action
from store.claims import list_events
from tests.helpers.claims import act, appointment_of, start_claim, wait_for
from tests.helpers.probes import appointments, notices
from tests.helpers.processes import free_port, kill, spawn_worker
from tests.helpers.referrals import complete_report, referral_payload
from tests.helpers.stack import dev_address


async def test_claim_survives_worker_sigkill_with_one_event_per_transition(
    dev_env, database_url, task_queue, pool
):
    address = dev_address(dev_env)
    client = dev_env.client
    metrics_address = f"127.0.0.1:{free_port()}"
    worker = spawn_worker(address, database_url, task_queue, metrics_address)
    try:
        handle = await start_claim(
            client, Referral.model_validate(referral_payload("DEMO")), task_queue
        )
        booked = await wait_for(handle, lambda s: s.appointment is not None)

        # The worker serves the SDK's metrics to Prometheus.
        async with httpx.AsyncClient() as http:
            scraped = (await http.get(f"http://{metrics_address}/metrics")).text
        assert "temporal_local_activity_execution_latency" in scraped
        assert 'service="ime-worker"' in scraped

        # Kill while the claim waits for the examiner; the next worker picks it up from history.
        kill(worker)
        worker = spawn_worker(address, database_url, task_queue)
        status = await act(handle, Action.CONFIRM_APPOINTMENT, ConfirmAppointment())
        wait = (appointment_of(booked).starts_at - datetime.now(UTC)).total_seconds()
        await asyncio.sleep(max(0.0, wait) + 0.5)
        await act(handle, Action.EXAM, ExamOutcome(attended=True))

        # Kill while an action is in flight: the update is delivered again to the new worker.
        report = asyncio.create_task(
            act(handle, Action.REPORT, ExamReport.model_validate(complete_report()))
        )
        await asyncio.sleep(0.05)
        kill(worker)
        worker = spawn_worker(address, database_url, task_queue)
        status = await asyncio.wait_for(report, timeout=60)
        assert status.stage is Stage.REVIEW

        await act(handle, Action.REVIEW, ReviewResult(result="accepted"))
        kill(worker)
        worker = spawn_worker(address, database_url, task_queue)
        await act(handle, Action.DECISION, DecisionInput(outcome="approved", reason_code="OK"))
        final = await asyncio.wait_for(handle.result(), timeout=60)
    finally:
        kill(worker)

    assert (final.stage, final.outcome) == (Stage.CLOSED, "approved")
    events = await list_events(pool, final.claim_id)
    # DEMO deadlines are seconds long and a killed worker costs seconds of failover, so a
    # deadline may legitimately pass; each may be reported at most once.
    breaches = [e.details["deadline"] for e in events if e.type == "deadline_breached"]
    assert len(breaches) == len(set(breaches))
    transitions = [e for e in events if e.type != "deadline_breached"]
    assert Counter(e.type for e in transitions) == Counter(
        {
            "referral_received": 1,
            "appointment_booked": 1,
            "appointment_confirmed": 1,
            "exam_attended": 1,
            "report_submitted": 1,
            "report_accepted": 1,
            "decision_issued": 1,
            "claim_closed": 1,
        }
    )
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    sent = Counter(await notices(pool, final.claim_id))
    assert sent and all(n == 1 for n in sent.values())
    assert len(await appointments(pool, final.claim_id)) == 1
