"""The escalation chain (PRODUCT §3) on the time-skipping server, DEMO profile (every wait is
seconds long: exam grace 20 s, report due 20 s, review SLA 10 s, decision due 30 s, escalation
grace 20 s, confirmation window 20 s).

Each rung fires once, has a deadline of its own (shown in the status), and its owner is told (an
outbox row, and an inbox item for whoever must act).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from domain.models import (
    Caller,
    ClaimStatus,
    ConfirmAppointment,
    DecisionInput,
    ExamOutcome,
    ExamReport,
    Referral,
    Reschedule,
    ReviewResult,
    Stage,
    Withdraw,
)
from domain.names import Action, Role
from store.claims import list_events
from tests.helpers.claims import (
    act,
    act_and_finish,
    appointment_of,
    examiner_of,
    start_claim,
    wait_for,
)
from tests.helpers.histories import keep_history
from tests.helpers.probes import inbox_items, inbox_roles, told
from tests.helpers.referrals import complete_report, referral_payload
from workflows import ClaimWorkflow
from workflows.lifespan import HISTORY_LIMIT

pytestmark = pytest.mark.usefixtures("ts_worker")


async def demo_claim(client, task_queue) -> WorkflowHandle:
    return await start_claim(client, Referral.model_validate(referral_payload("DEMO")), task_queue)


async def to_report(env: WorkflowEnvironment, handle: WorkflowHandle) -> ClaimStatus:
    """Booked, confirmed, examined: the report is due."""
    await wait_for(handle, lambda s: s.appointment is not None)
    status = await act(handle, Action.CONFIRM_APPOINTMENT, ConfirmAppointment())
    starts = appointment_of(status).starts_at
    await env.sleep(starts - await env.get_current_time() + timedelta(seconds=1))
    status = await act(handle, Action.EXAM, ExamOutcome(attended=True))
    assert status.stage is Stage.REPORT
    return status


async def report(handle: WorkflowHandle, examiner_id: str | None = None) -> ClaimStatus:
    body = ExamReport.model_validate(complete_report())
    if examiner_id is not None:
        body = body.model_copy(
            update={"acted_by": Caller(role=Role.EXAMINER, examiner_id=examiner_id)}
        )
    return await act(handle, Action.REPORT, body)


async def events(pool: asyncpg.Pool, claim_id: str, kind: str) -> list[dict]:
    return [e.details for e in await list_events(pool, claim_id) if e.type == kind]


async def breaches(pool: asyncpg.Pool, claim_id: str) -> list[tuple[str, int]]:
    return [(d["deadline"], d["raised"]) for d in await events(pool, claim_id, "deadline_breached")]


async def chain_reaches(pool: asyncpg.Pool, claim_id: str, rung: tuple[str, int]) -> list:
    """Poll the audit log until `rung` (deadline, times raised) has been recorded."""
    for _ in range(300):
        chain = await breaches(pool, claim_id)
        if rung in chain:
            return chain
        await asyncio.sleep(0.1)
    raise AssertionError(f"{rung} never recorded: {await breaches(pool, claim_id)}")


def due(status: ClaimStatus, name: str):
    [deadline] = [d for d in status.deadlines if d.name == name]
    return deadline


async def test_late_report_replaces_the_examiner_once_then_ops_are_told(
    ts_env, client, task_queue, pool
):
    handle = await demo_claim(client, task_queue)
    status = await to_report(ts_env, handle)
    claim_id, late = status.claim_id, examiner_of(status).id
    report_due = due(status, "report").due_at

    # Overdue: the examiner and ops are told, and the next rung has its own deadline.
    await ts_env.sleep(timedelta(seconds=21))
    status = await wait_for(
        handle, lambda s: any(d.name == "report_escalation" for d in s.deadlines)
    )
    assert due(status, "report").breached and status.overdue
    assert due(status, "report_escalation").due_at == report_due + timedelta(seconds=20)
    assert await breaches(pool, claim_id) == [("report", 1)]
    assert await told(pool, claim_id, "deadline_breached") == ["examiner", "ops"]

    # Overdue + grace: the examiner is replaced, the claim books a new exam with someone else.
    await ts_env.sleep(timedelta(seconds=20))
    status = await wait_for(handle, lambda s: s.appointment is not None)
    assert status.stage is Stage.SCHEDULING and examiner_of(status).id != late
    [replaced] = await events(pool, claim_id, "examiner_replaced")
    assert replaced["examiner_id"] == late
    assert await told(pool, claim_id, "examiner_released") == ["examiner"]
    # The late report is refused from now on: in scheduling, and once the new exam is done.
    with pytest.raises(WorkflowUpdateFailedError):
        await report(handle, late)
    status = await to_report(ts_env, handle)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await report(handle, late)
    assert "replaced" in str(refused.value.cause)

    # The new examiner is late too: no second replacement; ops are told, and again each grace.
    await ts_env.sleep(timedelta(seconds=21))
    await chain_reaches(pool, claim_id, ("report", 2))
    await ts_env.sleep(timedelta(seconds=20))
    await chain_reaches(pool, claim_id, ("report_escalation", 2))
    await ts_env.sleep(timedelta(seconds=20))
    chain = await chain_reaches(pool, claim_id, ("report_escalation", 3))
    assert len(await events(pool, claim_id, "examiner_replaced")) == 1
    # report 1, (the replacement is report_escalation 1), report 2, then ops each grace.
    assert chain == [
        ("report", 1),
        ("report", 2),
        ("report_escalation", 2),
        ("report_escalation", 3),
    ]
    assert (await told(pool, claim_id, "deadline_breached"))[-2:] == ["ops", "ops"]
    # The new examiner's report is still taken.
    status = await report(handle)
    assert status.stage is Stage.REVIEW
    await act_and_finish(handle, Action.WITHDRAW, Withdraw(reason="test done"))
    await keep_history(handle, "examiner_replaced_for_late_report")


async def test_missing_exam_outcome_is_re_raised_to_ops_every_grace(
    ts_env, client, task_queue, pool
):
    handle = await demo_claim(client, task_queue)
    await wait_for(handle, lambda s: s.appointment is not None)
    status = await act(handle, Action.CONFIRM_APPOINTMENT, ConfirmAppointment())
    claim_id = status.claim_id
    # Appointment in 5 s, lasting 1 s, then 20 s of grace; then re-raised every 20 s.
    await ts_env.sleep(timedelta(seconds=30))
    await wait_for(handle, lambda s: due(s, "exam_outcome").breached)
    await ts_env.sleep(timedelta(seconds=20))
    await chain_reaches(pool, claim_id, ("exam_outcome_escalation", 1))
    await ts_env.sleep(timedelta(seconds=20))
    chain = await chain_reaches(pool, claim_id, ("exam_outcome_escalation", 2))
    assert chain[0] == ("exam_outcome", 1)
    assert chain[1:] == [("exam_outcome_escalation", n) for n in range(1, len(chain))]
    # Each raise is an ops inbox item of its own.
    assert await inbox_roles(pool, claim_id, "deadline_breached") == ["ops"] * len(chain)
    # Recording the outcome ends the chain.
    status = await act(handle, Action.EXAM, ExamOutcome(attended=True))
    assert status.stage is Stage.REPORT and not status.overdue
    await act_and_finish(handle, Action.WITHDRAW, Withdraw(reason="test done"))
    await keep_history(handle, "exam_outcome_missing_re_raised")


async def to_review(env, handle) -> ClaimStatus:
    await to_report(env, handle)
    status = await report(handle)
    assert status.stage is Stage.REVIEW
    return status


async def test_overdue_review_goes_to_a_senior_reviewer_who_may_act(
    ts_env, client, task_queue, pool
):
    handle = await demo_claim(client, task_queue)
    status = await to_review(ts_env, handle)
    claim_id = status.claim_id
    await ts_env.sleep(timedelta(seconds=11))
    status = await wait_for(handle, lambda s: due(s, "review").breached)
    assert await told(pool, claim_id, "deadline_breached") == ["reviewer", "senior_reviewer"]
    assert await inbox_roles(pool, claim_id, "deadline_breached") == [
        "reviewer",
        "senior_reviewer",
    ]
    assert due(status, "review_escalation").due_at == due(status, "review").due_at + timedelta(
        seconds=20
    )
    senior = Caller(role=Role.SENIOR_REVIEWER, key_id="k-senior")
    status = await act(
        handle,
        Action.REVIEW,
        ReviewResult(result="accepted").model_copy(update={"acted_by": senior}),
    )
    assert status.stage is Stage.DECISION
    # Accepted in time: ops never hear of it.
    assert "ops" not in await told(pool, claim_id, "deadline_breached")
    await act_and_finish(handle, Action.WITHDRAW, Withdraw(reason="test done"))
    await keep_history(handle, "review_overdue_senior_reviewer_acts")


async def test_review_still_open_after_the_grace_goes_to_ops(ts_env, client, task_queue, pool):
    handle = await demo_claim(client, task_queue)
    status = await to_review(ts_env, handle)
    await ts_env.sleep(timedelta(seconds=11))
    await wait_for(handle, lambda s: due(s, "review").breached)
    await ts_env.sleep(timedelta(seconds=20))
    chain = await chain_reaches(pool, status.claim_id, ("review_escalation", 1))
    assert chain[:2] == [("review", 1), ("review_escalation", 1)]
    assert "ops" in await inbox_roles(pool, status.claim_id, "deadline_breached")
    await act_and_finish(handle, Action.WITHDRAW, Withdraw(reason="test done"))


async def test_overdue_decision_goes_to_the_insurers_supervisor_then_ops(
    ts_env, client, task_queue, pool
):
    handle = await demo_claim(client, task_queue)
    await to_review(ts_env, handle)
    status = await act(handle, Action.REVIEW, ReviewResult(result="accepted"))
    assert status.stage is Stage.DECISION
    claim_id = status.claim_id
    await ts_env.sleep(timedelta(seconds=31))
    status = await wait_for(handle, lambda s: due(s, "decision").breached)
    assert await told(pool, claim_id, "deadline_breached") == ["insurer", "supervisor"]
    # The supervisor's item is in the insurer's inbox, scoped to the claim's insurer.
    items = await inbox_items(pool, claim_id, "deadline_breached")
    assert sorted((i.role, i.insurer_id) for i in items) == [
        ("insurer", status.insurer_id),
        ("insurer", status.insurer_id),
    ]
    await ts_env.sleep(timedelta(seconds=20))
    chain = await chain_reaches(pool, claim_id, ("decision_escalation", 1))
    assert chain[:2] == [("decision", 1), ("decision_escalation", 1)]
    assert (await told(pool, claim_id, "deadline_breached"))[-1] == "ops"
    await act_and_finish(handle, Action.WITHDRAW, Withdraw(reason="test done"))
    await keep_history(handle, "decision_overdue_supervisor_then_ops")


async def test_unconfirmed_appointment_is_released_and_rebooked_with_the_next_examiner(
    ts_env, client, task_queue, pool
):
    handle = await demo_claim(client, task_queue)
    first = await wait_for(handle, lambda s: s.appointment is not None)
    claim_id = first.claim_id
    await ts_env.sleep(timedelta(seconds=21))
    second = await wait_for(
        handle,
        lambda s: s.appointment is not None and s.appointment.id != appointment_of(first).id,
    )
    assert examiner_of(second).id != examiner_of(first).id
    assert second.stage is Stage.SCHEDULING and not second.overdue
    [expired] = await events(pool, claim_id, "appointment_expired")
    assert expired["examiner_id"] == examiner_of(first).id
    released = await pool.fetchval(
        "SELECT status FROM appointments WHERE id = $1", appointment_of(first).id
    )
    assert released == "cancelled"  # the examiner's capacity is free again
    assert await told(pool, claim_id, "appointment_cancelled") == ["examiner"]
    # The new booking has a confirmation window of its own, and confirming it works.
    assert not due(second, "appointment_confirmation").breached
    status = await act(handle, Action.CONFIRM_APPOINTMENT, ConfirmAppointment())
    assert status.stage is Stage.EXAM
    await act_and_finish(handle, Action.WITHDRAW, Withdraw(reason="test done"))
    await keep_history(handle, "unconfirmed_appointment_rebooked")


async def settled(handle: WorkflowHandle) -> None:
    """Until the claim has nothing in flight (no activity pending, the booking recorded), so the
    next action does not race the claim's hand-over to a new run: the time-skipping server drops
    an update sent to a run that continues as new before accepting it."""
    for _ in range(200):
        raw = (await handle.describe()).raw_description
        if not raw.pending_activities and not raw.HasField("pending_workflow_task"):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the claim never settled")


async def test_a_claim_with_many_rebookings_continues_as_new_and_carries_its_state(
    ts_env, client, task_queue, pool
):
    handle = await demo_claim(client, task_queue)
    status = await wait_for(handle, lambda s: s.appointment is not None)
    first_run = (await handle.describe()).run_id
    rescheduled = 0
    while (await handle.describe()).run_id == first_run:
        assert rescheduled < 120, "the claim never continued as new"
        status = await act(
            handle, Action.RESCHEDULE, Reschedule(reason="claimant ill", requested_by="claimant")
        )
        status = await wait_for(handle, lambda s: s.appointment is not None)
        await settled(handle)
        rescheduled += 1
    assert rescheduled > 10  # it took many re-bookings to grow the history that long
    first = client.get_workflow_handle(handle.id, run_id=first_run)
    first_history = await first.fetch_history()
    assert first_history.events[-1].HasField("workflow_execution_continued_as_new_event_attributes")
    # The run checks its length between re-bookings, so it passed the limit during at most one
    # re-booking and then continued: the re-booking before the last was accepted under the limit.
    # (How many events that last re-booking adds depends on how the server batches workflow tasks
    # under load, so the total length is not what the rule bounds.)
    accepted = [
        number
        for number, event in enumerate(first_history.events, start=1)
        if event.HasField("workflow_execution_update_accepted_event_attributes")
    ]
    assert accepted[-2] <= HISTORY_LIMIT < len(first_history.events)

    # The new run carries on the same claim: same version line, same bookings count, and it walks
    # to the end as any claim does.
    current = await handle.query(ClaimWorkflow.status)
    assert current.version == status.version and current.appointment == status.appointment
    await act(handle, Action.CONFIRM_APPOINTMENT, ConfirmAppointment())
    starts = appointment_of(current).starts_at
    await ts_env.sleep(starts - await ts_env.get_current_time() + timedelta(seconds=1))
    await act(handle, Action.EXAM, ExamOutcome(attended=True))
    await report(handle)
    await act(handle, Action.REVIEW, ReviewResult(result="accepted"))
    final = await act_and_finish(
        handle, Action.DECISION, DecisionInput(outcome="approved", reason_code="IME_SUPPORTS")
    )
    assert (final.stage, final.outcome) == (Stage.CLOSED, "approved")
    seqs = [e.seq for e in await list_events(pool, final.claim_id)]
    assert seqs == list(range(1, len(seqs) + 1))  # nothing lost or repeated across the runs
    reschedules = await events(pool, final.claim_id, "appointment_rescheduled")
    assert len(reschedules) == rescheduled
    await keep_history(first, "many_rebookings_first_run")
    await keep_history(handle, "many_rebookings_continued")


async def test_the_reviewers_last_addendum_opens_an_ops_item(ts_env, client, task_queue, pool):
    handle = await demo_claim(client, task_queue)
    status = await to_review(ts_env, handle)
    claim_id = status.claim_id
    for _ in range(2):  # DEMO: max_addenda = 2
        status = await act(handle, Action.REVIEW, ReviewResult(result="addendum_requested"))
        assert status.stage is Stage.REPORT
        assert await inbox_roles(pool, claim_id, "review_addenda_exhausted") == []
        status = await report(handle)
        assert status.stage is Stage.REVIEW
    # The reviewer can ask for no more: ops are told, once.
    assert await inbox_roles(pool, claim_id, "review_addenda_exhausted") == ["ops"]
    with pytest.raises(WorkflowUpdateFailedError):
        await act(handle, Action.REVIEW, ReviewResult(result="addendum_requested"))
    status = await act(handle, Action.REVIEW, ReviewResult(result="accepted"))
    assert status.stage is Stage.DECISION
    assert await inbox_roles(pool, claim_id, "review_addenda_exhausted") == ["ops"]
    await act_and_finish(handle, Action.WITHDRAW, Withdraw(reason="test done"))
    await keep_history(handle, "review_addenda_exhausted_to_ops")
