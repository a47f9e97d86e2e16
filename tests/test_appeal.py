"""The appeal of an ERISA denial as a claim lives it (time-skipping server of its own, real
Postgres): the window of 180 days from the denial (29 CFR 2560.503-1(h)(4)), the review by
someone other than the first reviewer, a new IME with another examiner ((h)(3)(ii)-(v)), the
decision on appeal within 45 days of the receipt and its one 45-day extension ((i)(1)(i),
(i)(3)(i)), decided by someone other than who denied; an appeal received after the window
refused, one received on its last day and recorded the next accepted.

Every date is counted by hand on the calendar and written beside it: calendar days are exact
offsets (ERISA does not move a period ending on a weekend); the recording grace is the profile's
escalation grace, 2 business days ending 17:00 in New York (the claimant's state, NY).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from domain.models import (
    Appeal,
    AppealDecision,
    Caller,
    ClaimStatus,
    ConfirmAppointment,
    DecisionInput,
    ExamOutcome,
    ExamReport,
    ExtendDecision,
    Referral,
    ReviewResult,
    Stage,
    Withdraw,
)
from domain.names import Action, Role
from tests.helpers.claims import (
    act,
    act_and_finish,
    appointment_of,
    deadline,
    examiner_of,
    set_clock,
    start_claim,
    wait_for,
)
from tests.helpers.histories import keep_history
from tests.helpers.probes import told
from tests.helpers.referrals import complete_report, referral_payload

RECEIVED = datetime(2035, 10, 1, 14, 0, tzinfo=UTC)  # Mon 1 Oct 2035: the claim comes in
DENIED = datetime(2035, 11, 1, 14, 0, tzinfo=UTC)  # Thu 1 Nov 2035, before its 15 Nov clock
# 180 days after the denial: November's 29 remaining days (2..30), December 31 (60), January
# 31 (91), February 29 (2036 is a leap year: 120), March 31 (151), April 29 -> Tue 29 Apr 2036.
WINDOW_ENDS = datetime(2036, 4, 29, 14, 0, tzinfo=UTC)

REVIEWER_A = Caller(role=Role.REVIEWER, key_id="k-reviewer-a", key_name="first reviewer")
REVIEWER_B = Caller(role=Role.REVIEWER, key_id="k-reviewer-b", key_name="appeal reviewer")
ADJUSTER_A = Caller(role=Role.INSURER, key_id="k-adjuster-a", insurer_id="acme-ins")
ADJUSTER_B = Caller(role=Role.INSURER, key_id="k-adjuster-b", insurer_id="acme-ins")
OPS = Caller(role=Role.OPS, key_id="k-ops")


async def refused(handle: WorkflowHandle, action: Action, payload: Any) -> str:
    before = await handle.query("status", result_type=ClaimStatus)
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await act(handle, action, payload)
    after = await handle.query("status", result_type=ClaimStatus)
    assert after == before, "a refused action changed the claim"
    return str(failed.value.cause).removeprefix("ActionNotAllowed: ")


async def examined(env: WorkflowEnvironment, handle: WorkflowHandle, reviewer: Caller) -> None:
    """The booked exam held, its report filed and accepted by `reviewer`."""
    status = await wait_for(handle, lambda s: s.appointment is not None)
    await act(handle, Action.CONFIRM_APPOINTMENT, ConfirmAppointment())
    await set_clock(env, appointment_of(status).starts_at + timedelta(minutes=1))
    await act(handle, Action.EXAM, ExamOutcome(attended=True))
    await act(handle, Action.REPORT, ExamReport.model_validate(complete_report("not_related")))
    await act(handle, Action.REVIEW, ReviewResult(result="accepted", acted_by=reviewer))


async def denied(env: WorkflowEnvironment, task_queue: str) -> tuple[WorkflowHandle, ClaimStatus]:
    """An ERISA-LTD claim received Mon 1 Oct 2035, examined, and denied Thu 1 Nov 2035 by
    adjuster A on reviewer A's accepted report."""
    await set_clock(env, RECEIVED)
    referral = Referral.model_validate(referral_payload("ERISA-LTD"))
    handle = await start_claim(env.client, referral, task_queue)
    await examined(env, handle, REVIEWER_A)
    await set_clock(env, DENIED)
    denial = DecisionInput(
        outcome="denied", reason_code="NOT_DISABLED_OWN_OCCUPATION", acted_by=ADJUSTER_A
    )
    await act(handle, Action.DECISION, denial)
    status = await wait_for(handle, lambda s: s.appeal is not None)
    return handle, status


def appeal_of(status: ClaimStatus) -> Any:
    assert status.appeal is not None, "no appeal is open to this claim"
    return status.appeal


def to_second(at: datetime) -> datetime:
    """The claim acts a moment after the clock was set: compared to the second."""
    return at.replace(microsecond=0)


