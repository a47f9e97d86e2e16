"""The state's pick of the examiner as pure rules (`domain.selection`, held by `ClaimState`):
each refusal names its reason and leaves the state as it was; each move goes where LC 4062.1
and 4062.2 say (CA-QME's panel), or back to the state when its examiner is lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.claim_state import ClaimState
from domain.models import (
    AppointmentRef,
    ExaminerRef,
    PanelChoice,
    RecordStateAssignment,
    RecordStatePanel,
    Referral,
    Specialty,
    Stage,
    Strike,
)
from domain.names import Action, DeadlineName
from domain.profiles import PROFILES
from tests.helpers.referrals import referral_payload
from tests.helpers.refusals import refusal_message

T0 = datetime(2035, 3, 6, 18, 0, tzinfo=UTC)
PANEL = RecordStatePanel(reference="QME-1", examiner_ids=["ex-a", "ex-b", "ex-c"])


def claim(jurisdiction: str, *, represented: bool = False) -> ClaimState:
    """A claim of `jurisdiction` whose booking loop took up the state's pick."""
    body = referral_payload(jurisdiction)
    body["claimant"]["represented"] = represented
    state = ClaimState.open(
        Referral.model_validate(body), claim_id="c", workflow_id="ime-claim-c", at=T0
    )
    state.profile = PROFILES[jurisdiction]
    state.enter(Stage.SCHEDULING, T0)
    kind = state.profile.selection
    assert kind != "vendor"
    state.selection.begin(kind, represented)
    state.selection.ask()
    state.set_deadlines({DeadlineName.STATE_SELECTION: T0 + timedelta(days=10)}, T0)
    return state


def refusal(state: ClaimState, action: Action, payload: object = None) -> str | None:
    return refusal_message(state, action, T0, payload)


def with_panel(represented: bool) -> ClaimState:
    state = claim("CA-QME", represented=represented)
    state.selection.record_panel(PANEL, state.deadlines, T0)
    state.set_deadlines({DeadlineName.PANEL_WINDOW: T0 + timedelta(days=10)}, T0)
    return state


def test_the_state_pick_refuses_a_vendor_or_ops_pick_and_the_wrong_kind_of_record():
    state = claim("TX-DD")
    assert refusal(state, Action.ASSIGN) == (
        "the state picks the examiner of this claim: record the state's assignment instead"
    )
    assert refusal(state, Action.RECORD_STATE_PANEL, PANEL) == (
        "the state issues no panel on this claim"
    )
    assert refusal(state, Action.STRIKE, Strike(examiner_id="ex-a", party="insurer")) == (
        "the state issues no panel on this claim"
    )
    order = RecordStateAssignment(reference="DWC-1", examiner_id="ex-a")
    assert refusal(state, Action.RECORD_STATE_ASSIGNMENT, order) is None
    state.selection.record_assignment(order, state.deadlines, T0)
    assert state.deadlines[DeadlineName.STATE_SELECTION].met_at == T0
    assert refusal(state, Action.RECORD_STATE_ASSIGNMENT, order) == (
        "the state's assignment is already recorded (DWC-1); a new one is asked for when its "
        "examiner is lost"
    )
    ca = claim("CA-QME")
    assert refusal(ca, Action.ASSIGN) == (
        "the state picks the examiner of this claim: record the state's panel "
        "(record-state-panel) instead"
    )
    assert refusal(ca, Action.RECORD_STATE_ASSIGNMENT, order) == (
        "the state assigns no examiner on this claim"
    )
    assert refusal(ca, Action.STRIKE, Strike(examiner_id="ex-a", party="insurer")) == (
        "the claimant is not represented: they choose one examiner of the panel "
        "(panel-choice), nobody strikes (LC 4062.1)"
    )
    represented = claim("CA-QME", represented=True)
    assert refusal(represented, Action.STRIKE, Strike(examiner_id="ex-a", party="insurer")) == (
        "no panel is recorded yet"
    )


def test_a_claim_not_yet_taken_up_by_its_booking_asks_to_retry():
    body = referral_payload("PA-IRE")
    state = ClaimState.open(
        Referral.model_validate(body), claim_id="c", workflow_id="ime-claim-c", at=T0
    )
    state.profile = PROFILES["PA-IRE"]
    state.enter(Stage.SCHEDULING, T0)
    order = RecordStateAssignment(reference="LIBC-766", examiner_id="ex-a")
    assert refusal(state, Action.RECORD_STATE_ASSIGNMENT, order) == (
        "the claim is still being registered; retry shortly"
    )


