"""What a booked exam needs before it is held (time-skipping server, real Postgres): the TX-DD
records lead as a deadline with its escalation rung, met when the records arrive, and an exam
refused on a booking whose lead was missed until ops decide; the claimant's appointment notice
held until ops book the interpreter the referral asks for.

The TX-DD dates are counted by hand on the 2035 calendar (Thanksgiving Thu 22 Nov and the day
after, Fri 23 Nov, are Texas state holidays; CST is UTC-6), from a referral on Tue 20 Nov 2035,
10:00 CST, whose exam books at Wed 28 Nov 09:00 CST (tests/test_profile_windows.py counts it).
"""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from pypdf import PdfWriter
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from documents_service import DocumentService
from domain.models import (
    Caller,
    ClaimStatus,
    ConfirmAppointment,
    ExamOutcome,
    InterpreterBooked,
    ProceedWithoutRecords,
    RecordsReceived,
    Referral,
    Reschedule,
    Stage,
    Withdraw,
)
from domain.names import Action, Role, ServiceUpdate
from reconciler import Reconciler
from store.documents import PostgresDocumentStore
from tests.helpers.app import ApiHarness
from tests.helpers.claims import (
    act,
    act_and_finish,
    appointment_of,
    booked_by_the_state,
    deadline,
    set_clock,
    start_claim,
    wait_for,
)
from tests.helpers.config import TEST_SEALER
from tests.helpers.histories import keep_history
from tests.helpers.probes import told
from tests.helpers.referrals import referral_payload
from tests.helpers.walk import post_action, wait_until

pytestmark = pytest.mark.usefixtures("ts_worker")

REFERRED = datetime(2035, 11, 20, 16, 0, tzinfo=UTC)  # Tue 20 Nov 2035, 10:00 CST
EXAM = datetime(2035, 11, 28, 15, 0, tzinfo=UTC)  # Wed 28 Nov, 09:00 CST
# 28 TAC 127.10(a)(3): the records at the designated doctor 3 working days before the exam,
# counted back from Wed 28 Nov: Tue 27 (1), Mon 26 (2), the weekend, Fri 23 and Thu 22 (Texas
# holidays) skipped, Wed 21 (3) -> by 17:00 CST Wed 21 Nov (23:00 UTC).
RECORDS_DUE = datetime(2035, 11, 21, 23, 0, tzinfo=UTC)
# The rung, the escalation grace (2 business days) after it: Thu 22 and Fri 23 skipped, Mon 26
# (1), Tue 27 (2) -> 17:00 CST Tue 27 Nov (23:00 UTC).
RUNG_DUE = datetime(2035, 11, 27, 23, 0, tzinfo=UTC)
OPS = Caller(role=Role.OPS, key_id="k-ops", key_name="ops desk")


async def texas_claim(
    env: WorkflowEnvironment, task_queue: str
) -> tuple[WorkflowHandle, ClaimStatus]:
    await set_clock(env, REFERRED)
    referral = Referral.model_validate(referral_payload("TX-DD"))
    handle = await start_claim(env.client, referral, task_queue)
    status = await booked_by_the_state(handle)  # the Division's designated doctor
    assert appointment_of(status).starts_at == EXAM
    return handle, status


async def records_arrive(handle: WorkflowHandle, document_id: str) -> ClaimStatus:
    """What `documents_service` sends once a `records` document is stored."""
    arrival = RecordsReceived(document_id=document_id, acted_by=OPS)
    return await handle.execute_update(
        ServiceUpdate.RECORDS_RECEIVED,
        arrival,
        id=f"records-{document_id}",
        result_type=ClaimStatus,
    )


async def events(pool: asyncpg.Pool, claim_id: str, kind: str) -> int:
    return await pool.fetchval(
        "SELECT count(*) FROM claim_events WHERE claim_id = $1 AND type = $2", claim_id, kind
    )


