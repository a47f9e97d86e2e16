"""Retention (issue 18): a closed claim's documents, report contents, clinical notes and claimant
contact destroyed by the `RetentionSweep` workflow once its profile's period has passed, one
`records_destroyed` event each; a legal hold stops it until lifted; the `retention-sweep`
Temporal Schedule created once and updated in place.

Claims are walked through the real app (dev server, worker, Postgres); the sweep runs on the
time-skipping server against the same Postgres, which skips past DEMO's five minutes. What
Postgres still holds is read through `store.retention.what_remains`; expected values are written
by hand."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from playwright.async_api import expect
from pypdf import PdfWriter
from temporalio.client import ScheduleActionStartWorkflow, ScheduleOverlapPolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.names import Role
from domain.retention import SweepInput, SweepResult
from store.retention import what_remains
from tests.helpers.app import ApiHarness
from tests.helpers.browser import assert_accessible, chromium, person, screenshot, sign_in
from tests.helpers.config import claim_activities, make_settings
from tests.helpers.histories import keep_history
from tests.helpers.processes import starter_cli
from tests.helpers.referrals import complete_report, referral_payload
from tests.helpers.stack import dev_address
from tests.helpers.temporal_cli import served
from tests.helpers.walk import Parties, post_action, wait_until
from worker import RETENTION_SCHEDULE_ID, build_worker, ensure_retention_schedule
from workflows.retention import RetentionSweep

pytestmark = pytest.mark.slow

NOTHING_LEFT = {
    "document_chunks": 0,
    "document_names": 0,
    "report_contents": 0,
    "inbox_contents": 0,
    "notification_contents": 0,
    "event_notes": 0,
    "clinical_notes": 0,
    "contact": 0,
}


def pdf_bytes() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def upload_records(http: httpx.AsyncClient, claim_id: str) -> str:
    answer = await http.post(
        f"/v1/claims/{claim_id}/documents",
        data={"kind": "records"},
        files={"file": ("Jane Doe MRI.pdf", pdf_bytes(), "application/pdf")},
    )
    assert answer.status_code == 201, answer.text
    document_id: str = answer.json()["id"]
    return document_id


async def claim_with_everything(parties: Parties) -> tuple[str, str]:
    """A DEMO claim with records uploaded, a safety case (clinical notes) raised and resolved, a
    report filed, then withdrawn: closed. Its id and its document's."""
    http = parties.insurer
    claim_id = (await http.post("/v1/claims", json=referral_payload("DEMO"))).json()["claim_id"]
    document_id = await upload_records(http, claim_id)
    await wait_until(http, claim_id, lambda c: c["appointment"] is not None)
    concern = {"level": "imminent", "toward": "self", "notes": "ZqxRetentionNote plan"}
    assert (await post_action(http, claim_id, "safety-concern", concern)).status_code == 200
    ack = await post_action(parties.clinician, claim_id, "safety-ack", {"clinician_id": "dr-1"})
    assert ack.status_code == 200, ack.text
    resolve = {"actions_taken": ["warm_handoff"], "notes": "ZqxRetentionNote handed over"}
    assert (await post_action(parties.clinician, claim_id, "safety-resolve", resolve)).is_success
    await wait_until(http, claim_id, lambda c: not c["safety_hold"])
    confirmed = await post_action(parties.ops, claim_id, "confirm-appointment")
    assert confirmed.status_code == 200, confirmed.text
    starts_at = datetime.fromisoformat(confirmed.json()["appointment"]["starts_at"])
    await asyncio.sleep(max(0.0, (starts_at - datetime.now(UTC)).total_seconds()) + 0.5)
    exam = await post_action(parties.ops, claim_id, "exam", {"attended": True})
    assert exam.status_code == 200, exam.text
    report = await post_action(parties.ops, claim_id, "report", complete_report())
    assert report.status_code == 200 and report.json()["stage"] == "REVIEW", report.text
    await withdraw(parties, claim_id)
    return claim_id, document_id


async def claim_with_records(parties: Parties) -> tuple[str, str]:
    http = parties.insurer
    claim_id = (await http.post("/v1/claims", json=referral_payload("DEMO"))).json()["claim_id"]
    document_id = await upload_records(http, claim_id)
    await withdraw(parties, claim_id)
    return claim_id, document_id


async def withdraw(parties: Parties, claim_id: str) -> None:
    answer = await post_action(parties.insurer, claim_id, "withdraw", {"reason": "settled"})
    assert answer.status_code == 200, answer.text
    await wait_until(parties.insurer, claim_id, lambda c: c["status"] == "closed")


