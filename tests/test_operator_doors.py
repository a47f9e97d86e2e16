"""What SREs do with the real `temporal` CLI (PRODUCT §9, operators' doors) keeps a claim's record
true. After each reset recipe the claim walks to CLOSED; GET, the workflow's status query and the
search attributes agree; the audit's current events are one contiguous run, with what the reset
superseded marked; the claimant's last notice says the final outcome; GET /report serves the
report the decision was based on. Cancellation is an ops withdrawal."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from temporalio.api.enums.v1 import EventType as HistoryEvent
from temporalio.client import Client, WorkflowHistory

from delivery.mail import letter
from domain.models import ClaimStatus
from domain.names import Query
from settings import PROJECT_ROOT
from store.claims import get_status
from tests.helpers.histories import keep_history
from tests.helpers.probes import outbox_rows
from tests.helpers.referrals import complete_report, referral_payload
from tests.helpers.stack import dev_address
from tests.helpers.walk import Parties, post_action, wait_until

TEMPORAL = PROJECT_ROOT / ".venv" / "bin" / "temporal"
EXAM = {"attended": True, "risk_screen": {"level": "none", "toward": None}}
ACCEPT = {"result": "accepted", "reasons": []}
APPROVE = {"outcome": "approved", "reason_code": "IME_SUPPORTS"}
DENY = {"outcome": "denied", "reason_code": "IME_NOT_RELATED"}


async def temporal_cli(dev_env, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        str(TEMPORAL),
        *args,
        "--address",
        dev_address(dev_env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out = (await asyncio.wait_for(process.communicate(), timeout=60))[0].decode()
    assert process.returncode == 0, out
    return out


def update_accepted_in(history: WorkflowHistory, update: str) -> int:
    """The WorkflowTaskCompleted event of the task that accepted the (last) `update`: resetting
    to it goes back to just before the action."""
    completed = 0
    found = 0
    for event in history.events:
        if event.event_type == HistoryEvent.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            completed = event.event_id
        if event.event_type == HistoryEvent.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            request = event.workflow_execution_update_accepted_event_attributes.accepted_request
            if request.input.name == update:
                found = completed
    assert found, f"no {update} update in the history"
    return found


async def reset(dev_env, workflow_id: str, *options: str) -> None:
    await temporal_cli(
        dev_env, "workflow", "reset", "--workflow-id", workflow_id, "--reason", "test", *options
    )


async def reset_before(dev_env, client: Client, workflow_id: str, update: str, *options: str):
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    event_id = update_accepted_in(history, update)
    await reset(dev_env, workflow_id, "--event-id", str(event_id), *options)


async def act(party, claim_id: str, action: str, body: dict, stage: str) -> dict:
    answer = await post_action(party, claim_id, action, body)
    assert answer.status_code == 200, (action, answer.text)
    assert answer.json()["stage"] == stage, (action, answer.json()["stage"])
    return answer.json()


async def booked_and_confirmed(parties: Parties) -> str:
    created = await parties.insurer.post("/v1/claims", json=referral_payload("DEMO"))
    assert created.status_code == 201, created.text
    claim_id = created.json()["claim_id"]
    await wait_until(parties.insurer, claim_id, lambda c: c["appointment"] is not None)
    confirmed = await act(parties.ops, claim_id, "confirm-appointment", {}, "EXAM")
    starts_at = datetime.fromisoformat(confirmed["appointment"]["starts_at"])
    await asyncio.sleep(max(0.0, (starts_at - datetime.now(UTC)).total_seconds()) + 0.5)
    return claim_id


async def settled(api, client: Client, claim_id: str, stage: str) -> ClaimStatus:
    """GET, the workflow's query and its search attributes, once they agree on `stage`."""
    handle = client.get_workflow_handle(f"ime-claim-{claim_id}")
    async with asyncio.timeout(30):
        while True:
            got = await get_status(api.pool, claim_id)
            queried = await handle.query(Query.CLAIM_STATUS, result_type=ClaimStatus)
            described = (await handle.describe()).raw_description.workflow_execution_info
            shown = {
                name: payload.data.decode().strip('"')
                for name, payload in described.search_attributes.indexed_fields.items()
            }
            if (
                got is not None
                and got.stage.value == queried.stage.value == stage == shown.get("ClaimStage")
                and got.version == queried.version
                and got.outcome == queried.outcome
            ):
                if got.outcome:
                    assert shown.get("ClaimOutcome") == got.outcome.value
                return got
            await asyncio.sleep(0.2)


