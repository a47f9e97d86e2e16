"""The safety escalation branch (PRODUCT §4) on the time-skipping server."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError

from domain.models import (
    ClaimStatus,
    ConfirmAppointment,
    DecisionInput,
    ExamOutcome,
    ExamReport,
    ReviewResult,
    SafetyAck,
    SafetyCaseStatus,
    SafetyConcern,
    SafetyResolve,
    Stage,
)
from domain.names import Action, Query
from store.claims import list_events
from tests.helpers.claims import act, act_and_finish, appointment_of, start_demo_claim, wait_for
from tests.helpers.histories import keep_history
from tests.helpers.probes import notices, told
from tests.helpers.referrals import complete_report

pytestmark = pytest.mark.usefixtures("ts_worker")


SAFETY_TEMPLATES = {"safety_page", "safety_alert", "safety_escalation", "duty_to_protect_task"}


async def pages(pool, claim_id: str) -> list[tuple[str, str]]:
    return [n for n in await notices(pool, claim_id) if n[1] in SAFETY_TEMPLATES]


async def until(predicate, timeout: float = 10.0):
    async with asyncio.timeout(timeout):
        while not (result := await predicate()):
            await asyncio.sleep(0.05)
        return result


async def test_imminent_risk_holds_the_decision_until_a_clinician_resolves(
    ts_env, client, task_queue, pool
):
    handle = await start_demo_claim(client, task_queue)
    await wait_for(handle, lambda s: s.appointment is not None)
    status = await act(handle, Action.CONFIRM_APPOINTMENT, ConfirmAppointment())
    await ts_env.sleep(appointment_of(status).starts_at - await ts_env.get_current_time())
    screen = {"level": "imminent", "toward": "self", "notes": "stated a plan"}
    status = await act(
        handle, Action.EXAM, ExamOutcome.model_validate({"attended": True, "risk_screen": screen})
    )
    assert status.safety_hold is True and status.stage is Stage.REPORT

    async def paged():
        found = set(await pages(pool, status.claim_id))
        return found >= {("clinician", "safety_page"), ("crisis_line", "safety_alert")}

    await until(paged)

    # The report is still collected and reviewed; the decision waits for the hold.
    await act(handle, Action.REPORT, ExamReport.model_validate(complete_report()))
    status = await act(handle, Action.REVIEW, ReviewResult(result="accepted"))
    assert status.stage is Stage.DECISION
    with pytest.raises(WorkflowUpdateFailedError) as held:
        await act(handle, Action.DECISION, DecisionInput(outcome="approved", reason_code="OK"))
    assert "safety hold" in str(held.value.cause)

    case_id = await handle.query(Query.OPEN_SAFETY_CASE, result_type=str)
    case = client.get_workflow_handle(case_id)
    with pytest.raises(WorkflowUpdateFailedError):  # resolution needs an acknowledgement first
        await case.execute_update(
            Action.SAFETY_RESOLVE,
            SafetyResolve(actions_taken=["warm_handoff"]),
            result_type=SafetyCaseStatus,
        )
    await case.execute_update(Action.SAFETY_ACK, SafetyAck(clinician_id="dr-on-call"))
    await case.execute_update(
        Action.SAFETY_RESOLVE,
        SafetyResolve(actions_taken=["emergency_services_contacted", "referral_to_treatment"]),
        result_type=SafetyCaseStatus,
    )
    released = await wait_for(handle, lambda s: not s.safety_hold)
    assert released.stage is Stage.DECISION
    final = await act_and_finish(
        handle, Action.DECISION, DecisionInput(outcome="approved", reason_code="OK")
    )
    assert final.outcome == "approved"
    await keep_history(handle, "imminent_risk_hold_resolved")

    # Insurers see the hold, never the clinical detail.
    timeline = [e.model_dump() for e in await list_events(pool, final.claim_id)]
    types = [e["type"] for e in timeline]
    assert types.count("safety_hold_placed") == 1 and types.count("safety_hold_lifted") == 1
    assert not [w for w in ("imminent", "plan", "self", "warm_handoff") if w in str(timeline)]


async def test_missed_acknowledgements_repage_and_reach_the_medical_director(
    ts_env, client, task_queue, pool
):
    handle = await start_demo_claim(client, task_queue)
    booked = await wait_for(handle, lambda s: s.appointment is not None)
    status = await act(
        handle,
        Action.SAFETY_CONCERN,
        SafetyConcern(level="imminent", toward="others", notes="threat"),
    )
    assert status.safety_hold is True and status.stage is Stage.SCHEDULING
    await ts_env.sleep(timedelta(seconds=21))  # two 10-second acknowledgement windows missed

    async def escalated():
        found = await pages(pool, booked.claim_id)
        return found if ("medical_director", "safety_escalation") in found else None

    found = await until(escalated)
    assert found.count(("clinician", "safety_page")) == 3  # the page and two re-pages
    assert found.count(("medical_director", "safety_escalation")) == 1
    assert found.count(("ops", "duty_to_protect_task")) == 1
    assert found.count(("crisis_line", "safety_alert")) == 1


async def test_moderate_concern_refers_to_treatment_without_a_hold(client, task_queue, pool):
    handle = await start_demo_claim(client, task_queue)
    await wait_for(handle, lambda s: s.appointment is not None)
    status = await act(
        handle, Action.SAFETY_CONCERN, SafetyConcern(level="moderate", toward="self")
    )
    assert status.safety_hold is False
    assert await told(pool, status.claim_id, "referral_to_treatment") == ["clinician"]
    assert (await handle.query(Query.CLAIM_STATUS, result_type=ClaimStatus)).safety_hold is False
