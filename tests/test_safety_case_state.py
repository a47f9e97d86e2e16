"""The safety case's state without any server: its ladder, its refusals, and the payload it
carries into a continued run (milliseconds)."""

from __future__ import annotations

import json

import pytest
from temporalio.exceptions import ApplicationError

from domain.models import SafetyCase, SafetyResolve
from domain.refusal import ACTION_NOT_ALLOWED
from domain.safety_case import SafetyCaseContinuation, SafetyCaseState

CASE = SafetyCase(
    claim_id="c-1", level="imminent", toward="self", source="exam", notes="plan", ack_seconds=900
)
RESOLUTION = SafetyResolve(actions_taken=["warm_handoff"], notes="handed to the crisis team")


def test_a_new_case_is_open_and_unacknowledged():
    state = SafetyCaseState(ladder_events=True)
    assert state.status(CASE).model_dump() == {
        "claim_id": "c-1",
        "acknowledged": False,
        "resolved": False,
        "missed_acknowledgements": 0,
    }


def test_missed_windows_follow_ups_and_events_are_numbered_from_one():
    state = SafetyCaseState()
    assert [state.miss_acknowledgement() for _ in range(3)] == [1, 2, 3]
    assert [state.add_follow_up() for _ in range(2)] == [1, 2]
    assert [state.next_event() for _ in range(4)] == [1, 2, 3, 4]
    assert state.status(CASE).missed_acknowledgements == 3


def test_acknowledged_then_resolved():
    state = SafetyCaseState()
    state.acknowledge("dr-1")
    state.resolve(RESOLUTION)
    status = state.status(CASE)
    assert (status.acknowledged, status.resolved) == (True, True)
    assert state.acknowledged_by == "dr-1"


@pytest.mark.parametrize(
    ("prepare", "check", "reason"),
    [
        (lambda s: s.acknowledge("dr-1"), "check_acknowledge", "already acknowledged"),
        (lambda s: None, "check_resolve", "acknowledge the safety case before resolving it"),
        (
            lambda s: (s.acknowledge("dr-1"), s.resolve(RESOLUTION)),
            "check_resolve",
            "already resolved",
        ),
    ],
    ids=["ack twice", "resolve before ack", "resolve twice"],
)
def test_refusals_name_the_reason_and_change_nothing(prepare, check, reason):
    state = SafetyCaseState(missed_acknowledgements=2, event_seq=5)
    prepare(state)
    before = state.model_copy(deep=True)
    with pytest.raises(ApplicationError) as refused:
        getattr(state, check)()
    assert refused.value.type == ACTION_NOT_ALLOWED
    assert reason in str(refused.value)
    assert state == before


def test_a_continued_run_carries_the_ladder_but_never_the_clinical_resolution():
    state = SafetyCaseState(
        acknowledged_by="dr-1",
        missed_acknowledgements=2,
        follow_ups=7,
        event_seq=19,
        ladder_events=True,
    )
    state.resolve(RESOLUTION)
    carried = json.loads(SafetyCaseContinuation(case=CASE, carry=state).model_dump_json())
    # The shape continued runs of landed code were started with: these five fields, no more.
    assert carried["carry"] == {
        "acknowledged_by": "dr-1",
        "missed_acknowledgements": 2,
        "follow_ups": 7,
        "event_seq": 19,
        "ladder_events": True,
    }
    back = SafetyCaseContinuation.model_validate(carried)
    assert back.carry.follow_ups == 7 and not back.carry.resolved