@pytest.fixture
async def sweeper(
    ts_env: WorkflowEnvironment, pool: asyncpg.Pool, database_url: str, task_queue: str
) -> AsyncIterator[Worker]:
    """A worker on the time-skipping server, on the same Postgres as the app's."""
    settings = make_settings(database_url, task_queue)
    async with build_worker(ts_env.client, settings, claim_activities(pool)) as worker:
        yield worker


async def sweep(
    env: WorkflowEnvironment, task_queue: str, sweep: SweepInput | None = None, history: str = ""
) -> int:
    """One run of the sweep, as the schedule starts it; `history`: kept as a replay fixture
    under that name (`make record-histories`)."""
    handle = await env.client.start_workflow(
        RetentionSweep.run,
        sweep or SweepInput(),
        id=f"retention-sweep-test-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
    )
    result: SweepResult = await handle.result()
    if history:
        await keep_history(handle, history)
    return result.destroyed


def of_type(events: list[dict], type_: str) -> list[dict]:
    return [e for e in events if e["type"] == type_]


async def test_a_closed_claim_is_destroyed_after_its_retention_and_a_held_one_once_lifted(
    api: ApiHarness,
    parties: Parties,
    pool: asyncpg.Pool,
    database_url: str,
    dev_env: WorkflowEnvironment,
    ts_env: WorkflowEnvironment,
    sweeper: Worker,
    task_queue: str,
):
    (full, full_doc), (held, held_doc), (other, _) = await asyncio.gather(
        claim_with_everything(parties), claim_with_records(parties), claim_with_records(parties)
    )
    insurer, ops = parties.insurer, parties.ops

    # The legal hold: ops only, a reason code, shown in the status.
    hold_url = f"/v1/claims/{held}/legal-hold"
    refused = await insurer.put(hold_url, json={"reason": "litigation"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    invalid = await ops.put(hold_url, json={"reason": "Jane Doe sued us"})
    assert invalid.status_code == 422 and "Jane" not in invalid.text
    unknown = await ops.put("/v1/claims/clm_0000000000000000000000/legal-hold", json={})
    assert unknown.status_code == 404
    placed = await ops.put(hold_url, json={"reason": "litigation"})
    assert placed.status_code == 200 and placed.json()["legal_hold"] is True
    again = await ops.put(hold_url, json={"reason": "litigation"})
    assert again.status_code == 200 and again.json()["legal_hold"] is True
    assert (await insurer.get(f"/v1/claims/{held}")).json()["legal_hold"] is True
    assert (await insurer.get(f"/v1/claims/{full}")).json()["legal_hold"] is False
    listed = (await ops.get("/v1/claims", params={"jurisdiction": "DEMO"})).json()["items"]
    assert {c["claim_id"]: c["legal_hold"] for c in listed} == {
        full: False,
        held: True,
        other: False,
    }

    before = await what_remains(pool, full)
    assert before["document_chunks"] == 1 and before["report_contents"] == 1
    assert before["contact"] == 1 and before["inbox_contents"] >= 1

    # Within DEMO's five minutes nothing goes.
    assert await sweep(ts_env, task_queue) == 0
    assert await what_remains(pool, full) == before
    download = await insurer.get(f"/v1/claims/{full}/documents/{full_doc}")
    assert download.status_code == 200 and download.content == pdf_bytes()

    # Past them the claims without a hold are destroyed, one per run here (a batch of one, one
    # batch a run: the sweep continues as new between them); the held one is left.
    await ts_env.sleep(timedelta(minutes=6))
    one_by_one = SweepInput(batch=1, batches=1)
    assert await sweep(ts_env, task_queue, one_by_one, history="retention_sweep_two_runs") == 2
    assert await what_remains(pool, full) == NOTHING_LEFT
    assert await what_remains(pool, other) == NOTHING_LEFT
    assert (await what_remains(pool, held))["document_chunks"] == 1

    gone = await insurer.get(f"/v1/claims/{full}/documents/{full_doc}")
    assert gone.status_code == 410
    assert gone.json()["error"]["code"] == "gone"
    assert gone.json()["error"]["details"] == {"document_id": full_doc, "reason": "retention"}
    assert (await insurer.get(f"/v1/claims/{full}/documents")).json() == []
    report = await insurer.get(f"/v1/claims/{full}/report")
    assert report.status_code == 410 and report.json()["error"]["code"] == "gone"
    assert (await insurer.get(f"/v1/claims/{held}/documents/{held_doc}")).status_code == 200

    events = (await insurer.get(f"/v1/claims/{full}/events")).json()
    destroyed = of_type(events, "records_destroyed")
    assert len(destroyed) == 1
    counts = destroyed[0]["details"]["counts"]
    assert {
        k: counts[k]
        for k in ("documents", "document_chunks", "report_versions", "event_notes", "contact")
    } == {
        "documents": 1,
        "document_chunks": 1,
        "report_versions": 1,
        "event_notes": 1,  # the withdrawal's reason
        "contact": 1,
    }
    assert destroyed[0]["actor"] == "system" and destroyed[0]["seq"] is None
    assert "ZqxRetentionNote" not in str(events)

    # A second sweep destroys nothing more and records nothing more.
    assert await sweep(ts_env, task_queue) == 0
    events = (await ops.get(f"/v1/claims/{full}/events")).json()
    assert len(of_type(events, "records_destroyed")) == 1

    # Lifted (by the operator's CLI; the API's DELETE is ops' only), the claim is the sweep's.
    refused = await insurer.request("DELETE", hold_url, json={"reason": "litigation"})
    assert refused.status_code == 403
    starter = starter_cli(dev_address(dev_env), database_url, task_queue, timeout=60)
    code, out, err = await starter("legal-hold", "lift", held, "--reason", "litigation")
    assert code == 0, err
    assert json.loads(out)["legal_hold"] is False
    assert (await insurer.get(f"/v1/claims/{held}")).json()["legal_hold"] is False
    assert await sweep(ts_env, task_queue) == 1
    assert await what_remains(pool, held) == NOTHING_LEFT
    assert (await insurer.get(f"/v1/claims/{held}/documents/{held_doc}")).status_code == 410

    timeline = (await insurer.get(f"/v1/claims/{held}/events")).json()
    kept = [
        (e["type"], e["details"].get("reason"), (e["acted_by"] or {}).get("role"))
        for e in timeline
        if e["type"] in {"legal_hold_placed", "legal_hold_lifted", "records_destroyed"}
    ]
    assert kept == [
        ("legal_hold_placed", "litigation", "ops"),
        ("legal_hold_lifted", "litigation", "ops"),
        ("records_destroyed", None, None),
    ]
    # A hold set after the destruction holds nothing, but is still recorded.
    assert (await ops.put(hold_url, json={"reason": "audit"})).json()["legal_hold"] is True

    # The console, another door to the same service: no documents, the destruction in the
    # timeline, and the old download link answers 410.
    someone = await person(api, Role.OPS, name="Olive Ops")
    async with served(api) as base, chromium() as browser:
        page = await browser.new_page()
        await sign_in(page, base, someone)
        await page.goto(f"{base}/console/claims/{full}")
        documents = page.locator("section[aria-labelledby=h-documents] tbody")
        await expect(documents).to_have_text("None.")
        await expect(page.locator("ol.timeline")).to_contain_text(
            "Records destroyed (Closed) by system"
        )
        await assert_accessible(page)
        await screenshot(page, "retention-destroyed-claim")
        await page.goto(f"{base}/console/claims/{held}")
        await expect(page.locator("ol.timeline")).to_contain_text(
            "Legal hold lifted (Closed) by cli:"
        )
        await screenshot(page, "retention-held-then-lifted")
        answer = await page.goto(f"{base}/console/claims/{full}/documents/{full_doc}")
        assert answer is not None and answer.status == 410


async def test_the_schedule_is_created_once_and_updated_in_place(
    dev_env: WorkflowEnvironment, database_url: str, task_queue: str
):
    client = dev_env.client
    hourly = make_settings(database_url, task_queue)
    assert hourly.retention_sweep_every == 3600
    every_two_minutes = hourly.model_copy(update={"retention_sweep_every": 120.0})
    handle = client.get_schedule_handle(RETENTION_SCHEDULE_ID)
    try:
        await ensure_retention_schedule(client, hourly)
        first = await handle.describe()
        assert first.schedule.spec.intervals[0].every == timedelta(hours=1)
        assert first.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
        action = first.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert action.workflow == "RetentionSweep" and action.task_queue == task_queue

        await ensure_retention_schedule(client, every_two_minutes)
        second = await handle.describe()
        assert second.schedule.spec.intervals[0].every == timedelta(minutes=2)
        ids = [s.id async for s in await client.list_schedules()]
        assert ids.count(RETENTION_SCHEDULE_ID) == 1

        # Turned off: the worker leaves the schedule as it is.
        off = hourly.model_copy(update={"retention_sweep_every": 0.0})
        await ensure_retention_schedule(client, off)
        assert (await handle.describe()).schedule.spec.intervals[0].every == timedelta(minutes=2)
    finally:
        await handle.delete()
