"""ClaimWorkflow against the real Temporal time-skipping test server and a real Postgres."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from domain.ids import claim_id_for, workflow_id_for
from domain.models import (
    Assign,
    ClaimStatus,
    ConfirmAppointment,
    DecisionInput,
    DeclineAppointment,
    ExamOutcome,
    ExamReport,
    ExtendDecision,
    Referral,
    Reschedule,
    ReviewResult,
    ScheduleRequest,
    Stage,
    Withdraw,
)
from domain.names import Action, Query
from domain.parsing import claim_intake
from store import panel as panel_store
from store.claims import get_status, list_events
from tests.helpers.claims import (
    STARTED,
    act,
    act_and_finish,
    appointment_of,
    examiner_of,
    projection_until,
    start_claim,
    start_demo_claim,
    wait_for,
)
from tests.helpers.config import TEST_SECRET
from tests.helpers.histories import keep_history
from tests.helpers.probes import appointment_status, appointments, notices, told, told_to
from tests.helpers.referrals import complete_report, referral_payload
from tests.helpers.walk import HAPPY_PATH_EVENTS
from workflows import ClaimWorkflow

pytestmark = pytest.mark.usefixtures("ts_worker")


async def until_appointment(env: WorkflowEnvironment, status: ClaimStatus) -> None:
    assert status.appointment is not None
    await env.sleep(
        status.appointment.starts_at - await env.get_current_time() + timedelta(seconds=1)
    )


async def walk_to_decision(env, handle) -> ClaimStatus:
    booked = await wait_for(handle, lambda s: s.appointment is not None)
    assert booked.stage is Stage.SCHEDULING
    status = await act(handle, Action.CONFIRM_APPOINTMENT, ConfirmAppointment())
    assert status.stage is Stage.EXAM
    await until_appointment(env, status)
    status = await act(handle, Action.EXAM, ExamOutcome(attended=True))
    assert status.stage is Stage.REPORT
    status = await act(handle, Action.REPORT, ExamReport.model_validate(complete_report()))
    assert status.stage is Stage.REVIEW
    status = await act(handle, Action.REVIEW, ReviewResult(result="accepted"))
    assert status.stage is Stage.DECISION
    assert status.recommendation is not None and status.recommendation.value == "approve"
    return status


EXPECTED_EVENTS = HAPPY_PATH_EVENTS


async def test_demo_claim_walks_every_stage_to_approved(ts_env, client, task_queue, pool):
    referral = Referral.model_validate(referral_payload("DEMO"))
    handle = await start_claim(client, referral, task_queue)
    await walk_to_decision(ts_env, handle)
    final = await act_and_finish(
        handle, Action.DECISION, DecisionInput(outcome="approved", reason_code="IME_SUPPORTS")
    )
    assert (final.stage, final.status) == (Stage.CLOSED, "closed")
    await keep_history(handle, "demo_approved")
    assert final.outcome is not None and final.outcome == "approved"
    assert final.decision is not None and final.decision.reason_code == "IME_SUPPORTS"

    events = await list_events(pool, final.claim_id)
    assert [e.type for e in events] == EXPECTED_EVENTS
    assert [e.seq for e in events] == list(range(1, len(EXPECTED_EVENTS) + 1))
    projected = await get_status(pool, final.claim_id)
    assert projected == final
    # One claimant notice of the appointment, one decision notice: no duplicates.
    sent = await notices(pool, final.claim_id)
    assert ("claimant", "appointment_notice") in sent
    assert ("claimant", "decision_notice") in sent


async def test_ny_wc_claim_respects_notice_lead_and_report_window(days_env, task_queue, pool):
    ts_env = days_env
    referral = Referral.model_validate(referral_payload("NY-WC"))
    handle = await start_claim(days_env.client, referral, task_queue)
    booked = await wait_for(handle, lambda s: s.appointment is not None)
    # The notice lead and the report window to the minute, counted by hand on a fixed date:
    # tests/test_profile_windows.py (this server's date is whatever today is).
    assert booked.appointment is not None and booked.examiner is not None
    assert booked.examiner.id.startswith("ex-ny-orthopedic-surgery")

    status = await act(handle, Action.CONFIRM_APPOINTMENT, ConfirmAppointment())
    await until_appointment(ts_env, status)
    status = await act(handle, Action.EXAM, ExamOutcome(attended=True))
    assert [d.name for d in status.deadlines if d.name == "report"] == ["report"]
    status = await act(
        handle, Action.REPORT, ExamReport.model_validate(complete_report("not_related"))
    )
    status = await act(handle, Action.REVIEW, ReviewResult(result="accepted"))
    assert status.recommendation is not None and status.recommendation.value == "deny"
    final = await act_and_finish(
        handle, Action.DECISION, DecisionInput(outcome="denied", reason_code="NOT_RELATED")
    )
    await keep_history(handle, "ny_wc_denied")
    assert (final.stage, final.outcome) == (Stage.CLOSED, "denied")
    assert [e.type for e in await list_events(pool, final.claim_id)] == EXPECTED_EVENTS


async def test_wrong_stage_action_is_rejected_and_changes_nothing(client, task_queue, pool):
    referral = Referral.model_validate(referral_payload("DEMO"))
    handle = await start_claim(client, referral, task_queue)
    booked = await wait_for(handle, lambda s: s.appointment is not None)
    async with asyncio.timeout(10):  # the booking is recorded: the claim now waits for people
        while len(await list_events(pool, booked.claim_id)) < 2:
            await asyncio.sleep(0.05)
    before = await handle.query(Query.CLAIM_STATUS, result_type=ClaimStatus)
    events_before = await list_events(pool, before.claim_id)

    with pytest.raises(WorkflowUpdateFailedError) as rejected:
        await act(handle, Action.DECISION, DecisionInput(outcome="approved", reason_code="X"))
    assert "not allowed in stage SCHEDULING" in str(rejected.value.cause)

    after = await handle.query(Query.CLAIM_STATUS, result_type=ClaimStatus)
    assert after == before
    assert await list_events(pool, before.claim_id) == events_before
    # The rejected update left no trace in history either.
    history = await handle.fetch_history()
    assert not [
        e
        for e in history.events
        if e.HasField("workflow_execution_update_accepted_event_attributes")
    ]


async def test_exam_before_appointment_start_is_rejected(ts_env, client, task_queue):
    handle = await start_claim(
        client, Referral.model_validate(referral_payload("DEMO")), task_queue
    )
    await wait_for(handle, lambda s: s.appointment is not None)
    status = await act(handle, Action.CONFIRM_APPOINTMENT, ConfirmAppointment())
    assert status.appointment is not None
    # The workflow's clock (the test server's), not this machine's, decides.
    assert await ts_env.get_current_time() < status.appointment.starts_at
    with pytest.raises(WorkflowUpdateFailedError) as rejected:
        await act(handle, Action.EXAM, ExamOutcome(attended=True))
    assert "once the appointment has started" in str(rejected.value.cause)
    assert (await handle.query(Query.CLAIM_STATUS, result_type=ClaimStatus)).stage is Stage.EXAM


async def test_incomplete_report_gets_automatic_addendum_request(ts_env, client, task_queue, pool):
    handle = await start_claim(
        client, Referral.model_validate(referral_payload("DEMO")), task_queue
    )
    await wait_for(handle, lambda s: s.appointment is not None)
    status = await act(handle, Action.CONFIRM_APPOINTMENT, ConfirmAppointment())
    await until_appointment(ts_env, status)
    await act(handle, Action.EXAM, ExamOutcome(attended=True))
    incomplete = complete_report() | {"answers": ["only one answer"], "causation": None}
    status = await act(handle, Action.REPORT, ExamReport.model_validate(incomplete))
    assert status.stage is Stage.REPORT
    events = await list_events(pool, status.claim_id)
    assert events[-1].type == "report_qa_failed"
    assert any("causation" in f for f in events[-1].details["findings"])
    assert len(await told(pool, status.claim_id, "addendum_request")) == 1
    status = await act(handle, Action.REPORT, ExamReport.model_validate(complete_report()))
    assert status.stage is Stage.REVIEW
    final = await act_and_finish(handle, Action.WITHDRAW, Withdraw(reason="settled"))
    assert final.outcome is not None and final.outcome == "withdrawn"
    await keep_history(handle, "qa_addendum_then_withdrawn")


async def test_withdraw_releases_the_appointment(client, task_queue, pool: asyncpg.Pool):
    handle = await start_claim(
        client, Referral.model_validate(referral_payload("DEMO")), task_queue
    )
    booked = await wait_for(handle, lambda s: s.appointment is not None)
    status = await act_and_finish(
        handle, Action.WITHDRAW, Withdraw(reason="claimant returned to work")
    )
    assert (status.stage, status.outcome) == (Stage.CLOSED, "withdrawn")
    assert await appointment_status(pool, appointment_of(booked).id) == "cancelled"


async def test_no_eligible_examiner_tells_ops_and_retries_until_one_joins(
    ts_env, client, task_queue, pool
):
    payload = referral_payload("DEMO")
    payload["claimant"]["address"] |= {"state": "WY", "city": "Cheyenne", "postal_code": "82001"}
    handle = await start_claim(client, Referral.model_validate(payload), task_queue)
    claim_id = (await handle.query(Query.CLAIM_STATUS, result_type=ClaimStatus)).claim_id

    async def event_types() -> list[str]:
        return [e.type for e in await list_events(pool, claim_id)]

    async with asyncio.timeout(15):
        while "no_examiner_available" not in await event_types():
            await asyncio.sleep(0.05)
    assert (await told(pool, claim_id, "no_examiner_available")).count("ops") == 1
    assert (await handle.query(Query.CLAIM_STATUS, result_type=ClaimStatus)).appointment is None

    await pool.execute(
        "INSERT INTO examiners (id, name, npi, specialty, licensed_states, location)"
        " VALUES ('ex-wy-1', 'Dr. Wyoming', '1999999999', 'orthopedic_surgery', '{WY}', 'Cheyenne')"
    )
    await ts_env.sleep(timedelta(seconds=11))
    booked = await wait_for(handle, lambda s: s.appointment is not None)
    assert booked.examiner is not None and booked.examiner.id == "ex-wy-1"
    assert await event_types() == [
        "referral_received",
        "no_examiner_available",
        "appointment_booked",
    ]


async def test_repeated_no_shows_close_the_claim_for_non_cooperation(
    ts_env, client, task_queue, pool
):
    handle = await start_claim(
        client, Referral.model_validate(referral_payload("DEMO")), task_queue
    )
    attempted = []
    for attempt in (1, 2, 3):
        booked = await wait_for(
            handle,
            lambda s, n=attempt: s.appointment is not None and s.appointment.id.endswith(f":{n}"),
        )
        attempted.append(appointment_of(booked).id)
        status = await act(handle, Action.CONFIRM_APPOINTMENT, ConfirmAppointment())
        await until_appointment(ts_env, status)
        if attempt < 3:
            status = await act(handle, Action.EXAM, ExamOutcome(attended=False))
            assert status.stage is Stage.SCHEDULING
            # The next appointment may already be booked by the time the answer comes back.
            assert status.appointment is None or status.appointment.id != attempted[-1]
    # The profile allows two no-shows; the third closes the claim.
    final = await act_and_finish(handle, Action.EXAM, ExamOutcome(attended=False))
    await keep_history(handle, "three_no_shows")
    assert (final.stage, final.outcome) == (Stage.CLOSED, "non_cooperation")
    stored = await appointments(pool, final.claim_id)
    assert [(a.id, a.status) for a in stored] == [(a, "no_show") for a in attempted]
    assert (await told(pool, final.claim_id, "non_cooperation_notice")).count("claimant") == 1


async def test_met_deadline_of_an_earlier_round_never_fires(ts_env, client, task_queue, pool):
    """A no-show within the grace period, then a new booking: the first round's exam deadline
    is over and must not be reported as breached in the second round."""
    handle = await start_claim(
        client, Referral.model_validate(referral_payload("DEMO")), task_queue
    )
    await wait_for(handle, lambda s: s.appointment is not None)
    status = await act(handle, Action.CONFIRM_APPOINTMENT, ConfirmAppointment())
    await until_appointment(ts_env, status)
    await act(handle, Action.EXAM, ExamOutcome(attended=False))
    rebooked = await wait_for(
        handle, lambda s: s.appointment is not None and s.appointment.id.endswith(":2")
    )
    # Past the first round's exam_outcome deadline (appointment end + 20 s), then confirm.
    await ts_env.sleep(timedelta(seconds=19))
    status = await act(handle, Action.CONFIRM_APPOINTMENT, ConfirmAppointment())
    assert status.stage is Stage.EXAM and rebooked.examiner is not None
    await until_appointment(ts_env, status)
    status = await act(handle, Action.EXAM, ExamOutcome(attended=True))
    events = [e.type for e in await list_events(pool, status.claim_id)]
    assert "deadline_breached" not in events
    assert not [d for d in status.deadlines if d.breached]
    row = await pool.fetchrow(
        "SELECT overdue, next_deadline FROM claims WHERE claim_id = $1", status.claim_id
    )
    report_due = next(d.due_at for d in status.deadlines if d.name == "report")
    assert row["overdue"] is False and row["next_deadline"] == report_due


async def test_overdue_clears_once_the_late_step_is_done(ts_env, client, task_queue, pool):
    handle = await start_claim(
        client, Referral.model_validate(referral_payload("DEMO")), task_queue
    )
    await wait_for(handle, lambda s: s.appointment is not None)
    await act(handle, Action.CONFIRM_APPOINTMENT, ConfirmAppointment())
    # The appointment (in 5 s, 1 s long) passes with its 20 s of grace: the outcome is late.
    await ts_env.sleep(timedelta(seconds=30))
    overdue = await wait_for(handle, lambda s: s.overdue)
    claim_id = overdue.claim_id
    assert await pool.fetchval("SELECT overdue FROM claims WHERE claim_id = $1", claim_id)
    status = await act(handle, Action.EXAM, ExamOutcome(attended=True))
    late = next(d for d in status.deadlines if d.name == "exam_outcome")
    assert late.breached and late.met_at is not None and not status.overdue
    assert await pool.fetchval("SELECT overdue FROM claims WHERE claim_id = $1", claim_id) is False


async def test_withdrawal_while_the_claim_registers_closes_it_cleanly(client, task_queue, pool):
    handle = await start_claim(
        client, Referral.model_validate(referral_payload("DEMO")), task_queue
    )
    final = await act_and_finish(handle, Action.WITHDRAW, Withdraw(reason="sent by mistake"))
    assert (final.stage, final.outcome) == (Stage.CLOSED, "withdrawn")
    events = [e.type for e in await list_events(pool, final.claim_id)]
    assert events[0] == "referral_received"
    assert events[-2:] == ["claim_withdrawn", "claim_closed"]
    booked = [a for a in await appointments(pool, final.claim_id) if a.status == "booked"]
    assert len(booked) == 0
    assert "withdrawal_notice" in await told_to(pool, final.claim_id, "claimant")


async def test_examiner_declines_and_the_next_examiner_is_booked(client, task_queue, pool):
    handle = await start_demo_claim(client, task_queue)
    first = await wait_for(handle, lambda s: s.appointment is not None)
    status = await act(handle, Action.DECLINE_APPOINTMENT, DeclineAppointment(reason="on leave"))
    assert status.stage is Stage.SCHEDULING
    second = await projection_until(
        pool,
        first.claim_id,
        lambda s: s.appointment is not None and s.appointment.id != appointment_of(first).id,
    )
    assert examiner_of(second).id != examiner_of(first).id
    assert await appointment_status(pool, appointment_of(first).id) == "cancelled"
    types = [e.type for e in await list_events(pool, second.claim_id)]
    assert types[-3:] == ["appointment_booked", "appointment_declined", "appointment_booked"]
    await keep_history(handle, "declined_then_rebooked")


async def test_ops_assign_an_examiner_when_none_is_eligible(client, task_queue, pool):
    payload = referral_payload("DEMO")
    payload["claimant"]["address"] |= {"state": "WY", "city": "Cheyenne", "postal_code": "82001"}
    handle = await start_claim(client, Referral.model_validate(payload), task_queue)
    claim_id = (await handle.query(Query.CLAIM_STATUS, result_type=ClaimStatus)).claim_id
    async with asyncio.timeout(15):
        while "no_examiner_available" not in [e.type for e in await list_events(pool, claim_id)]:
            await asyncio.sleep(0.05)

    # A California examiner is not licensed for a Wyoming claimant: refused, nothing changes.
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await act(handle, Action.ASSIGN, Assign(examiner_id="ex-ca-orthopedic-surgery-1"))
    assert "cannot take this claim" in str(refused.value.cause)
    assert (await handle.query(Query.CLAIM_STATUS, result_type=ClaimStatus)).appointment is None

    await pool.execute(
        "INSERT INTO examiners (id, name, npi, specialty, licensed_states, location)"
        " VALUES ('ex-wy-9', 'Dr. Wyoming', '1999999998', 'orthopedic_surgery', '{WY}', 'Cheyenne')"
    )
    status = await act(handle, Action.ASSIGN, Assign(examiner_id="ex-wy-9"))
    assert status.examiner is not None and status.examiner.id == "ex-wy-9"
    assert status.appointment is not None
    events = await list_events(pool, claim_id)
    assert events[-1].type == "examiner_assigned" and events[-1].actor == "ops"
    await keep_history(handle, "assigned_by_ops")


async def test_reschedule_from_exam_books_a_new_appointment(client, task_queue, pool):
    handle = await start_demo_claim(client, task_queue)
    await wait_for(handle, lambda s: s.appointment is not None)
    confirmed = await act(handle, Action.CONFIRM_APPOINTMENT, ConfirmAppointment())
    old = appointment_of(confirmed)
    status = await act(
        handle, Action.RESCHEDULE, Reschedule(reason="claimant is ill", requested_by="claimant")
    )
    assert status.stage is Stage.SCHEDULING
    new = await wait_for(handle, lambda s: s.appointment is not None and s.appointment.id != old.id)
    assert new.stage is Stage.SCHEDULING
    assert await appointment_status(pool, old.id) == "cancelled"
    rescheduled = [
        e for e in await list_events(pool, new.claim_id) if e.type == "appointment_rescheduled"
    ]
    assert [e.details for e in rescheduled] == [{"requested_by": "claimant"}]
    await keep_history(handle, "rescheduled_from_exam")


async def test_erisa_decision_can_be_extended_twice_with_notice(days_env, task_queue, pool):
    ts_env = days_env
    payload = referral_payload("ERISA-LTD") | {"claim_type": "long_term_disability"}
    handle = await start_claim(days_env.client, Referral.model_validate(payload), task_queue)
    await wait_for(handle, lambda s: s.appointment is not None)
    status = await act(handle, Action.CONFIRM_APPOINTMENT, ConfirmAppointment())
    await until_appointment(ts_env, status)
    await act(handle, Action.EXAM, ExamOutcome(attended=True))
    await act(handle, Action.REPORT, ExamReport.model_validate(complete_report()))
    status = await act(handle, Action.REVIEW, ReviewResult(result="accepted"))
    first_due = next(d.due_at for d in status.deadlines if d.name == "decision")

    for n in (1, 2):
        status = await act(
            handle, Action.EXTEND_DECISION, ExtendDecision(reason="awaiting records")
        )
        due = next(d.due_at for d in status.deadlines if d.name == "decision")
        assert due == first_due + timedelta(days=30 * n)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await act(handle, Action.EXTEND_DECISION, ExtendDecision(reason="one more"))
    assert "no decision extension left" in str(refused.value.cause)
    assert sorted(await told(pool, status.claim_id, "decision_extension_notice")) == [
        "claimant",
        "claimant",
    ]
    await keep_history(handle, "erisa_decision_extended")


async def test_owner_is_reminded_before_a_deadline(ts_env, client, task_queue, pool):
    handle = await start_demo_claim(client, task_queue)
    booked = await wait_for(handle, lambda s: s.appointment is not None)
    deadline = next(d for d in booked.deadlines if d.name == "appointment_confirmation")
    assert deadline.remind_at is not None and deadline.remind_at < deadline.due_at
    await ts_env.sleep(timedelta(seconds=16))  # 75 % of the 20-second window has passed
    async with asyncio.timeout(10):
        while not await told(pool, booked.claim_id, "deadline_reminder"):
            await asyncio.sleep(0.05)
    assert sorted(await told(pool, booked.claim_id, "deadline_reminder")) == ["examiner"]
    status = await act(handle, Action.CONFIRM_APPOINTMENT, ConfirmAppointment())
    assert not [d for d in status.deadlines if d.breached]


async def test_bookings_carry_the_claimant_key_not_who_the_claimant_is(
    client, task_queue, pool, monkeypatch
):
    # What the booking activity is asked (a local activity: its input is not in the history).
    asked: dict[str, list[ScheduleRequest]] = {}
    book = panel_store.book

    async def recording_book(conn, req: ScheduleRequest, key: str):
        asked.setdefault(req.claim_id, []).append(req)
        return await book(conn, req, key)

    monkeypatch.setattr(panel_store, "book", recording_book)
    payload = referral_payload("DEMO")
    referral = Referral.model_validate(payload)
    keyed = await start_claim(client, referral, task_queue)
    booked = await wait_for(keyed, lambda s: s.appointment is not None)
    (request,) = asked[booked.claim_id]
    assert request.claimant_key == claim_intake(referral, TEST_SECRET).claimant_key
    assert request.claimant_name is None and request.claimant_dob is None
    text = request.model_dump_json()
    assert payload["claimant"]["full_name"] not in text and "1980-04-02" not in text

    # A claim started before the key was computed at intake books with name and date of birth,
    # and the booking derives the same key: the conflict rule sees one claimant across both.
    legacy_referral = Referral.model_validate(payload | {"claim_number": "WC-LEGACY-1"})
    legacy_intake = claim_intake(legacy_referral, TEST_SECRET).model_copy(
        update={"claimant_key": None}
    )
    legacy = await client.start_workflow(
        ClaimWorkflow.run,
        legacy_intake,
        id=workflow_id_for(claim_id_for(TEST_SECRET, "acme-ins", "WC-LEGACY-1")),
        task_queue=task_queue,
    )
    STARTED.append(legacy)
    other = await wait_for(legacy, lambda s: s.appointment is not None)
    (legacy_request,) = asked[other.claim_id]
    assert legacy_request.claimant_key is None and legacy_request.claimant_name is not None
    # Never the examiner who already examines this claimant on the other claim.
    assert examiner_of(other).id != examiner_of(booked).id
    keys = {
        a.claimant_key
        for claim_id in (booked.claim_id, other.claim_id)
        for a in await appointments(pool, claim_id)
    }
    assert len(keys) == 1
