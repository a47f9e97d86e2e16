"""Who examines where the state picks (time-skipping server, real Postgres; the API through the
real app): the CA-QME panel struck by both sides, with a strike missed, chosen by an
unrepresented claimant; the TX-DD assignment with its deadline and rung; a PA-IRE examiner who
cannot take the claim refused; the examiner replaced by the escalation chain under the state's
rule, and parties acting only for themselves.

Every date is counted by hand on the 2035 calendar and written beside it. The referral arrives
Tue 6 Mar 2035; clocks change to daylight time on Sun 11 Mar (PST/CST/EST before, PDT/CDT/EDT
after); no holiday of CA, TX or PA falls between 6 and 22 Mar 2035 (Good Friday, a Texas
holiday, is 23 Mar; Cesar Chavez Day 31 Mar).
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
    Assign,
    ClaimStatus,
    ConfirmAppointment,
    ExamOutcome,
    PanelChoice,
    RecordStateAssignment,
    RecordStatePanel,
    Referral,
    SelectionView,
    Stage,
    Strike,
    Withdraw,
)
from domain.names import Action, Role
from store.seed import seed_panel
from tests.helpers.app import ApiHarness
from tests.helpers.claims import (
    act,
    act_and_finish,
    deadline,
    examiner_of,
    set_clock,
    start_claim,
    wait_for,
)
from tests.helpers.histories import keep_history
from tests.helpers.probes import told
from tests.helpers.referrals import referral_payload
from tests.helpers.state_panel import CA_1, CA_2, CA_3, PANEL, add_third_ca_orthopedist
from tests.helpers.walk import post_action, wait_until

CA_REFERRED = datetime(2035, 3, 6, 18, 0, tzinfo=UTC)  # Tue 6 Mar 2035, 10:00 PST
TX_REFERRED = datetime(2035, 3, 6, 16, 0, tzinfo=UTC)  # Tue 6 Mar 2035, 10:00 CST
PA_REFERRED = datetime(2035, 3, 6, 15, 0, tzinfo=UTC)  # Tue 6 Mar 2035, 10:00 EST

# LC 4062.1(c) / 4062.2(c): 10 days from the panel's issue, issued at the referral's instant:
# Fri 16 Mar 2035 18:00 UTC (calendar days are exact offsets).
WINDOW_ENDS = datetime(2035, 3, 16, 18, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
async def third_ca_orthopedist(pool: asyncpg.Pool) -> None:
    await add_third_ca_orthopedist(pool)


def picked(status: ClaimStatus) -> SelectionView:
    assert status.selection is not None, "the state does not pick on this claim"
    return status.selection


async def waiting_for_the_state(
    env: WorkflowEnvironment, task_queue: str, jurisdiction: str, at: datetime, **claimant: Any
) -> tuple[WorkflowHandle, ClaimStatus]:
    await set_clock(env, at)
    body = referral_payload(jurisdiction)
    body["claimant"] |= claimant
    handle = await start_claim(env.client, Referral.model_validate(body), task_queue)
    status = await wait_for(
        handle, lambda s: s.selection is not None and deadline(s, "state_selection") is not None
    )
    assert status.appointment is None and status.stage is Stage.SCHEDULING
    return handle, status


async def event_details(
    pool: asyncpg.Pool, claim_id: str, kind: str, want: int = 1
) -> list[dict[str, Any]]:
    """The details of the claim's events of `kind`, once there are `want` of them (the claim's
    write lands a moment after its state moves)."""
    for _ in range(50):
        rows = await pool.fetch(
            "SELECT details FROM claim_events WHERE claim_id = $1 AND type = $2 ORDER BY seq",
            claim_id,
            kind,
        )
        if len(rows) >= want:
            break
        await asyncio.sleep(0.1)
    return [dict(r["details"]) for r in rows]


async def expect_inbox(
    pool: asyncpg.Pool, claim_id: str, kind: str, want: list[tuple[str, bool]]
) -> None:
    """The claim's items of `kind`, (role, done) oldest first, are `want` within a few seconds
    (the claim's write lands after the status query answers)."""
    for _ in range(50):
        rows = await pool.fetch(
            "SELECT role, done_at IS NOT NULL AS done FROM inbox_items WHERE claim_id = $1"
            " AND kind = $2 ORDER BY created_at, role",
            claim_id,
            kind,
        )
        found = [(r["role"], r["done"]) for r in rows]
        if found == want:
            break
        await asyncio.sleep(0.1)
    assert found == want, f"{kind}: {found}"


async def refused(handle: WorkflowHandle, action: Action, payload: Any) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await act(handle, action, payload)
    return str(failed.value.cause).removeprefix("ActionNotAllowed: ")


async def test_ca_qme_panel_struck_by_both_sides_books_the_remaining_qme(
    days_env: WorkflowEnvironment, task_queue, pool
):
    handle, status = await waiting_for_the_state(
        days_env, task_queue, "CA-QME", CA_REFERRED, represented=True
    )
    # Ops obtain the panel from the Medical Unit, chased after 10 business days: Wed 7 (1), Thu 8,
    # Fri 9, Mon 12, Tue 13, Wed 14, Thu 15, Fri 16, Mon 19, Tue 20 Mar (10) -> 17:00 PDT Tue
    # 20 Mar = 00:00 UTC Wed 21 Mar.
    assert deadline(status, "state_selection").due_at == datetime(2035, 3, 21, 0, 0, tzinfo=UTC)
    assert await told(pool, status.claim_id, "state_selection_needed") == ["ops"]
    # Ops may not pick one themselves: the state does.
    assert "the state picks the examiner" in await refused(
        handle, Action.ASSIGN, Assign(examiner_id=CA_1)
    )

    panel = RecordStatePanel(reference="QME-1", examiner_ids=PANEL, issued_at=CA_REFERRED)
    status = await act(handle, Action.RECORD_STATE_PANEL, panel)
    assert status.selection is not None and picked(status).phase == "window"
    assert deadline(status, "state_selection").met_at is not None
    assert deadline(status, "panel_window").due_at == WINDOW_ENDS
    assert sorted(await told(pool, status.claim_id, "panel_issued")) == ["insurer", "ops"]

    status = await act(handle, Action.STRIKE, Strike(examiner_id=CA_2, party="insurer"))
    assert picked(status).struck == {"insurer": CA_2} and status.appointment is None
    assert "has struck already" in await refused(
        handle, Action.STRIKE, Strike(examiner_id=CA_3, party="insurer")
    )
    assert "struck from the panel" in await refused(
        handle, Action.STRIKE, Strike(examiner_id=CA_2, party="claimant")
    )
    await act(handle, Action.STRIKE, Strike(examiner_id=CA_3, party="claimant"))
    # LC 4062.2(c): the remaining QME examines; booked at once, by nobody's pick but the rule's.
    status = await wait_for(handle, lambda s: s.appointment is not None)
    assert status.examiner is not None and examiner_of(status).id == CA_1
    window = deadline(status, "panel_window")
    assert window.met_at is not None and not window.breached
    await expect_inbox(
        pool,
        status.claim_id,
        "panel_issued",
        [
            ("insurer", True),
            ("ops", True),
        ],
    )
    await expect_inbox(pool, status.claim_id, "state_selection_needed", [("ops", True)])
    await act_and_finish(handle, Action.WITHDRAW, Withdraw(reason="test done"))
    await keep_history(handle, "ca_qme_panel_struck")


async def test_a_missed_strike_is_lost_and_the_side_that_struck_chooses(
    days_env: WorkflowEnvironment, task_queue, pool
):
    handle, status = await waiting_for_the_state(
        days_env, task_queue, "CA-QME", CA_REFERRED, represented=True
    )
    panel = RecordStatePanel(reference="QME-2", examiner_ids=PANEL, issued_at=CA_REFERRED)
    await act(handle, Action.RECORD_STATE_PANEL, panel)
    await act(handle, Action.STRIKE, Strike(examiner_id=CA_2, party="insurer"))

    await set_clock(days_env, WINDOW_ENDS + timedelta(minutes=1))
    status = await wait_for(handle, lambda s: s.selection.phase == "choosing")
    [closed] = await event_details(pool, status.claim_id, "panel_window_closed")
    assert closed["lost"] == ["claimant"] and closed["chooser"] == "insurer"
    assert closed["remaining"] == [CA_1, CA_3]
    assert "the strike window is closed" in await refused(
        handle, Action.STRIKE, Strike(examiner_id=CA_1, party="claimant")
    )
    assert "the insurer chooses: the claimant let the window pass" in await refused(
        handle, Action.PANEL_CHOICE, PanelChoice(examiner_id=CA_3, party="claimant")
    )
    # The choice is due 2 business days (the escalation grace, operational) after the window
    # closed at Fri 16 Mar 11:00 PDT: Mon 19 (1), Tue 20 (2) -> 17:00 PDT = 00:00 UTC Wed 21 Mar.
    choice = deadline(status, "panel_choice")
    assert choice.due_at == datetime(2035, 3, 21, 0, 0, tzinfo=UTC)
    await expect_inbox(pool, status.claim_id, "panel_choice_needed", [("insurer", False)])

    # Not chosen in time: the insurer and ops are told, and ops' rung starts, 2 business days
    # later: Wed 21 (1), Thu 22 (2) -> 17:00 PDT Thu 22 Mar = 00:00 UTC Fri 23 Mar.
    await set_clock(days_env, datetime(2035, 3, 21, 0, 1, tzinfo=UTC))
    status = await wait_for(handle, lambda s: deadline(s, "panel_choice_escalation") is not None)
    assert deadline(status, "panel_choice").breached
    rung = deadline(status, "panel_choice_escalation")
    assert rung.due_at == datetime(2035, 3, 23, 0, 0, tzinfo=UTC)
    [breach] = await event_details(pool, status.claim_id, "deadline_breached")
    assert breach["deadline"] == "panel_choice" and breach["told"] == ["insurer", "ops"]

    # No appointment notice window ran while the panel was struck and chosen from (nothing to
    # notice): 8 CCR 34(a)'s 5 business days run from the appointment's request, the choice.
    assert deadline(status, "appointment_notice") is None
    await act(handle, Action.PANEL_CHOICE, PanelChoice(examiner_id=CA_3, party="insurer"))
    status = await wait_for(handle, lambda s: s.appointment is not None)
    assert examiner_of(status).id == CA_3
    # From Tue 20 Mar 17:01 PDT: Wed 21 (1), Thu 22, Fri 23, Mon 26, Tue 27 (5) -> 17:00 PDT
    # Tue 27 Mar = 00:00 UTC Wed 28 Mar; met by the booking that sent the notice.
    notice = deadline(status, "appointment_notice")
    assert notice.due_at == datetime(2035, 3, 28, 0, 0, tzinfo=UTC) and notice.met_at is not None
    assert deadline(status, "panel_choice_escalation").met_at is not None
    await expect_inbox(pool, status.claim_id, "panel_choice_needed", [("insurer", True)])
    await act_and_finish(handle, Action.WITHDRAW, Withdraw(reason="test done"))
    await keep_history(handle, "ca_qme_strike_missed")


async def test_an_unrepresented_claimant_chooses_from_the_panel(
    days_env: WorkflowEnvironment, task_queue, pool
):
    handle, status = await waiting_for_the_state(days_env, task_queue, "CA-QME", CA_REFERRED)
    panel = RecordStatePanel(reference="QME-3", examiner_ids=PANEL)
    status = await act(handle, Action.RECORD_STATE_PANEL, panel)
    assert not picked(status).represented
    assert "nobody strikes (LC 4062.1)" in await refused(
        handle, Action.STRIKE, Strike(examiner_id=CA_2, party="insurer")
    )
    assert "the claimant chooses first" in await refused(
        handle, Action.PANEL_CHOICE, PanelChoice(examiner_id=CA_2, party="insurer")
    )
    assert "not on the claim's panel" in await refused(
        handle,
        Action.PANEL_CHOICE,
        PanelChoice(examiner_id="ex-ca-orthopedic-surgery-9", party="claimant"),
    )
    await act(handle, Action.PANEL_CHOICE, PanelChoice(examiner_id=CA_2, party="claimant"))
    status = await wait_for(handle, lambda s: s.appointment is not None)
    assert examiner_of(status).id == CA_2 and picked(status).phase == "selected"
    # The panel is the state's once: a second one is refused.
    assert "already recorded (QME-3)" in await refused(handle, Action.RECORD_STATE_PANEL, panel)
    await act_and_finish(handle, Action.WITHDRAW, Withdraw(reason="test done"))
    await keep_history(handle, "ca_qme_unrepresented_choice")


async def test_tx_dd_waits_for_the_division_with_its_deadline_and_rung(
    days_env: WorkflowEnvironment, task_queue, pool
):
    handle, status = await waiting_for_the_state(days_env, task_queue, "TX-DD", TX_REFERRED)
    # 28 TAC 127.5(a): the order within 10 days -> Fri 16 Mar 2035 16:00 UTC (exact offset).
    due = datetime(2035, 3, 16, 16, 0, tzinfo=UTC)
    # (The referral's instant is the workflow's start, a few milliseconds after the clock set.)
    assert deadline(status, "state_selection").due_at.replace(microsecond=0) == due

    await set_clock(days_env, due + timedelta(minutes=1))
    status = await wait_for(handle, lambda s: deadline(s, "state_selection_escalation") is not None)
    assert deadline(status, "state_selection").breached and status.overdue
    # Ops' rung, 2 business days after Fri 16 Mar 11:00 CDT: Mon 19 (1), Tue 20 (2) -> 17:00 CDT
    # Tue 20 Mar = 22:00 UTC.
    rung_due = datetime(2035, 3, 20, 22, 0, tzinfo=UTC)
    assert deadline(status, "state_selection_escalation").due_at == rung_due
    await set_clock(days_env, rung_due + timedelta(minutes=1))
    # Re-raised until met: Wed 21 (1), Thu 22 (2) -> 17:00 CDT Thu 22 Mar = 22:00 UTC.
    status = await wait_for(
        handle,
        lambda s: (
            deadline(s, "state_selection_escalation").due_at
            == datetime(2035, 3, 22, 22, 0, tzinfo=UTC)
        ),
    )
    breaches = await event_details(pool, status.claim_id, "deadline_breached", want=2)
    assert [b["deadline"] for b in breaches] == [
        "state_selection",
        "state_selection_escalation",
    ]
    assert appointment_none(status)

    order = RecordStateAssignment(reference="DWC-032-1", examiner_id="ex-tx-orthopedic-surgery-2")
    status = await act(handle, Action.RECORD_STATE_ASSIGNMENT, order)
    assert status.examiner is not None and examiner_of(status).id == "ex-tx-orthopedic-surgery-2"
    assert status.appointment is not None and not status.overdue
    assert deadline(status, "state_selection_escalation").met_at is not None
    [recorded] = await event_details(pool, status.claim_id, "state_assignment_recorded")
    assert recorded == {"reference": "DWC-032-1", "examiner_id": "ex-tx-orthopedic-surgery-2"}
    await act_and_finish(handle, Action.WITHDRAW, Withdraw(reason="test done"))
    await keep_history(handle, "tx_dd_state_assigned")


def appointment_none(status: ClaimStatus) -> bool:
    return status.appointment is None and status.examiner is None


async def test_a_pa_ire_examiner_who_cannot_take_the_claim_is_refused_and_replaced(
    days_env: WorkflowEnvironment, task_queue, pool
):
    # The claimant is treated by the second PA orthopedist of the seeded panel: a conflict.
    [treating] = [e.npi for e in seed_panel() if e.id == "ex-pa-orthopedic-surgery-2"]
    handle, status = await waiting_for_the_state(
        days_env, task_queue, "PA-IRE", PA_REFERRED, treating_provider_npis=[treating]
    )
    # 10 business days (operational) from Tue 6 Mar: ... Tue 20 Mar (10) -> 17:00 EDT = 21:00 UTC.
    assert deadline(status, "state_selection").due_at == datetime(2035, 3, 20, 21, 0, tzinfo=UTC)
    await set_clock(days_env, datetime(2035, 3, 7, 15, 0, tzinfo=UTC))  # Wed 7 Mar, 10:00 EST

    wrong = RecordStateAssignment(reference="LIBC-766-1", examiner_id="ex-ny-orthopedic-surgery-1")
    assert await refused(handle, Action.RECORD_STATE_ASSIGNMENT, wrong) == (
        "that examiner cannot take this claim: the examiner is not licensed in the claim's "
        "state; ask the state for another examiner"
    )
    status = await wait_for(handle, lambda s: s.selection.phase == "awaiting_state")
    [refusal] = await event_details(pool, status.claim_id, "state_examiner_refused")
    assert refusal == {"examiner_id": "ex-ny-orthopedic-surgery-1", "rule": "licence"}
    status = await wait_for(handle, lambda s: deadline(s, "state_selection").met_at is None)
    requests = await event_details(pool, status.claim_id, "state_selection_requested", want=2)
    assert [(r["request"], r["replacing"]) for r in requests] == [
        (1, None),
        (2, "ex-ny-orthopedic-surgery-1"),
    ]
    # Asked again from Wed 7 Mar: Thu 8 (1) ... Wed 21 Mar (10) -> 17:00 EDT = 21:00 UTC.
    assert deadline(status, "state_selection").due_at == datetime(2035, 3, 21, 21, 0, tzinfo=UTC)
    assert await told(pool, status.claim_id, "state_selection_needed") == ["ops", "ops"]
    assert appointment_none(status)
    assert "was refused or lost on this claim" in await refused(
        handle, Action.RECORD_STATE_ASSIGNMENT, wrong
    )

    treats = RecordStateAssignment(reference="LIBC-766-2", examiner_id="ex-pa-orthopedic-surgery-2")
    assert await refused(handle, Action.RECORD_STATE_ASSIGNMENT, treats) == (
        "that examiner cannot take this claim: the examiner has a conflict with the claimant "
        "(treats or examined them); ask the state for another examiner"
    )
    await wait_for(handle, lambda s: picked(s).phase == "awaiting_state")
    refusals = await event_details(pool, status.claim_id, "state_examiner_refused", want=2)
    assert refusals[1] == {"examiner_id": "ex-pa-orthopedic-surgery-2", "rule": "conflict"}

    right = RecordStateAssignment(reference="LIBC-766-3", examiner_id="ex-pa-orthopedic-surgery-1")
    status = await act(handle, Action.RECORD_STATE_ASSIGNMENT, right)
    assert examiner_of(status).id == "ex-pa-orthopedic-surgery-1" and status.appointment is not None
    done = ("ops", True)
    await expect_inbox(pool, status.claim_id, "state_selection_needed", [done, done, done])
    await act_and_finish(handle, Action.WITHDRAW, Withdraw(reason="test done"))
    await keep_history(handle, "pa_ire_examiner_refused")


async def test_the_chain_replaces_a_late_examiner_through_the_state_not_the_vendor(
    days_env: WorkflowEnvironment, task_queue, pool
):
    handle, status = await waiting_for_the_state(days_env, task_queue, "PA-IRE", PA_REFERRED)
    order = RecordStateAssignment(reference="LIBC-766-3", examiner_id="ex-pa-orthopedic-surgery-1")
    status = await act(handle, Action.RECORD_STATE_ASSIGNMENT, order)
    await act(handle, Action.CONFIRM_APPOINTMENT, ConfirmAppointment())
    assert status.appointment is not None
    await set_clock(days_env, status.appointment.starts_at + timedelta(minutes=5))
    status = await act(handle, Action.EXAM, ExamOutcome(attended=True))
    # The report is late past its rung: the chain releases the examiner...
    report_due = deadline(status, "report").due_at
    await set_clock(days_env, report_due + timedelta(days=5))
    status = await wait_for(handle, lambda s: s.stage is Stage.SCHEDULING)
    [replaced] = await event_details(pool, status.claim_id, "examiner_replaced")
    assert replaced["examiner_id"] == "ex-pa-orthopedic-surgery-1"
    # ...and books nobody: ops ask the Department for another IRE physician.
    status = await wait_for(
        handle,
        lambda s: (
            len(s.selection.panel) == 0
            and s.selection.phase == "awaiting_state"
            and deadline(s, "state_selection").met_at is None
        ),
    )
    requests = await event_details(pool, status.claim_id, "state_selection_requested", want=2)
    assert [r["replacing"] for r in requests] == [None, "ex-pa-orthopedic-surgery-1"]
    await asyncio.sleep(0.5)
    status = await wait_for(handle, lambda s: True)
    assert appointment_none(status)
    assert "the state picks the examiner" in await refused(
        handle, Action.ASSIGN, Assign(examiner_id="ex-pa-orthopedic-surgery-2")
    )
    second = RecordStateAssignment(reference="LIBC-766-4", examiner_id="ex-pa-orthopedic-surgery-2")
    status = await act(handle, Action.RECORD_STATE_ASSIGNMENT, second)
    assert examiner_of(status).id == "ex-pa-orthopedic-surgery-2" and status.appointment is not None
    await act_and_finish(handle, Action.WITHDRAW, Withdraw(reason="test done"))
    await keep_history(handle, "state_examiner_replaced")


async def test_each_side_strikes_only_for_itself_through_the_api(api: ApiHarness, pool):
    insurer = await api.as_role(Role.INSURER, insurer="acme-ins")
    ops = await api.as_role(Role.OPS)
    body = referral_payload("CA-QME")
    body["claimant"]["represented"] = True
    created = await insurer.post("/v1/claims", json=body)
    assert created.status_code == 201, created.text
    claim_id = created.json()["claim_id"]
    await wait_until(insurer, claim_id, lambda c: c["selection"] is not None)
    panel = {"reference": "QME-9", "examiner_ids": PANEL}
    assert (await post_action(insurer, claim_id, "record-state-panel", panel)).status_code == 403
    recorded = await post_action(ops, claim_id, "record-state-panel", panel)
    assert recorded.status_code == 200, recorded.text
    assert recorded.json()["selection"]["panel"] == PANEL

    for_claimant = {"examiner_id": CA_2, "party": "claimant"}
    for_insurer = {"examiner_id": CA_2, "party": "insurer"}
    forged = await post_action(insurer, claim_id, "strike", for_claimant)
    assert forged.status_code == 403
    assert forged.json()["error"]["message"] == "the insurer role may not act for the claimant"
    assert (await post_action(ops, claim_id, "strike", for_insurer)).status_code == 403
    assert (await post_action(insurer, claim_id, "strike", for_insurer)).status_code == 200
    bad = await post_action(ops, claim_id, "strike", {"examiner_id": CA_3, "party": "attorney"})
    assert bad.status_code == 422
    assert (
        await post_action(ops, claim_id, "strike", {"examiner_id": CA_3, "party": "claimant"})
    ).status_code == 200
    booked = await wait_until(insurer, claim_id, lambda c: c["appointment"] is not None)
    assert booked["examiner"]["id"] == CA_1
    timeline = (await insurer.get(f"/v1/claims/{claim_id}/events")).json()
    strikes = [
        (e["details"]["party"], e["details"]["examiner_id"])
        for e in timeline
        if e["type"] == "panel_struck"
    ]
    assert strikes == [("insurer", CA_2), ("claimant", CA_3)]
    withdrawn = await post_action(insurer, claim_id, "withdraw", {"reason": "test done"})
    assert withdrawn.status_code == 200, withdrawn.text
