"""A worker killed with SIGKILL mid-claim: a new worker finishes the claim, nothing duplicated."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

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
from tests.conftest import TEST_CODEC_KEYS, TEST_SECRET, dev_address
from tests.factories import complete_report, referral_payload
from tests.helpers import act, appointment_of, start_claim, wait_for

ROOT = Path(__file__).resolve().parent.parent


def spawn_worker(
    address: str, database_url: str, task_queue: str, metrics_address: str = ""
) -> subprocess.Popen:
    env = os.environ | {
        "IME_WORKER_METRICS_ADDRESS": metrics_address,
        "IME_TEMPORAL_ADDRESS": address,
        "IME_DATABASE_URL": database_url,
        "IME_TASK_QUEUE": task_queue,
        "IME_ID_SECRET": TEST_SECRET,
        "IME_CODEC_KEYS": TEST_CODEC_KEYS,
    }
    return subprocess.Popen(
        [sys.executable, "worker.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


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
    notices = await pool.fetch(
        "SELECT recipient, template, count(*) AS n FROM notification_outbox"
        " WHERE claim_id = $1 GROUP BY 1, 2",
        final.claim_id,
    )
    assert notices and all(n["n"] == 1 for n in notices)
    appointments = await pool.fetchval(
        "SELECT count(*) FROM appointments WHERE claim_id = $1", final.claim_id
    )
    assert appointments == 1