async def current_and_superseded(http, claim_id: str) -> tuple[list[dict], list[dict]]:
    events = (await http.get(f"/v1/claims/{claim_id}/events")).json()
    current = [e for e in events if e["superseded"] is None]
    superseded = [e for e in events if e["superseded"] is not None]
    # One contiguous run of current events, each once.
    assert [e["seq"] for e in current] == list(range(1, len(current) + 1)), events
    return current, superseded


async def claimant_letters(api, claim_id: str, template: str) -> list[str]:
    status = await get_status(api.pool, claim_id)
    assert status is not None
    return [
        "\n".join(letter(row.template, status, row.details, "Claimant").paragraphs)
        for row in await outbox_rows(api.pool, claim_id)
        if row.recipient == "claimant" and row.template == template
    ]


async def test_last_workflow_task_reset_keeps_the_claim_whole(dev_env, api, parties):
    client = dev_env.client
    claim_id = await booked_and_confirmed(parties)
    await reset(dev_env, f"ime-claim-{claim_id}", "--type", "LastWorkflowTask")
    await settled(api, client, claim_id, "EXAM")
    await act(parties.ops, claim_id, "exam", EXAM, "REPORT")
    await act(parties.ops, claim_id, "report", complete_report(), "REVIEW")
    await act(parties.reviewer, claim_id, "review", ACCEPT, "DECISION")
    await act(parties.insurer, claim_id, "decision", APPROVE, "CLOSED")
    final = await settled(api, client, claim_id, "CLOSED")
    assert final.outcome is not None and final.outcome.value == "approved"
    current, _ = await current_and_superseded(parties.ops, claim_id)
    assert [e["type"] for e in current].count("decision_issued") == 1


@pytest.mark.parametrize("reapply", ["default", "exclude-all"])
async def test_reset_before_the_exam(dev_env, api, parties, reapply):
    client = dev_env.client
    claim_id = await booked_and_confirmed(parties)
    await act(parties.ops, claim_id, "exam", EXAM, "REPORT")
    options = ("--reapply-exclude", "All") if reapply == "exclude-all" else ()
    await reset_before(dev_env, client, f"ime-claim-{claim_id}", "exam", *options)
    if reapply == "default":
        # The exam update is applied again by the reset run: the claim is back in REPORT.
        await settled(api, client, claim_id, "REPORT")
    else:
        # Nothing re-applied: the claim waits for the exam again, and the appointment is booked
        # (the run before had marked it attended).
        back = await settled(api, client, claim_id, "EXAM")
        assert back.appointment is not None
        status = await api.pool.fetchval(
            "SELECT status FROM appointments WHERE id = $1", back.appointment.id
        )
        assert status == "booked"
        await act(parties.ops, claim_id, "exam", EXAM, "REPORT")
    await act(parties.ops, claim_id, "report", complete_report(), "REVIEW")
    await act(parties.reviewer, claim_id, "review", ACCEPT, "DECISION")
    await act(parties.insurer, claim_id, "decision", APPROVE, "CLOSED")
    final = await settled(api, client, claim_id, "CLOSED")
    assert final.outcome is not None and final.outcome.value == "approved"
    handle = client.get_workflow_handle(f"ime-claim-{claim_id}")
    await keep_history(handle, f"reset_before_exam_{reapply.replace('-', '_')}")
    current, superseded = await current_and_superseded(parties.ops, claim_id)
    types = [e["type"] for e in current]
    assert "workflow_reset" in types and types.count("exam_attended") == 1
    assert [e["type"] for e in superseded] == ["exam_attended"]
    # The reset went back to just after the appointment was confirmed.
    [confirmed] = [e["seq"] for e in current if e["type"] == "appointment_confirmed"]
    assert superseded[0]["superseded"]["resumed_after_seq"] == confirmed


