"""ERISA's decision clock as a claim lives it (time-skipping server of its own, real Postgres):
45 days from the claim's receipt (29 CFR 2560.503-1(f)(3)), so the insurer may take an extension
while the exam is still pending, with its reason, before the period ends, the claimant told why
and by when a decision is now expected; two 30-day extensions at most.

The dates are counted by hand on the calendar (calendar days: ERISA does not move a period
ending on a weekend), from a referral on Mon 1 Oct 2035, 14:00 UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from domain.models import ClaimStatus, ExtendDecision, Referral, Stage, Withdraw
from domain.names import Action
from tests.helpers.claims import act, act_and_finish, set_clock, start_claim, wait_for
from tests.helpers.config import TEST_SEALER
from tests.helpers.histories import keep_history
from tests.helpers.referrals import referral_payload

pytestmark = pytest.mark.usefixtures("ts_worker")

RECEIVED = datetime(2035, 10, 1, 14, 0, tzinfo=UTC)  # Mon 1 Oct 2035
# 45 days: October's remaining 30 days (2..31) and 15 of November -> Thu 15 Nov, 14:00 UTC.
DECIDE_BY = datetime(2035, 11, 15, 14, 0, tzinfo=UTC)
# The first extension, 30 days after it: November's 15 remaining days and 15 of December.
EXTENDED_ONCE = datetime(2035, 12, 15, 14, 0, tzinfo=UTC)
# The second, 30 days after that: December's 16 remaining days and 14 of January.
EXTENDED_TWICE = datetime(2036, 1, 14, 14, 0, tzinfo=UTC)


def decision_due(status: ClaimStatus) -> datetime:
    """To the second: the claim is received a moment after the clock was set."""
    [deadline] = [d for d in status.deadlines if d.name == "decision"]
    return deadline.due_at.replace(microsecond=0)


async def extension_notices(pool, claim_id: str) -> list[dict]:
    rows = await pool.fetch(
        "SELECT sealed_details FROM notification_outbox WHERE claim_id = $1"
        " AND template = 'decision_extension_notice' AND recipient = 'claimant' ORDER BY key",
        claim_id,
    )
    return [TEST_SEALER.open_json(bytes(r["sealed_details"])) for r in rows]


async def test_an_erisa_extension_while_the_exam_is_pending(
    days_env: WorkflowEnvironment, task_queue, pool
):
    await set_clock(days_env, RECEIVED)
    referral = Referral.model_validate(referral_payload("ERISA-LTD"))
    handle = await start_claim(days_env.client, referral, task_queue)
    status = await wait_for(handle, lambda s: s.appointment is not None)
    assert status.stage is Stage.SCHEDULING and decision_due(status) == DECIDE_BY

    status = await act(
        handle, Action.EXTEND_DECISION, ExtendDecision(reason="the examination is not yet held")
    )
    assert status.stage is Stage.SCHEDULING and decision_due(status) == EXTENDED_ONCE
    [notice] = await extension_notices(pool, status.claim_id)
    assert notice["reason"] == "the examination is not yet held"
    assert datetime.fromisoformat(notice["decision_due"]).replace(microsecond=0) == EXTENDED_ONCE

    # The second (the profile's last) is refused once the period it extends has ended.
    await set_clock(days_env, EXTENDED_ONCE + timedelta(minutes=1))
    with pytest.raises(WorkflowUpdateFailedError) as late:
        await act(handle, Action.EXTEND_DECISION, ExtendDecision(reason="records awaited"))
    assert "the decision period has ended" in str(late.value.cause)
    after = await handle.query("status", result_type=ClaimStatus)
    assert decision_due(after) == EXTENDED_ONCE  # the refused extension moved nothing
    await act_and_finish(handle, Action.WITHDRAW, Withdraw(reason="test done"))
    await keep_history(handle, "erisa_extended_before_the_exam")


async def test_two_erisa_extensions_and_no_third(days_env: WorkflowEnvironment, task_queue, pool):
    await set_clock(days_env, RECEIVED)
    referral = Referral.model_validate(referral_payload("ERISA-LTD"))
    handle = await start_claim(days_env.client, referral, task_queue)
    await wait_for(handle, lambda s: s.appointment is not None)
    await act(handle, Action.EXTEND_DECISION, ExtendDecision(reason="first"))
    status = await act(handle, Action.EXTEND_DECISION, ExtendDecision(reason="second"))
    assert decision_due(status) == EXTENDED_TWICE
    with pytest.raises(WorkflowUpdateFailedError) as third:
        await act(handle, Action.EXTEND_DECISION, ExtendDecision(reason="third"))
    assert "no decision extension left under ERISA-LTD (2 allowed)" in str(third.value.cause)
    told = [
        datetime.fromisoformat(n["decision_due"]).replace(microsecond=0)
        for n in await extension_notices(pool, status.claim_id)
    ]
    assert told == [EXTENDED_ONCE, EXTENDED_TWICE]
    await act_and_finish(handle, Action.WITHDRAW, Withdraw(reason="test done"))
