"""Jurisdiction windows as a claim lives them (time-skipping server, real Postgres): the rules of
`domain/jurisdictions.toml` that are windows rather than leads (PRODUCT §3). The dates themselves
are counted by hand in tests/test_profiles.py; here each window acts on the claim."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from domain.models import (
    ClaimStatus,
    ConfirmAppointment,
    ExamOutcome,
    Referral,
    ScheduleRequest,
    Specialty,
    Stage,
    Withdraw,
)
from domain.names import Action
from store import panel
from tests.factories import referral_payload
from tests.helpers import (
    act,
    act_and_finish,
    appointment_of,
    keep_history,
    start_claim,
    wait_for,
)

pytestmark = pytest.mark.usefixtures("ts_worker")


def deadline(status: ClaimStatus, name: str):
    found = [d for d in status.deadlines if d.name == name]
    return found[0] if found else None


async def booked(client, task_queue, jurisdiction: str):
    handle = await start_claim(
        client, Referral.model_validate(referral_payload(jurisdiction)), task_queue
    )
    return handle, await wait_for(handle, lambda s: s.appointment is not None)


async def outbox(pool: asyncpg.Pool, claim_id: str, template: str) -> list[str]:
    for _ in range(100):
        rows = await pool.fetch(
            "SELECT recipient FROM notification_outbox WHERE claim_id = $1 AND template = $2"
            " ORDER BY recipient",
            claim_id,
            template,
        )
        if rows:
            return [r["recipient"] for r in rows]
        await asyncio.sleep(0.1)
    return []


async def test_ny_no_fault_runs_its_decision_clock_from_the_claim_and_books_within_30_days(
    ts_env, client, task_queue, pool
):
    handle, status = await booked(client, task_queue, "NY-NF")
    # 11 NYCRR 65-3.8: 30 days after the proof of claim, running from the referral on.
    decision = deadline(status, "decision")
    assert decision is not None and decision.due_at == status.created_at + timedelta(days=30)
    # 11 NYCRR 65-3.5: the exam within 30 days of the verification request.
    assert appointment_of(status).starts_at <= status.created_at + timedelta(days=30)
    await act(handle, Action.CONFIRM_APPOINTMENT, ConfirmAppointment())
    starts = appointment_of(status).starts_at
    await ts_env.sleep(starts - await ts_env.get_current_time() + timedelta(minutes=1))
    status = await act(handle, Action.EXAM, ExamOutcome(attended=True))
    # No report deadline of its own: the claim waits bounded by the decision clock.
    assert status.stage is Stage.REPORT and deadline(status, "report") is None
    assert status.next_deadline == decision.due_at
    await act_and_finish(handle, Action.WITHDRAW, Withdraw(reason="test done"))
    await keep_history(handle, "ny_nf_decision_clock_from_claim")


async def test_a_booking_never_lands_past_the_exam_window(pool: asyncpg.Pool):
    """The panel offers no slot after the window's end: none at all once it has passed."""
    request = ScheduleRequest(
        claim_id="window-test",
        attempt=1,
        specialty=Specialty.ORTHOPEDIC_SURGERY,
        licence_state="NY",
        claimant_key="k-window",
        earliest_start=datetime(2026, 12, 1, tzinfo=UTC),
        duration_seconds=3600,
        business_hours=True,
        timezone="America/New_York",
        latest_start=datetime(2026, 11, 30, tzinfo=UTC),
    )
    async with pool.acquire() as conn:
        assert await panel.book(conn, request, "k-window") is None


async def test_ca_qme_appointment_must_be_noticed_within_5_business_days(client, task_queue, pool):
    handle, status = await booked(client, task_queue, "CA-QME")
    notice = deadline(status, "appointment_notice")
    # Set from the referral, met by the booking that sent the notice.
    assert notice is not None and notice.met_at is not None and not notice.breached
    assert appointment_of(status).starts_at <= status.created_at + timedelta(days=90)
    await act_and_finish(handle, Action.WITHDRAW, Withdraw(reason="test done"))
    await keep_history(handle, "ca_qme_appointment_noticed")


async def test_tx_records_reach_the_examiner_three_business_days_before_the_exam(
    client, task_queue, pool
):
    handle, status = await booked(client, task_queue, "TX-DD")
    # Ops get the task of sending the records; the exam is at least 3 business days out.
    assert await outbox(pool, status.claim_id, "records_to_examiner") == ["ops"]
    kinds = await pool.fetch(
        "SELECT role FROM inbox_items WHERE claim_id = $1 AND kind = 'records_to_examiner'",
        status.claim_id,
    )
    assert [k["role"] for k in kinds] == ["ops"]
    assert appointment_of(status).starts_at - status.created_at >= timedelta(days=3)
    await act_and_finish(handle, Action.WITHDRAW, Withdraw(reason="test done"))


async def test_fl_all_parties_are_told_of_the_exam(ts_env, client, task_queue, pool):
    handle, status = await booked(client, task_queue, "FL-WC")
    await act(handle, Action.CONFIRM_APPOINTMENT, ConfirmAppointment())
    starts = appointment_of(status).starts_at
    await ts_env.sleep(starts - await ts_env.get_current_time() + timedelta(minutes=1))
    await act(handle, Action.EXAM, ExamOutcome(attended=True))
    told = await outbox(pool, status.claim_id, "exam_held_notice")
    assert told == ["claimant", "examiner", "insurer"]
    await act_and_finish(handle, Action.WITHDRAW, Withdraw(reason="test done"))
    await keep_history(handle, "fl_wc_exam_notice_to_all_parties")


async def test_erisa_decision_clock_runs_from_the_claims_receipt(client, task_queue, pool):
    handle, status = await booked(client, task_queue, "ERISA-LTD")
    decision = deadline(status, "decision")
    # 29 CFR 2560.503-1(f)(3): 45 days after receipt of the claim.
    assert decision is not None and decision.due_at == status.created_at + timedelta(days=45)
    assert decision.met_at is None and status.stage is Stage.SCHEDULING
    await act_and_finish(handle, Action.WITHDRAW, Withdraw(reason="test done"))
