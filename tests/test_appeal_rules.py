"""The appeal of a denial as pure rules (`domain.appeal` through `ClaimState`): each refusal names
its reason and leaves the state unchanged; a withdrawal keeps the denial; a new IME on appeal
excludes the examiners who examined, has its own addenda and no-shows, and missed past the limit
leaves the appeal to be decided on the file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.appeal import new_exam, reopen
from domain.claim_state import ClaimState
from domain.models import (
    Appeal,
    AppealDecision,
    AppointmentRef,
    Caller,
    DecisionInput,
    ExaminerRef,
    ExtendDecision,
    Outcome,
    Recommendation,
    Referral,
    ReviewResult,
    Specialty,
    Stage,
)
from domain.names import Action, DeadlineName, Role
from domain.profiles import PROFILES
from tests.helpers.referrals import referral_payload
from tests.helpers.refusals import refusal_message

T0 = datetime(2035, 11, 1, 14, 0, tzinfo=UTC)
EXAMINER = ExaminerRef(id="ex-1", name="Dr. One", specialty=Specialty.ORTHOPEDIC_SURGERY)
REVIEWER = Caller(role=Role.REVIEWER, key_id="k-rev-1")
OTHER_REVIEWER = Caller(role=Role.REVIEWER, user_id="u-rev-2", key_id="k-shared")
DENIER = Caller(role=Role.INSURER, key_id="k-adj-1", insurer_id="acme-ins")
OTHER_ADJUSTER = Caller(role=Role.INSURER, user_id="u-adj-2", insurer_id="acme-ins")
WINDOW_ENDS = T0 + timedelta(days=180)


def slot(n: int) -> AppointmentRef:
    at = T0 - timedelta(days=20 - n)
    return AppointmentRef(id=f"c:{n}", starts_at=at, ends_at=at + timedelta(hours=1), location="x")


def denied(jurisdiction: str = "ERISA-LTD", *, by: Caller | None = DENIER) -> ClaimState:
    """A claim examined by ex-1, its report accepted by REVIEWER, denied by `by` at T0."""
    referral = Referral.model_validate(referral_payload(jurisdiction))
    state = ClaimState.open(referral, claim_id="c", workflow_id="ime-claim-c", at=T0)
    state.profile = PROFILES[jurisdiction]
    state.enter(Stage.SCHEDULING, T0)
    state.publish_booking(EXAMINER, slot(1), T0)
    state.confirm(T0)
    state.attended(T0)
    state.submit_report(Recommendation.DENY, T0)
    state.appeal.note_review(REVIEWER)
    state.accept_report(T0)
    state.decide(DecisionInput(outcome="denied", reason_code="X", acted_by=by), T0)
    if state.profile.grants_appeal:
        assert state.decision is not None
        state.appeal.open_window(state.decision, WINDOW_ENDS)
        state.appeal.accept()
    return state


def appealed(**kwargs) -> ClaimState:
    state = denied(**kwargs)
    reopen(state, Appeal(received_at=T0 + timedelta(days=10), reason="new records"))
    state.set_deadlines({DeadlineName.APPEAL_DECISION: T0 + timedelta(days=55)}, T0)
    return state


def refused(state: ClaimState, action: Action, payload: object, now: datetime) -> str:
    """The refusal's message; the state must be exactly as it was."""
    before = state.model_copy(deep=True)
    message = refusal_message(state, action, now, payload)
    assert message is not None, f"{action} was allowed"
    assert state == before
    return message


def appeal_at(received: datetime) -> Appeal:
    return Appeal(received_at=received, reason="disagree")


NOW = T0 + timedelta(days=30)


@pytest.mark.parametrize(
    ("received", "why"),
    [
        (T0 - timedelta(days=1), "the appeal's received_at is before the denial it appeals"),
        (NOW + timedelta(minutes=1), "the appeal's received_at is in the future"),
    ],
)
def test_an_appeal_out_of_its_time_is_refused(received: datetime, why: str):
    assert refused(denied(), Action.APPEAL, appeal_at(received), NOW) == why


def test_an_appeal_received_after_the_window_is_refused():
    late = WINDOW_ENDS + timedelta(hours=1)
    message = refused(denied(), Action.APPEAL, appeal_at(late), late + timedelta(hours=1))
    assert message == "the appeal was received after its window ended (2036-04-29T14:00:00+00:00)"


def test_an_appeal_before_the_window_opens_or_after_it_lapsed_is_refused():
    closing = denied()
    closing.appeal.accepting = False  # the closing steps are still being recorded
    assert refused(closing, Action.APPEAL, appeal_at(NOW), NOW) == (
        "the denial is still being recorded; retry shortly"
    )
    lapsed = denied()
    lapsed.appeal.lapse()
    assert refused(lapsed, Action.APPEAL, appeal_at(NOW), NOW) == (
        "the appeal window ended on 2036-04-29T14:00:00+00:00"
    )