async def inbox_state(pool: asyncpg.Pool, claim_id: str, kind: str, want: list[str]) -> list[str]:
    """Each item of `kind` for the claim, oldest first (open or done), once it is `want` or
    after a few seconds (the claim's write lands after the status query answers)."""
    for _ in range(50):
        rows = await pool.fetch(
            "SELECT done_at IS NOT NULL AS done FROM inbox_items WHERE claim_id = $1"
            " AND kind = $2 ORDER BY created_at",
            claim_id,
            kind,
        )
        found = ["done" if r["done"] else "open" for r in rows]
        if found == want:
            break
        await asyncio.sleep(0.1)
    return found


async def test_records_in_time_meet_the_lead_and_the_examiner_is_told(
    days_env: WorkflowEnvironment, task_queue, pool
):
    handle, status = await texas_claim(days_env, task_queue)
    lead = deadline(status, "records_lead")
    assert lead is not None and lead.due_at == RECORDS_DUE and lead.met_at is None
    assert await inbox_state(pool, status.claim_id, "records_to_examiner", ["open"]) == ["open"]

    status = await records_arrive(handle, "doc-records-1")
    lead = deadline(status, "records_lead")
    assert lead is not None and lead.met_at is not None and not lead.breached
    assert await told(pool, status.claim_id, "records_received") == ["examiner"]
    # Ops' task of getting the records to the examiner closed itself with the upload.
    assert await inbox_state(pool, status.claim_id, "records_to_examiner", ["done"]) == ["done"]
    # Told once per document: the same document again is the same update (answered, not redone).
    await records_arrive(handle, "doc-records-1")
    assert await told(pool, status.claim_id, "records_received") == ["examiner"]

    await act(handle, Action.CONFIRM_APPOINTMENT, ConfirmAppointment())
    await set_clock(days_env, EXAM + timedelta(minutes=5))
    status = await act(handle, Action.EXAM, ExamOutcome(attended=True))
    assert status.stage is Stage.REPORT
    assert deadline(status, "records_lead_escalation") is None  # never breached, no rung
    await act_and_finish(handle, Action.WITHDRAW, Withdraw(reason="test done"))
    await keep_history(handle, "tx_dd_records_in_time")


async def test_a_missed_records_lead_escalates_and_holds_the_exam_until_ops_decide(
    days_env: WorkflowEnvironment, task_queue, pool
):
    handle, status = await texas_claim(days_env, task_queue)
    await act(handle, Action.CONFIRM_APPOINTMENT, ConfirmAppointment())
    await set_clock(days_env, RECORDS_DUE + timedelta(minutes=1))
    status = await wait_for(handle, lambda s: deadline(s, "records_lead_escalation") is not None)
    lead, rung = deadline(status, "records_lead"), deadline(status, "records_lead_escalation")
    assert lead is not None and lead.breached and lead.met_at is None
    assert rung is not None and rung.due_at == RUNG_DUE
    breaches = await told(pool, status.claim_id, "deadline_breached")
    assert breaches == ["examiner", "ops"]
    assert status.overdue

    # Records arriving late meet the deadline late, but the lead was still missed.
    status = await records_arrive(handle, "doc-records-late")
    lead = deadline(status, "records_lead")
    assert lead is not None and lead.breached and lead.met_at is not None
    await set_clock(days_env, EXAM + timedelta(minutes=5))
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await act(handle, Action.EXAM, ExamOutcome(attended=True))
    assert "proceed-without-records" in str(refused.value.cause)
    assert (await handle.query("status", result_type=ClaimStatus)).stage is Stage.EXAM

    status = await act(
        handle,
        Action.PROCEED_WITHOUT_RECORDS,
        ProceedWithoutRecords(reason="examiner read the records at the office", acted_by=OPS),
    )
    assert [d.met_at is not None for d in status.deadlines if d.name.startswith("records")] == [
        True,
        True,
    ]
    with pytest.raises(WorkflowUpdateFailedError):  # decided once for this booking
        await act(handle, Action.PROCEED_WITHOUT_RECORDS, ProceedWithoutRecords(reason="again"))
    status = await act(handle, Action.EXAM, ExamOutcome(attended=True))
    assert status.stage is Stage.REPORT
    assert await events(pool, status.claim_id, "records_lead_waived") == 1
    await act_and_finish(handle, Action.WITHDRAW, Withdraw(reason="test done"))
    await keep_history(handle, "tx_dd_records_lead_missed")