async def test_an_erisa_appeal_reviewed_anew_with_a_new_ime_extended_and_overturned(
    days_env: WorkflowEnvironment, task_queue: str, pool: asyncpg.Pool
):
    handle, status = await denied(days_env, task_queue)
    first_examiner = examiner_of(status).id
    assert (status.stage, status.status, status.outcome) == (Stage.CLOSED, "closed", "denied")
    assert appeal_of(status).phase == "window"
    assert to_second(appeal_of(status).window_ends) == WINDOW_ENDS

    # Received by the plan Mon 3 Mar 2036 15:00 UTC, recorded by ops the next day.
    await set_clock(days_env, datetime(2036, 3, 4, 14, 0, tzinfo=UTC))
    received = datetime(2036, 3, 3, 15, 0, tzinfo=UTC)
    appeal = Appeal(received_at=received, reason="my physician's new records", acted_by=OPS)
    status = await act(handle, Action.APPEAL, appeal)
    assert (status.stage, status.status, status.outcome) == (Stage.APPEAL, "open", None)
    assert status.decision is not None and status.decision.outcome == "denied"  # kept
    assert appeal_of(status).phase == "review"
    # 45 days from the receipt: March's 28 remaining days (4..31), April 17 -> Thu 17 Apr 2036.
    assert deadline(status, "appeal_decision").due_at == datetime(2036, 4, 17, 15, 0, tzinfo=UTC)
    # The review SLA, 3 business days from Tue 4 Mar 09:00 EST: Wed 5 (1), Thu 6, Fri 7 (3) ->
    # 17:00 EST Fri 7 Mar = 22:00 UTC.
    assert deadline(status, "appeal_review").due_at == datetime(2036, 3, 7, 22, 0, tzinfo=UTC)
    assert "appealed already" in await refused(handle, Action.APPEAL, appeal)
    assert await told(pool, status.claim_id, "appeal_received_notice") == ["claimant"]
    assert await told(pool, status.claim_id, "appeal_to_review") == ["reviewer"]

    # (h)(3)(ii): not the first reviewer; on appeal the report is not sent back.
    first_again = ReviewResult(result="new_exam_requested", acted_by=REVIEWER_A)
    assert "did not review this claim before" in await refused(handle, Action.REVIEW, first_again)
    addendum = ReviewResult(result="addendum_requested", reasons=["x"], acted_by=REVIEWER_B)
    assert "not sent back" in await refused(handle, Action.REVIEW, addendum)
    assert "once its review is recorded" in await refused(
        handle,
        Action.APPEAL_DECISION,
        AppealDecision(outcome="overturned", reason_code="MEETS_DEFINITION", acted_by=ADJUSTER_B),
    )
    new_exam = ReviewResult(result="new_exam_requested", acted_by=REVIEWER_B)
    status = await act(handle, Action.REVIEW, new_exam)
    assert status.stage is Stage.SCHEDULING and appeal_of(status).phase == "new_exam"
    assert deadline(status, "appeal_review").met_at is not None
    # (h)(3)(v): a health care professional not consulted before: another examiner.
    status = await wait_for(handle, lambda s: s.appointment is not None)
    assert examiner_of(status).id != first_examiner

    # The insurer's one extension, while the new exam is pending: 45 days after Thu 17 Apr 15:00
    # UTC: April's 13 remaining days (18..30), May 31 (44), June 1 -> Sun 1 Jun 2036.
    status = await act(
        handle,
        Action.EXTEND_DECISION,
        ExtendDecision(reason="the new examination is not yet held", acted_by=ADJUSTER_B),
    )
    assert deadline(status, "appeal_decision").due_at == datetime(2036, 6, 1, 15, 0, tzinfo=UTC)
    assert appeal_of(status).extended
    assert "extended already" in await refused(
        handle, Action.EXTEND_DECISION, ExtendDecision(reason="again", acted_by=ADJUSTER_B)
    )

    # The new report is not reviewed by the first reviewer either.
    status = await wait_for(handle, lambda s: s.appointment is not None)
    await act(handle, Action.CONFIRM_APPOINTMENT, ConfirmAppointment())
    await set_clock(days_env, appointment_of(status).starts_at + timedelta(minutes=1))
    await act(handle, Action.EXAM, ExamOutcome(attended=True))
    await act(handle, Action.REPORT, ExamReport.model_validate(complete_report("related")))
    accepted_by_a = ReviewResult(result="accepted", acted_by=REVIEWER_A)
    assert "did not review this claim before" in await refused(handle, Action.REVIEW, accepted_by_a)
    status = await act(handle, Action.REVIEW, ReviewResult(result="accepted", acted_by=REVIEWER_B))
    assert status.stage is Stage.APPEAL and appeal_of(status).phase == "deciding"
    assert sorted(await told(pool, status.claim_id, "appeal_decision_needed")) == ["insurer"]

    # (h)(3)(ii): not whoever made the denial.
    overturn = AppealDecision(outcome="overturned", reason_code="MEETS_DEFINITION")
    assert "other than who made the denial" in await refused(
        handle, Action.APPEAL_DECISION, overturn.model_copy(update={"acted_by": ADJUSTER_A})
    )
    final = await act_and_finish(
        handle, Action.APPEAL_DECISION, overturn.model_copy(update={"acted_by": ADJUSTER_B})
    )
    await keep_history(handle, "erisa_appeal_overturned")
    assert (final.stage, final.status, final.outcome) == (
        Stage.CLOSED,
        "closed",
        "appeal_overturned",
    )
    assert appeal_of(final).outcome == "overturned"
    assert appeal_of(final).reason_code == "MEETS_DEFINITION"
    assert await told(pool, final.claim_id, "appeal_decision_notice") == ["claimant"]
    assert await told(pool, final.claim_id, "decision_notice") == ["claimant"]  # the denial's
    rows = await pool.fetch(
        "SELECT type FROM claim_events WHERE claim_id = $1 AND type LIKE 'appeal%' ORDER BY seq",
        final.claim_id,
    )
    assert [r["type"] for r in rows] == [
        "appeal_received",
        "appeal_reviewed",
        "appeal_extended",
        "appeal_decided",
    ]


