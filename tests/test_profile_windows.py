"""Jurisdiction windows as a claim lives them (time-skipping server, real Postgres): the rules of
`domain/jurisdictions.toml` that are windows rather than leads (PRODUCT §3), and the leads and
the report deadline on a claim whose clock is set to a date where they were counted by hand
(each rule's arithmetic from any date is counted by hand in tests/test_profiles.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from temporalio.testing import WorkflowEnvironment

from domain.models import (
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
from tests.helpers.histories import keep_history
from tests.helpers.referrals import referral_payload

pytestmark = pytest.mark.usefixtures("ts_worker")


async def booked(client, task_queue, jurisdiction: str):
    handle = await start_claim(
        client, Referral.model_validate(referral_payload(jurisdiction)), task_queue
    )
    return handle, await booked_by_the_state(handle)


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


async def test_ny_wc_notice_lead_and_report_due_are_business_days(
    days_env: WorkflowEnvironment, task_queue
):
    # The referral arrives Wed 7 Nov 2035, 10:00 EST (15:00 UTC); the exam is booked at once.
    await set_clock(days_env, datetime(2035, 11, 7, 15, 0, tzinfo=UTC))
    referral = Referral.model_validate(referral_payload("NY-WC"))
    handle = await start_claim(days_env.client, referral, task_queue)
    status = await wait_for(handle, lambda s: s.appointment is not None)
    # 12 NYCRR 300.2(d)(1), the claimant's notice >= 7 business days before the exam. From
    # Wed 7 Nov: Thu 8 (1), Fri 9 (2), the weekend and Veterans Day observed Mon 12 (Sun 11,
    # federal) skipped, Tue 13 (3), Wed 14 (4), Thu 15 (5), Fri 16 (6), Mon 19 (7) -> the lead
    # ends 17:00 EST Mon 19 Nov; the first office slot after it: Tue 20 Nov 09:00 EST.
    assert appointment_of(status).starts_at == datetime(2035, 11, 20, 14, 0, tzinfo=UTC)

    await act(handle, Action.CONFIRM_APPOINTMENT, ConfirmAppointment())
    await days_env.sleep(
        appointment_of(status).starts_at - await days_env.get_current_time() + timedelta(minutes=1)
    )
    status = await act(handle, Action.EXAM, ExamOutcome(attended=True))
    report = deadline(status, "report")
    # 12 NYCRR 300.2(d)(11), the report 10 business days after the exam, Tue 20 Nov: Wed 21 (1),
    # Thanksgiving Thu 22 (federal) skipped, Fri 23 (2; a working day in New York), Mon 26 (3),
    # Tue 27 (4), Wed 28 (5), Thu 29 (6), Fri 30 (7), Mon 3 Dec (8), Tue 4 (9), Wed 5 (10)
    # -> 17:00 EST Wed 5 Dec (22:00 UTC).
    assert report is not None and report.due_at == datetime(2035, 12, 5, 22, 0, tzinfo=UTC)
    await act_and_finish(handle, Action.WITHDRAW, Withdraw(reason="test done"))


async def test_tx_records_reach_the_examiner_three_business_days_before_the_exam(
    days_env: WorkflowEnvironment, task_queue, pool
):
    # The referral arrives Tue 20 Nov 2035, 10:00 CST (16:00 UTC), the week of Thanksgiving.
    await set_clock(days_env, datetime(2035, 11, 20, 16, 0, tzinfo=UTC))
    referral = Referral.model_validate(referral_payload("TX-DD"))
    handle = await start_claim(days_env.client, referral, task_queue)
    status = await booked_by_the_state(handle)  # the Division's designated doctor
    # Ops get the task of sending the records with the booking, Tue 20 Nov.
    assert await outbox(pool, status.claim_id, "records_to_examiner") == ["ops"]
    kinds = await pool.fetch(
        "SELECT role FROM inbox_items WHERE claim_id = $1 AND kind = 'records_to_examiner'",
        status.claim_id,
    )
    assert [k["role"] for k in kinds] == ["ops"]
    # 28 TAC 127.10(a)(3), the records at the designated doctor >= 3 working days before the
    # exam: the exam is left three working days after the booking. From Tue 20 Nov: Wed 21 (1),
    # Thanksgiving Thu 22 and the day after, Fri 23 (both Texas holidays), and the weekend
    # skipped, Mon 26 (2), Tue 27 (3) -> the lead ends 17:00 CST Tue 27 Nov; the first office
    # slot after it: Wed 28 Nov 09:00 CST (15:00 UTC). (Counted as 3 calendar days, the exam
    # would be Mon 26 Nov, with one working day, Wed 21, between the records and the exam.)
    assert appointment_of(status).starts_at == datetime(2035, 11, 28, 15, 0, tzinfo=UTC)
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