async def test_a_closed_claim_reset_before_its_decision_then_decided_differently(
    dev_env, api, parties
):
    client = dev_env.client
    claim_id = await booked_and_confirmed(parties)
    await act(parties.ops, claim_id, "exam", EXAM, "REPORT")
    await act(parties.ops, claim_id, "report", complete_report(), "REVIEW")
    await act(parties.reviewer, claim_id, "review", ACCEPT, "DECISION")
    # Denied first (a DEMO denial's run then waits for an appeal), approved after the reset.
    await act(parties.insurer, claim_id, "decision", DENY, "CLOSED")
    await settled(api, client, claim_id, "CLOSED")
    denied_letters = await claimant_letters(api, claim_id, "decision_notice")

    await reset_before(
        dev_env, client, f"ime-claim-{claim_id}", "decision", "--reapply-exclude", "All"
    )
    reopened = await settled(api, client, claim_id, "DECISION")
    assert reopened.outcome is None and reopened.status == "open"
    await act(parties.insurer, claim_id, "decision", APPROVE, "CLOSED")
    final = await settled(api, client, claim_id, "CLOSED")
    assert final.outcome is not None and final.outcome.value == "approved"
    assert final.appeal is None  # the denial's appeal window went with the reset
    await keep_history(client.get_workflow_handle(f"ime-claim-{claim_id}"), "reset_after_close")

    current, superseded = await current_and_superseded(parties.ops, claim_id)
    decisions = [e["details"]["outcome"] for e in current if e["type"] == "decision_issued"]
    assert decisions == ["approved"]
    assert [e["type"] for e in superseded] == ["decision_issued", "claim_closed"]
    assert [e["type"] for e in current].count("claim_closed") == 1
    # The claimant is sent the approval: a second decision notice, which reads as approved.
    letters = await claimant_letters(api, claim_id, "decision_notice")
    assert len(denied_letters) == 1 and len(letters) == 2
    assert sum("approved" in text for text in letters) == 2  # rendered from the claim as it is
    # The report the decision was based on (accepted before the reset point) is still served.
    report = await parties.insurer.get(f"/v1/claims/{claim_id}/report")
    assert report.status_code == 200 and report.json()["status"] == "accepted"


async def test_reset_before_the_report_then_a_different_report(dev_env, api, parties):
    client = dev_env.client
    claim_id = await booked_and_confirmed(parties)
    await act(parties.ops, claim_id, "exam", EXAM, "REPORT")
    first = complete_report("related") | {"diagnoses": ["first opinion"]}
    await act(parties.ops, claim_id, "report", first, "REVIEW")

    await reset_before(
        dev_env, client, f"ime-claim-{claim_id}", "report", "--reapply-exclude", "All"
    )
    await settled(api, client, claim_id, "REPORT")
    second = complete_report("not_related") | {"diagnoses": ["second opinion"]}
    await act(parties.ops, claim_id, "report", second, "REVIEW")
    decided = await act(parties.reviewer, claim_id, "review", ACCEPT, "DECISION")
    assert decided["recommendation"] == "deny"
    report = (await parties.insurer.get(f"/v1/claims/{claim_id}/report")).json()
    assert report["report"]["diagnoses"] == ["second opinion"]
    assert [v["version"] for v in report["versions"]] == [1]
    await act(parties.insurer, claim_id, "decision", DENY, "CLOSED")
    final = await settled(api, client, claim_id, "CLOSED")
    assert final.outcome is not None and final.outcome.value == "denied"
    _, superseded = await current_and_superseded(parties.ops, claim_id)
    assert [e["type"] for e in superseded] == ["report_submitted"]