async def test_the_notice_waits_for_the_interpreter(ts_env, client, task_queue, pool):
    body = referral_payload("DEMO")
    body["claimant"]["interpreter_needed"] = True
    body["claimant"]["language"] = "es"
    handle = await start_claim(client, Referral.model_validate(body), task_queue)
    status = await wait_for(handle, lambda s: s.appointment is not None)
    claim_id = status.claim_id
    # Ops get the task; the claimant is not told yet; the examiner's request goes as ever.
    assert await inbox_state(pool, claim_id, "interpreter_to_book", ["open"]) == ["open"]
    assert await told(pool, claim_id, "appointment_request") == ["examiner"]
    assert await told(pool, claim_id, "appointment_notice") == []
    status = await act(
        handle, Action.INTERPRETER_BOOKED, InterpreterBooked(reference="LANG-1", acted_by=OPS)
    )
    assert await told(pool, claim_id, "appointment_notice") == ["claimant"]
    assert await inbox_state(pool, claim_id, "interpreter_to_book", ["done"]) == ["done"]
    sealed = await pool.fetchval(
        "SELECT sealed_details FROM notification_outbox"
        " WHERE claim_id = $1 AND template = 'appointment_notice'",
        claim_id,
    )
    assert TEST_SEALER.open_json(bytes(sealed))["interpreter_booked"] is True
    with pytest.raises(WorkflowUpdateFailedError):  # the notice went: nothing waits any more
        await act(handle, Action.INTERPRETER_BOOKED, InterpreterBooked(reference="LANG-1"))

    # A new booking holds its own notice and opens a new task.
    await act(handle, Action.RESCHEDULE, Reschedule(reason="claimant ill", requested_by="claimant"))
    first = appointment_of(status).id
    await wait_for(handle, lambda s: s.appointment is not None and s.appointment.id != first)
    assert await inbox_state(pool, claim_id, "interpreter_to_book", ["done", "open"]) == [
        "done",
        "open",
    ]
    assert await told(pool, claim_id, "appointment_notice") == ["claimant"]
    await act_and_finish(handle, Action.WITHDRAW, Withdraw(reason="test done"))
    # The claim closing ends the task.
    assert await inbox_state(pool, claim_id, "interpreter_to_book", ["done", "done"]) == [
        "done",
        "done",
    ]
    await keep_history(handle, "interpreter_booked_before_notice")


async def test_a_claim_without_lead_or_interpreter_refuses_both_decisions(
    ts_env, client, task_queue
):
    handle = await start_claim(
        client, Referral.model_validate(referral_payload("DEMO")), task_queue
    )
    status = await wait_for(handle, lambda s: s.appointment is not None)
    assert deadline(status, "records_lead") is None
    with pytest.raises(WorkflowUpdateFailedError) as no_lead:
        await act(handle, Action.PROCEED_WITHOUT_RECORDS, ProceedWithoutRecords(reason="x"))
    assert "sets no records lead" in str(no_lead.value.cause)
    with pytest.raises(WorkflowUpdateFailedError) as no_interpreter:
        await act(handle, Action.INTERPRETER_BOOKED, InterpreterBooked())
    assert "waiting for an interpreter" in str(no_interpreter.value.cause)
    after = await handle.query("status", result_type=ClaimStatus)
    assert after.version == status.version  # refused before anything was recorded
    await act_and_finish(handle, Action.WITHDRAW, Withdraw(reason="test done"))


# --- through the API: the upload tells the claim -------------------------------------------------