def test_only_a_denial_under_a_profile_that_grants_an_appeal_may_be_appealed():
    assert refused(denied("NY-WC"), Action.APPEAL, appeal_at(NOW), NOW) == (
        "NY-WC grants no appeal through this service: the claimant appeals as the decision "
        "letter says"
    )
    approved = denied()
    assert approved.decision is not None
    approved.decision = approved.decision.model_copy(update={"outcome": "approved"})
    assert refused(approved, Action.APPEAL, appeal_at(NOW), NOW) == (
        "only a denied claim may be appealed, once it is decided"
    )
    assert refused(appealed(), Action.APPEAL, appeal_at(NOW), NOW) == (
        "this claim's denial was appealed already"
    )


def test_the_review_on_appeal_is_someone_elses_and_neither_sends_the_report_back():
    state = appealed()
    by_first = ReviewResult(result="accepted", acted_by=REVIEWER)
    assert refused(state, Action.REVIEW, by_first, NOW) == (
        "the appeal is reviewed by someone who did not review this claim before"
    )
    nobody = ReviewResult(result="accepted")
    assert refused(state, Action.REVIEW, nobody, NOW).startswith("the appeal is reviewed by")
    addendum = ReviewResult(result="addendum_requested", reasons=["x"], acted_by=OTHER_REVIEWER)
    assert "not sent back" in refused(state, Action.REVIEW, addendum, NOW)
    # A person signed in is told apart from a key they share with others (their account).
    assert refusal_message(state, Action.REVIEW, NOW, by_first.model_copy(
        update={"acted_by": OTHER_REVIEWER})) is None  # fmt: skip


def test_a_new_exam_is_asked_only_on_appeal():
    state = denied()
    state.stage = Stage.REVIEW  # as a claim's first review stands
    state.closing = False
    review = ReviewResult(result="new_exam_requested", acted_by=REVIEWER)
    assert refused(state, Action.REVIEW, review, NOW) == (
        "a new examination is asked for only on appeal"
    )


def test_the_decision_on_appeal_waits_for_the_review_and_is_not_the_deniers():
    state = appealed()
    overturn = AppealDecision(outcome="overturned", reason_code="X", acted_by=OTHER_ADJUSTER)
    assert refused(state, Action.APPEAL_DECISION, overturn, NOW) == (
        "the appeal is decided once its review is recorded"
    )
    state.appeal.reviewed("accepted")
    by_denier = overturn.model_copy(update={"acted_by": DENIER})
    assert refused(state, Action.APPEAL_DECISION, by_denier, NOW) == (
        "the appeal is decided by someone other than who made the denial"
    )
    assert refusal_message(state, Action.APPEAL_DECISION, NOW, overturn) is None
    unknown = appealed(by=None)
    unknown.appeal.reviewed("accepted")
    assert refused(unknown, Action.APPEAL_DECISION, overturn, NOW) == (
        "who made the denial is not known, so the appeal cannot be decided here"
    )


def test_the_decision_on_appeal_is_extended_once_and_before_it_is_due():
    state = appealed()
    extension = ExtendDecision(reason="records awaited", acted_by=OTHER_ADJUSTER)
    assert refusal_message(state, Action.EXTEND_DECISION, NOW, extension) is None
    late = T0 + timedelta(days=55)
    assert refused(state, Action.EXTEND_DECISION, extension, late) == (
        "the appeal's decision period has ended; an extension must be taken before it ends "
        "(2035-12-26T14:00:00+00:00)"
    )
    state.appeal.extend()
    assert refused(state, Action.EXTEND_DECISION, extension, NOW) == (
        "the decision on appeal was extended already (once allowed)"
    )


def test_a_withdrawal_during_the_appeal_keeps_the_denial():
    state = appealed()
    state.close(Outcome.WITHDRAWN, NOW)
    assert state.outcome is Outcome.APPEAL_WITHDRAWN and state.appeal.phase == "withdrawn"
    assert state.decision is not None and state.decision.outcome == "denied"


def test_a_new_ime_on_appeal_is_another_examiners_with_its_own_limits():
    state = appealed()
    state.addenda = 2  # the first report used every addendum
    new_exam(state, NOW)
    assert (state.stage, state.examiner, state.appointment) == (Stage.SCHEDULING, None, None)
    assert "ex-1" in state.excluded_examiners
    assert state.addenda_of_this_report == 0 and state.wants_addendum(["causation: missing"])
    other = ExaminerRef(id="ex-2", name="Dr. Two", specialty=Specialty.ORTHOPEDIC_SURGERY)
    for n in range(1, PROFILES["ERISA-LTD"].max_no_shows + 2):
        state.publish_booking(other, slot(n + 1), NOW)
        state.confirm(NOW)
        state.no_show(NOW)
    # Missed past the limit: not closed for non-cooperation, decided on the file.
    assert state.stage is Stage.APPEAL and state.appeal.phase == "deciding"
    assert state.outcome is None