async def test_cancellation_is_an_ops_withdrawal_and_the_safety_case_keeps_running(
    dev_env, api, parties
):
    client = dev_env.client
    claim_id = await booked_and_confirmed(parties)
    concern = {"level": "imminent", "toward": "self", "notes": "plan"}
    await act(parties.insurer, claim_id, "safety-concern", concern, "EXAM")
    held = await settled(api, client, claim_id, "EXAM")
    assert held.safety_hold and held.appointment is not None
    await temporal_cli(dev_env, "workflow", "cancel", "--workflow-id", f"ime-claim-{claim_id}")
    closed = await wait_until(parties.ops, claim_id, lambda c: c["stage"] == "CLOSED")
    assert closed["outcome"] == "cancelled_by_ops"
    # A withdrawal's compensation: the slot is released, the parties are told.
    status = await api.pool.fetchval(
        "SELECT status FROM appointments WHERE id = $1", held.appointment.id
    )
    assert status == "cancelled"
    rows = await outbox_rows(api.pool, claim_id)
    assert ("insurer", "claim_closed") in {(r.recipient, r.template) for r in rows}
    events = (await parties.ops.get(f"/v1/claims/{claim_id}/events")).json()
    [withdrawn] = [e for e in events if e["type"] == "claim_withdrawn"]
    assert withdrawn["actor"] == "operator" and withdrawn["details"] == {
        "via": "temporal_cancellation"
    }
    # The safety case is not the claim's to cancel: it goes on, and its hold lifts when a
    # clinician resolves it.
    ack = await post_action(parties.clinician, claim_id, "safety-ack", {"clinician_id": "dr-1"})
    assert ack.status_code == 200, ack.text
    resolve = {"actions_taken": ["warm_handoff"]}
    assert (await post_action(parties.clinician, claim_id, "safety-resolve", resolve)).is_success
    lifted = await wait_until(parties.ops, claim_id, lambda c: not c["safety_hold"])
    assert lifted["outcome"] == "cancelled_by_ops"
    await keep_history(client.get_workflow_handle(f"ime-claim-{claim_id}"), "cancelled_by_operator")
    [placed] = [
        e
        for e in (await parties.ops.get(f"/v1/claims/{claim_id}/events")).json()
        if e["type"] == "safety_hold_placed"
    ]
    # The hold names whoever raised the concern.
    assert placed["acted_by"]["role"] == "insurer"


async def test_a_safety_case_terminated_by_an_operator_is_not_a_clinicians_act(
    dev_env, api, parties
):
    client = dev_env.client
    claim_id = await booked_and_confirmed(parties)
    concern = {"level": "imminent", "toward": "others", "notes": "threat"}
    await act(parties.ops, claim_id, "safety-concern", concern, "EXAM")
    handle = client.get_workflow_handle(f"ime-claim-{claim_id}")
    case_id = await handle.query(Query.OPEN_SAFETY_CASE)
    assert case_id
    await temporal_cli(dev_env, "workflow", "terminate", "--workflow-id", case_id)
    lifted = await wait_until(parties.ops, claim_id, lambda c: not c["safety_hold"])
    assert lifted["stage"] == "EXAM"
    events = (await parties.ops.get(f"/v1/claims/{claim_id}/events")).json()
    [placed] = [e for e in events if e["type"] == "safety_hold_placed"]
    [hold_lifted] = [e for e in events if e["type"] == "safety_hold_lifted"]
    assert placed["acted_by"]["role"] == "ops"
    assert hold_lifted["actor"] == "operator" and hold_lifted["acted_by"] is None
    told = {
        r.recipient
        for r in await outbox_rows(api.pool, claim_id)
        if r.template == "safety_case_ended_unresolved"
    }
    assert told == {"ops", "medical_director"}