def test_both_strikes_leave_the_remaining_examiner():
    state = with_panel(represented=True)
    insurer = Strike(examiner_id="ex-b", party="insurer")
    assert refusal(state, Action.STRIKE, insurer) is None
    assert not state.selection.strike(insurer, state.deadlines, T0)
    assert state.selection.waits_for_state
    assert refusal(state, Action.STRIKE, Strike(examiner_id="ex-c", party="insurer")) == (
        "the insurer has struck already (ex-b)"
    )
    assert refusal(state, Action.STRIKE, Strike(examiner_id="ex-b", party="claimant")) == (
        "that examiner is struck from the panel"
    )
    assert refusal(state, Action.STRIKE, Strike(examiner_id="ex-z", party="claimant")) == (
        "that examiner is not on the claim's panel"
    )
    assert refusal(
        state, Action.PANEL_CHOICE, PanelChoice(examiner_id="ex-a", party="insurer")
    ) == ("the strike window is open: strike one examiner (strike)")
    assert state.selection.strike(Strike(examiner_id="ex-c", party="claimant"), state.deadlines, T0)
    assert state.selection.examiner_id == "ex-a" and not state.selection.waits_for_state
    assert state.deadlines[DeadlineName.PANEL_WINDOW].met_at == T0


@pytest.mark.parametrize(
    ("struck", "lost", "chooser", "selected"),
    [
        # The claimant's side let the window pass: the insurer, who struck, chooses.
        ({"insurer": "ex-b"}, ["claimant"], "insurer", None),
        # Neither struck: either side may choose from the three.
        ({}, ["insurer", "claimant"], "either", None),
    ],
)
def test_a_strike_not_made_in_time_is_lost(struck, lost, chooser, selected):
    state = with_panel(represented=True)
    for party, examiner in struck.items():
        state.selection.strike(Strike(examiner_id=examiner, party=party), state.deadlines, T0)
    assert state.selection.window_closed(state.deadlines, T0) == lost
    assert state.selection.chooser == chooser and state.selection.examiner_id == selected
    assert refusal(state, Action.STRIKE, Strike(examiner_id="ex-a", party="claimant")) == (
        "the strike window is closed"
    )
    if chooser == "insurer":
        wrong = PanelChoice(examiner_id="ex-a", party="claimant")
        assert refusal(state, Action.PANEL_CHOICE, wrong) == (
            "the insurer chooses: the claimant let the window pass"
        )
    assert (
        refusal(state, Action.PANEL_CHOICE, PanelChoice(examiner_id="ex-a", party="insurer"))
        is None
    )


def test_an_unrepresented_claimant_chooses_and_else_the_insurer_does():
    state = with_panel(represented=False)
    assert refusal(
        state, Action.PANEL_CHOICE, PanelChoice(examiner_id="ex-a", party="insurer")
    ) == (
        "the claimant chooses first; the insurer chooses only if the window passes without a "
        "choice (LC 4062.1(c))"
    )
    assert (
        refusal(state, Action.PANEL_CHOICE, PanelChoice(examiner_id="ex-a", party="claimant"))
        is None
    )
    assert state.selection.window_closed(state.deadlines, T0) == ["claimant"]
    assert state.selection.chooser == "insurer"
    assert refusal(
        state, Action.PANEL_CHOICE, PanelChoice(examiner_id="ex-a", party="claimant")
    ) == ("the insurer chooses: the claimant may not")


def test_an_examiner_lost_sends_ops_back_to_the_state_and_is_never_named_again():
    state = claim("PA-IRE")
    order = RecordStateAssignment(reference="LIBC-766", examiner_id="ex-a")
    state.selection.record_assignment(order, state.deadlines, T0)
    ref = ExaminerRef(id="ex-a", name="Dr. A", specialty=Specialty.ORTHOPEDIC_SURGERY)
    booked = AppointmentRef(
        id="c:1",
        starts_at=T0 + timedelta(days=3),
        ends_at=T0 + timedelta(days=3, hours=1),
        location="x",
    )
    state.publish_booking(ref, booked, T0)
    state.decline(T0 + timedelta(hours=1))  # the state's examiner declines
    assert state.selection.waits_for_state and not state.selection.asked
    assert state.selection.refused == ["ex-a"] and state.selection.examiner_id is None
    assert refusal(state, Action.RECORD_STATE_ASSIGNMENT, order) == (
        "examiner ex-a was refused or lost on this claim; ask the state for another"
    )
    # A vendor claim's examiner declining changes nothing of the kind.
    demo = ClaimState.open(
        Referral.model_validate(referral_payload("DEMO")),
        claim_id="d",
        workflow_id="ime-claim-d",
        at=T0,
    )
    demo.profile = PROFILES["DEMO"]
    demo.enter(Stage.SCHEDULING, T0)
    demo.publish_booking(ref, booked, T0)
    demo.decline(T0)
    assert not demo.selection.by_state and demo.status().selection is None