async def test_an_appeal_after_the_window_is_refused_and_one_from_its_last_day_accepted(
    days_env: WorkflowEnvironment, task_queue: str, pool: asyncpg.Pool
):
    handle, status = await denied(days_env, task_queue)
    # The day after the window ended (Tue 29 Apr 2036 14:00 UTC): within the 2 business days ops
    # have to record an appeal (Wed 30 Apr (1), Thu 1 May (2) -> 17:00 EDT = 21:00 UTC).
    await set_clock(days_env, datetime(2036, 4, 30, 14, 0, tzinfo=UTC))
    late = Appeal(received_at=datetime(2036, 4, 30, 12, 0, tzinfo=UTC), reason="late", acted_by=OPS)
    assert "received after its window ended (2036-04-29T14:00" in await refused(
        handle, Action.APPEAL, late
    )
    future = late.model_copy(update={"received_at": datetime(2036, 5, 2, 12, 0, tzinfo=UTC)})
    assert "in the future" in await refused(handle, Action.APPEAL, future)
    on_the_last_day = late.model_copy(
        update={"received_at": datetime(2036, 4, 29, 13, 0, tzinfo=UTC), "reason": "in time"}
    )
    status = await act(handle, Action.APPEAL, on_the_last_day)
    assert status.stage is Stage.APPEAL
    # Withdrawn by the claimant: the denial stands.
    final = await act_and_finish(
        handle, Action.WITHDRAW, Withdraw(reason="the claimant withdrew the appeal", acted_by=OPS)
    )
    await keep_history(handle, "erisa_appeal_withdrawn")
    assert final.outcome == "appeal_withdrawn" and final.decision is not None
    assert final.decision.outcome == "denied"


async def test_the_window_closes_with_no_appeal_and_outlasts_an_operators_cancellation(
    days_env: WorkflowEnvironment, task_queue: str, pool: asyncpg.Pool
):
    handle, status = await denied(days_env, task_queue)
    closed = "SELECT count(*) FROM claim_events WHERE claim_id = $1 AND type = 'claim_closed'"
    async with asyncio.timeout(10):  # the closing steps are recorded: the run waits
        while not await pool.fetchval(closed, status.claim_id):
            await asyncio.sleep(0.05)
    status = await handle.query("status", result_type=ClaimStatus)
    # An SRE cancels the closed claim's run in Temporal: the window is the claimant's, so the
    # run records the request and keeps waiting.
    await handle.cancel()
    cancelled = (
        "SELECT actor, details FROM claim_events WHERE claim_id = $1"
        " AND type = 'cancellation_requested'"
    )
    async with asyncio.timeout(10):  # written a moment after the workflow moved
        while (row := await pool.fetchrow(cancelled, status.claim_id)) is None:
            await asyncio.sleep(0.05)
    assert row["actor"] == "operator"
    # Kept open until the recording grace ends, Thu 1 May 2036 21:00 UTC (17:00 EDT).
    assert row["details"]["kept_open_until"].startswith("2036-05-01T21:00")
    await set_clock(days_env, datetime(2036, 5, 1, 20, 59, tzinfo=UTC))
    status = await handle.query("status", result_type=ClaimStatus)
    assert appeal_of(status).phase == "window"
    final = await handle.result()
    await keep_history(handle, "erisa_appeal_window_closed")
    assert final.outcome == "denied" and appeal_of(final).phase == "lapsed"
    row = await pool.fetchrow(
        "SELECT details FROM claim_events WHERE claim_id = $1 AND type = 'appeal_window_closed'",
        final.claim_id,
    )
    assert row is not None and row["details"]["window_ends"].startswith("2036-04-29T14:00")