def small_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def test_records_uploaded_through_the_api_meet_the_lead_and_tell_the_examiner(
    api: ApiHarness, pool
):
    insurer = await api.as_role(Role.INSURER, insurer="acme-ins")
    created = await insurer.post("/v1/claims", json=referral_payload("TX-DD"))
    assert created.status_code == 201, created.text
    claim_id = created.json()["claim_id"]
    # The Division assigns the designated doctor: the claim waits for ops to record it.
    await wait_until(insurer, claim_id, lambda c: c["selection"] is not None)
    ops = await api.as_role(Role.OPS)
    assigned = await post_action(
        ops,
        claim_id,
        "record-state-assignment",
        {"reference": "DWC-032-1", "examiner_id": "ex-tx-orthopedic-surgery-1"},
    )
    assert assigned.status_code == 200, assigned.text
    booked = await wait_until(insurer, claim_id, lambda c: c["appointment"] is not None)
    [lead] = [d for d in booked["deadlines"] if d["name"] == "records_lead"]
    assert lead["met_at"] is None

    uploaded = await insurer.post(
        f"/v1/claims/{claim_id}/documents",
        data={"kind": "records"},
        files={"file": ("records.pdf", small_pdf(), "application/pdf")},
    )
    assert uploaded.status_code == 201, uploaded.text
    document_id = uploaded.json()["id"]
    status = await wait_until(
        insurer,
        claim_id,
        lambda c: any(d["name"] == "records_lead" and d["met_at"] for d in c["deadlines"]),
    )
    assert status["stage"] == "SCHEDULING"
    timeline = (await insurer.get(f"/v1/claims/{claim_id}/events")).json()
    arrivals = [e for e in timeline if e["type"] == "records_received"]
    assert [e["details"]["document_id"] for e in arrivals] == [document_id]
    assert await told(pool, claim_id, "records_received") == ["examiner"]
    withdrawn = await post_action(insurer, claim_id, "withdraw", {"reason": "test done"})
    assert withdrawn.status_code == 200, withdrawn.text


async def test_records_the_upload_could_not_tell_are_told_by_the_reconciler(api: ApiHarness, pool):
    """The upload stored the records but its message to the claim never arrived (Temporal did
    not answer, the API process died): the worker's reconciler tells the claim, once."""
    insurer = await api.as_role(Role.INSURER, insurer="acme-ins")
    created = await insurer.post("/v1/claims", json=referral_payload("DEMO"))
    claim_id = created.json()["claim_id"]
    await wait_until(insurer, claim_id, lambda c: c["appointment"] is not None)
    uploader = Caller(role=Role.INSURER, insurer_id="acme-ins", key_id="k-lost", key_name="lost")
    # Stored as the upload stores it, with no one to tell the claim.
    silent = DocumentService(
        pool, PostgresDocumentStore(pool, api.app.state.sealer), api.app.state.settings
    )
    stored = await silent.upload(
        claim_id, uploader, kind="records", report_version=None, filename="r.pdf",
        data=_chunks(small_pdf()),
    )  # fmt: skip
    reconciler = Reconciler(api.app.state.temporal, pool, api.app.state.sealer)
    await reconciler.sweep()  # uploaded a moment ago: the upload's own message has its chance
    assert await events(pool, claim_id, "records_received") == 0
    await pool.execute(
        "UPDATE documents SET uploaded_at = now() - interval '2 minutes' WHERE id = $1", stored.id
    )
    await reconciler.sweep()
    await reconciler.sweep()  # told once
    timeline = (await insurer.get(f"/v1/claims/{claim_id}/events")).json()
    arrivals = [e for e in timeline if e["type"] == "records_received"]
    assert [(e["details"]["document_id"], e["acted_by"]["role"]) for e in arrivals] == [
        (stored.id, "insurer")
    ]
    assert await told(pool, claim_id, "records_received") == ["examiner"]
    withdrawn = await post_action(insurer, claim_id, "withdraw", {"reason": "test done"})
    assert withdrawn.status_code == 200, withdrawn.text


async def _chunks(data: bytes):
    yield data
