"""The claim state's rules without any server: every stage move and every refusal (milliseconds)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from temporalio.exceptions import ApplicationError

from domain.appeal import reopen
from domain.claim_state import ClaimState, IllegalTransition
from domain.models import (
    Appeal,
    AppointmentRef,
    Caller,
    DecisionInput,
    ExaminerRef,
    ExamReport,
    Outcome,
    Recommendation,
    Referral,
    ReviewResult,
    Specialty,
    Stage,
)
from domain.names import Action, DeadlineName, Recipient, Role, Template
from domain.profiles import PROFILES
from tests.helpers.referrals import referral_payload
from tests.helpers.refusals import refusal_message

T0 = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
EXAMINER = ExaminerRef(id="ex-1", name="Dr. One", specialty=Specialty.ORTHOPEDIC_SURGERY)


def appointment(n: int = 1, starts_at: datetime = T0 + timedelta(hours=1)) -> AppointmentRef:
    return AppointmentRef(
        id=f"c:{n}", starts_at=starts_at, ends_at=starts_at + timedelta(hours=1), location="x"
    )


def new_state(jurisdiction: str = "DEMO") -> ClaimState:
    referral = Referral.model_validate(referral_payload(jurisdiction))
    return ClaimState.open(referral, claim_id="c", workflow_id="ime-claim-c", at=T0)


def registered(jurisdiction: str = "DEMO") -> ClaimState:
    state = new_state(jurisdiction)
    state.profile = PROFILES[jurisdiction]
    state.enter(Stage.SCHEDULING, T0)
    return state


def at_stage(stage: Stage) -> ClaimState:
    """A claim walked along the happy path to `stage`."""
    state = registered()
    if stage is Stage.REFERRAL:
        return new_state()
    path = [Stage.SCHEDULING, Stage.EXAM, Stage.REPORT, Stage.REVIEW, Stage.DECISION]
    if stage is Stage.CLOSED:
        state.close(Outcome.WITHDRAWN, T0)
        return state
    if stage is Stage.APPEAL:  # denied, and appealed the next day within its window
        state = at_stage(Stage.DECISION)
        state.decide(DecisionInput(outcome="denied", reason_code="IME_NOT_RELATED"), T0)
        assert state.decision is not None
        state.appeal.open_window(state.decision, T0 + timedelta(days=2))
        appeal = Appeal(received_at=T0 + timedelta(days=1), reason="new records")
        state.appeal.accept()
        reopen(state, appeal)
        return state
    state.publish_booking(EXAMINER, appointment(), T0)
    for step in path[1 : path.index(stage) + 1]:
        {
            Stage.EXAM: lambda: state.confirm(T0),
            Stage.REPORT: lambda: state.attended(T0),
            Stage.REVIEW: lambda: state.submit_report(Recommendation.APPROVE, T0),
            Stage.DECISION: lambda: state.accept_report(T0),
        }[step]()
    assert state.stage is stage
    return state


def refusal(state: ClaimState, action: Action, now: datetime = T0, payload=None) -> str | None:
    return refusal_message(state, action, now, payload)


# --- stage moves ------------------------------------------------------------------------------


def test_happy_path_moves_through_every_stage_in_order():
    state = registered()
    seen = [state.stage]
    assert state.needs_booking
    assert state.publish_booking(EXAMINER, appointment(), T0) is None
    assert not state.needs_booking
    state.confirm(T0)
    seen.append(state.stage)
    state.attended(T0)
    seen.append(state.stage)
    state.submit_report(Recommendation.APPROVE, T0)
    seen.append(state.stage)
    state.accept_report(T0)
    seen.append(state.stage)
    state.decide(DecisionInput(outcome="approved", reason_code="OK"), T0 + timedelta(days=1))
    seen.append(state.stage)
    assert seen == [
        Stage.SCHEDULING,
        Stage.EXAM,
        Stage.REPORT,
        Stage.REVIEW,
        Stage.DECISION,
        Stage.CLOSED,
    ]
    assert (state.stage, state.outcome) == (Stage.CLOSED, Outcome.APPROVED)
    assert state.decision is not None and state.decision.decided_at == T0 + timedelta(days=1)
    assert state.status().status == "closed"


# The stage moves of PRODUCT §3, written out from the spec (not read from `domain.lifecycle`):
# each open stage and the stages that may follow it. Every open stage may close (withdrawal,
# §3 "Withdraw is possible at any open stage").
MOVES: dict[Stage, set[Stage]] = {
    # The referral is validated and registered: scheduling starts.
    Stage.REFERRAL: {Stage.SCHEDULING, Stage.CLOSED},
    # Booked again (a declined, expired or replaced booking); confirmed -> the exam.
    Stage.SCHEDULING: {Stage.SCHEDULING, Stage.EXAM, Stage.CLOSED},
    # No-show or reschedule -> booked again; attended -> the report; no-shows past the limit close
    # (on appeal: the appeal is decided on the file).
    Stage.EXAM: {Stage.SCHEDULING, Stage.REPORT, Stage.APPEAL, Stage.CLOSED},
    # Filed -> review; sent back by the automatic QA -> the report again; late past the grace ->
    # the examiner replaced and a new exam booked (CA 8 CCR 38 style).
    Stage.REPORT: {Stage.REPORT, Stage.REVIEW, Stage.SCHEDULING, Stage.CLOSED},
    # Accepted -> the decision; an addendum requested -> the report; a new IME's report on
    # appeal accepted -> back to the appeal.
    Stage.REVIEW: {Stage.REPORT, Stage.DECISION, Stage.APPEAL, Stage.CLOSED},
    # The adjuster's decision closes the claim.
    Stage.DECISION: {Stage.CLOSED},
    # Issue 19: the reviewer on appeal asks for a new IME -> scheduling; decided -> closed.
    Stage.APPEAL: {Stage.SCHEDULING, Stage.CLOSED},
}


def test_every_open_stage_has_its_moves_written_out():
    assert set(MOVES) | {Stage.CLOSED} == set(Stage)


@pytest.mark.parametrize("origin", list(MOVES))
@pytest.mark.parametrize("target", list(Stage))
def test_only_the_moves_of_product_section_3_are_possible(origin: Stage, target: Stage):
    state = at_stage(origin)
    if target in MOVES[origin]:
        state.enter(target, T0)
        assert state.stage is target
    else:
        with pytest.raises(IllegalTransition):
            state.enter(target, T0)
        assert state.stage is origin


def test_nothing_reopens_a_closed_claim():
    state = at_stage(Stage.CLOSED)
    state.enter(Stage.SCHEDULING, T0)
    state.request_addendum(T0)
    assert state.stage is Stage.CLOSED and state.closing


def test_no_shows_rebook_until_the_limit_then_close_for_non_cooperation():
    state = at_stage(Stage.EXAM)
    limit = PROFILES["DEMO"].max_no_shows
    for n in range(1, limit + 1):
        assert state.no_show(T0) == n
        assert (state.stage, state.appointment) == (Stage.SCHEDULING, None)
        state.publish_booking(EXAMINER, appointment(n + 1), T0)
        state.confirm(T0)
    state.no_show(T0)
    assert (state.stage, state.outcome) == (Stage.CLOSED, Outcome.NON_COOPERATION)


def test_decline_and_reschedule_release_the_appointment():
    state = at_stage(Stage.SCHEDULING)
    released, examiner_id = state.decline(T0)
    assert (released.id, examiner_id, state.declined_by) == ("c:1", "ex-1", ["ex-1"])
    assert state.needs_booking and state.examiner is None
    state.publish_booking(EXAMINER, appointment(2), T0)
    state.confirm(T0)
    assert state.release_appointment(T0).id == "c:2"
    assert state.stage is Stage.SCHEDULING and state.needs_booking


def test_a_new_booking_replaces_the_unconfirmed_one():
    state = at_stage(Stage.SCHEDULING)
    replaced = state.publish_booking(EXAMINER, appointment(2), T0)
    assert replaced is not None and replaced.id == "c:1"
    assert state.appointment is not None and state.appointment.id == "c:2"
    assert state.next_booking_attempt() == 1


def test_addenda_go_back_to_report_until_the_profile_limit():
    state = at_stage(Stage.REVIEW)
    limit = PROFILES["DEMO"].max_addenda
    for n in range(1, limit + 1):
        assert state.request_addendum(T0) == n and state.stage is Stage.REPORT
        assert state.wants_addendum(["causation: missing"]) is (n < limit)
        state.submit_report(None, T0)
    assert not state.wants_addendum([])


# --- refusals ---------------------------------------------------------------------------------


OPEN = {
    Stage.REFERRAL,
    Stage.SCHEDULING,
    Stage.EXAM,
    Stage.REPORT,
    Stage.REVIEW,
    Stage.DECISION,
    Stage.APPEAL,
}
# Where each claim action may be taken (PRODUCT §3 and §6), written out from the spec (not read
# from `domain.lifecycle`). The safety case's own actions (ack, resolve) are not claim actions.
WHERE: dict[Action, set[Stage]] = {
    Action.ASSIGN: {Stage.SCHEDULING},  # ops choose the examiner when automation can't
    Action.CONFIRM_APPOINTMENT: {Stage.SCHEDULING},
    Action.DECLINE_APPOINTMENT: {Stage.SCHEDULING},
    Action.RESCHEDULE: {Stage.SCHEDULING, Stage.EXAM},  # before the exam, booked or confirmed
    Action.EXAM: {Stage.EXAM},
    Action.REPORT: {Stage.REPORT},
    Action.REVIEW: {Stage.REVIEW, Stage.APPEAL},  # in APPEAL: the review on appeal
    Action.DECISION: {Stage.DECISION},
    # On appeal: the decision on appeal's one extension (in any stage while it is under way).
    Action.EXTEND_DECISION: {Stage.DECISION, Stage.APPEAL},
    Action.WITHDRAW: OPEN,  # "at any open stage"
    Action.SAFETY_CONCERN: OPEN,  # "at any open stage"
    # Once a report is filed (REPORT again after an addendum request), while the claim is open.
    Action.REQUEST_REPORT_COPY: {Stage.REPORT, Stage.REVIEW, Stage.DECISION, Stage.APPEAL},
    # About the booked exam, before it is held.
    Action.PROCEED_WITHOUT_RECORDS: {Stage.SCHEDULING, Stage.EXAM},
    Action.INTERPRETER_BOOKED: {Stage.SCHEDULING, Stage.EXAM},
    # Where the state picks the examiner: before the booking.
    Action.RECORD_STATE_PANEL: {Stage.SCHEDULING},
    Action.RECORD_STATE_ASSIGNMENT: {Stage.SCHEDULING},
    Action.STRIKE: {Stage.SCHEDULING},
    Action.PANEL_CHOICE: {Stage.SCHEDULING},
    # Issue 19: a denial's appeal reopens the closed claim; it is decided on appeal.
    Action.APPEAL: {Stage.CLOSED},
    Action.APPEAL_DECISION: {Stage.APPEAL},
}
# What a DEMO claim (the vendor picks) answers to the state's actions in SCHEDULING.
NO_STATE_PICK = {
    Action.RECORD_STATE_PANEL: "the state issues no panel on this claim",
    Action.RECORD_STATE_ASSIGNMENT: "the state assigns no examiner on this claim",
    Action.STRIKE: "the state issues no panel on this claim",
    Action.PANEL_CHOICE: "the state issues no panel on this claim",
}


def test_every_claim_action_has_its_stages_written_out():
    assert set(WHERE) | {Action.SAFETY_ACK, Action.SAFETY_RESOLVE} == set(Action)


@pytest.mark.parametrize("stage", list(Stage))
@pytest.mark.parametrize("action", list(WHERE))
def test_each_action_is_refused_outside_its_stages(stage: Stage, action: Action):
    state = at_stage(stage)
    # Past the appointment's start, so only the stage decides.
    message = refusal(state, action, now=T0 + timedelta(days=1))
    if action is Action.SAFETY_CONCERN and stage is Stage.REFERRAL:
        assert message == "the claim is still being registered"
    elif action is Action.EXTEND_DECISION and stage is Stage.DECISION:
        assert message == "no decision extension left under DEMO (0 allowed)"
    elif action is Action.PROCEED_WITHOUT_RECORDS and stage in WHERE[action]:
        assert message == "DEMO sets no records lead"
    elif action is Action.INTERPRETER_BOOKED and stage in WHERE[action]:
        assert message == "no appointment notice of this booking is waiting for an interpreter"
    elif action is Action.APPEAL and stage is not Stage.REFERRAL:
        # Never a denial in its window here: what the refusal says instead.
        assert message == (
            "this claim's denial was appealed already"
            if stage is Stage.APPEAL
            else "only a denied claim may be appealed, once it is decided"
        )
    elif action is Action.APPEAL:
        assert message == "the claim is still being registered"
    elif action is Action.APPEAL_DECISION and stage is Stage.APPEAL:
        assert message == "the appeal is decided once its review is recorded"
    elif action in NO_STATE_PICK and stage in WHERE[action]:
        assert message == NO_STATE_PICK[action]
    elif stage in WHERE[action]:
        assert message is None
    elif stage is Stage.CLOSED:
        assert message in ("the claim is already closed", "the claim is closed") or (
            message or ""
        ).startswith("not allowed in stage CLOSED")
    else:
        assert message is not None and message.startswith(f"not allowed in stage {stage.value}")


def test_refusals_name_the_reason():
    state = at_stage(Stage.SCHEDULING)
    assert refusal(state, Action.DECISION) == (
        "not allowed in stage SCHEDULING; allowed in DECISION"
    )
    assert refusal(at_stage(Stage.EXAM), Action.RESCHEDULE) is None
    assert "SCHEDULING or EXAM" in (refusal(at_stage(Stage.REPORT), Action.RESCHEDULE) or "")

    unbooked = registered()
    assert refusal(unbooked, Action.CONFIRM_APPOINTMENT) == "no appointment is booked yet"
    assert refusal(unbooked, Action.DECLINE_APPOINTMENT) == "no appointment is booked yet"
    assert refusal(unbooked, Action.ASSIGN) is None

    exam = at_stage(Stage.EXAM)
    assert exam.appointment is not None
    assert "once the appointment has started" in (refusal(exam, Action.EXAM) or "")
    assert refusal(exam, Action.EXAM, now=exam.appointment.starts_at) is None


def test_a_closing_claim_refuses_everything_but_what_it_already_does():
    state = at_stage(Stage.DECISION)
    state.begin_closing()
    assert refusal(state, Action.DECISION) == "the claim is closing"
    assert refusal(state, Action.WITHDRAW) == "the claim is already closed"
    assert refusal(state, Action.SAFETY_CONCERN) == "the claim is closed"


def test_a_claim_registering_refuses_what_needs_its_profile_but_may_be_withdrawn():
    state = new_state()
    assert refusal(state, Action.SAFETY_CONCERN) == "the claim is still being registered"
    assert refusal(state, Action.WITHDRAW) is None


def test_the_reviewer_cannot_ask_for_more_addenda_than_the_profile_allows():
    state = at_stage(Stage.REVIEW)
    ask = ReviewResult(result="addendum_requested", reasons=["unclear"])
    state.addenda = PROFILES["DEMO"].max_addenda
    assert "addendum limit (2)" in (refusal(state, Action.REVIEW, payload=ask) or "")
    assert refusal(state, Action.REVIEW, payload=ReviewResult(result="accepted")) is None


def test_no_decision_while_on_safety_hold():
    state = at_stage(Stage.DECISION)
    case = state.open_safety_case()
    assert case == "ime-claim-c-safety-1"
    assert "safety hold" in (refusal(state, Action.DECISION) or "")
    assert state.end_safety_case(case) is True
    assert refusal(state, Action.DECISION) is None


def test_decision_extensions_are_limited_by_the_profile():
    state = registered("ERISA-LTD")
    state.publish_booking(EXAMINER, appointment(), T0)
    state.confirm(T0)
    state.attended(T0)
    state.submit_report(None, T0)
    state.accept_report(T0)
    assert state.stage is Stage.DECISION
    assert [state.start_extension() for _ in range(2)] == [1, 2]
    assert (
        refusal(state, Action.EXTEND_DECISION)
        == "no decision extension left under ERISA-LTD (2 allowed)"
    )
    assert "no decision extension left under DEMO" in (
        refusal(at_stage(Stage.DECISION), Action.EXTEND_DECISION) or ""
    )


def test_an_action_that_waited_is_refused_if_the_appointment_changed():
    state = at_stage(Stage.SCHEDULING)
    seen = state.appointment
    state.check_same_appointment(seen)
    state.publish_booking(EXAMINER, appointment(2), T0)
    with pytest.raises(ApplicationError, match="appointment changed"):
        state.check_same_appointment(seen)


def test_safety_actions_are_not_claim_actions():
    with pytest.raises(ValueError):
        at_stage(Stage.EXAM).check(Action.SAFETY_ACK, T0)


# --- deadlines --------------------------------------------------------------------------------


def test_deadlines_remind_at_the_profile_fraction_and_are_met_when_the_stage_is_left():
    state = at_stage(Stage.REPORT)
    state.set_deadlines({DeadlineName.REPORT: T0 + timedelta(seconds=20)}, T0)
    report = state.deadlines[DeadlineName.REPORT]
    assert report.remind_at == T0 + timedelta(seconds=15)  # 75 % of the window
    assert state.active_deadline() is report and state.wake_at(report) == report.remind_at
    state.mark_reminded(report)
    assert state.wake_at(report) == report.due_at
    assert state.status().next_deadline == report.due_at and not state.overdue

    state.mark_breached(report)
    assert state.overdue and state.active_deadline() is None
    assert state.deadline_owner(report) is Recipient.EXAMINER
    status = state.status()
    assert status.overdue and status.next_deadline is None

    state.submit_report(None, T0 + timedelta(seconds=30))
    assert report.met_at == T0 + timedelta(seconds=30)
    assert not state.overdue  # the late step is done


def test_deadlines_of_a_stage_already_left_are_not_started():
    state = at_stage(Stage.REVIEW)
    state.accept_report(T0)
    state.set_deadlines_in(Stage.REVIEW, {DeadlineName.REVIEW: T0 + timedelta(days=1)}, T0)
    assert DeadlineName.REVIEW not in state.deadlines


def test_a_deadline_already_past_when_set_has_no_reminder():
    state = at_stage(Stage.EXAM)
    state.set_deadlines({DeadlineName.EXAM_OUTCOME: T0 - timedelta(seconds=1)}, T0)
    assert state.deadlines[DeadlineName.EXAM_OUTCOME].remind_at is None


# --- what callers see -------------------------------------------------------------------------


def test_status_shows_the_state_and_every_event_bumps_the_version():
    state = at_stage(Stage.EXAM)
    assert state.next_event(T0 + timedelta(minutes=1)) == 1
    status = state.status()
    assert (status.stage, status.status, status.version) == (Stage.EXAM, "open", 1)
    assert status.updated_at == T0 + timedelta(minutes=1) and status.created_at == T0
    assert status.examiner == EXAMINER and status.safety_hold is False
    # The status is a copy: changing it does not change the state.
    status.deadlines.clear()
    assert state.status() == state.status()


def test_adverse_notices_wait_while_the_claimant_is_on_safety_hold():
    state = at_stage(Stage.DECISION)
    state.open_safety_case()
    state.decide(DecisionInput(outcome="denied", reason_code="NR"), T0)
    notices = state.closing_notices()
    assert (notices.claimant_notice, notices.deferred_notice) == (None, Template.DECISION_NOTICE)

    approved = at_stage(Stage.DECISION)
    approved.open_safety_case()
    approved.decide(DecisionInput(outcome="approved", reason_code="OK"), T0)
    assert approved.closing_notices().claimant_notice is Template.DECISION_NOTICE


def test_one_safety_case_at_a_time_and_the_hold_lifts_when_the_last_ends():
    state = at_stage(Stage.REPORT)
    first = state.open_safety_case()
    assert first is not None and state.safety_hold
    assert state.open_safety_case() is None  # a further concern re-pages on the open case
    assert state.end_safety_case(first) is True and not state.safety_hold
    second = state.open_safety_case()
    assert second == "ime-claim-c-safety-2"
    state.close(Outcome.WITHDRAWN, T0)
    assert state.end_safety_case(second) is False  # no hold-lifted event on a closed claim


def test_the_state_serialises_as_it_is():
    state = at_stage(Stage.REPORT)
    state.set_deadlines({DeadlineName.REPORT: T0 + timedelta(days=3)}, T0)
    state.open_safety_case()
    assert ClaimState.model_validate_json(state.model_dump_json()) == state


def test_a_late_examiner_is_replaced_once_and_never_booked_or_heard_again():
    state = at_stage(Stage.REPORT)
    state.set_deadlines({DeadlineName.REPORT: T0 + timedelta(days=1)}, T0)
    assert state.replace_examiner(T0 + timedelta(days=3)) == EXAMINER.id
    assert state.stage is Stage.SCHEDULING and state.needs_booking and state.examiner_replaced
    assert state.deadlines[DeadlineName.REPORT].met_at is not None  # the stage was left
    assert EXAMINER.id in state.excluded_examiners
    state.publish_booking(
        ExaminerRef(id="ex-2", name="Dr. Two", specialty=Specialty.ORTHOPEDIC_SURGERY),
        appointment(2),
        T0,
    )
    state.confirm(T0)
    state.attended(T0)
    late = ExamReport(acted_by=Caller(role=Role.EXAMINER, examiner_id=EXAMINER.id))
    assert "replaced" in (refusal(state, Action.REPORT, T0, late) or "")
    on_time = ExamReport(acted_by=Caller(role=Role.EXAMINER, examiner_id="ex-2"))
    assert refusal(state, Action.REPORT, T0, on_time) is None


def test_an_unconfirmed_booking_expires_and_its_examiner_is_excluded():
    state = at_stage(Stage.SCHEDULING)
    released, examiner_id = state.expire_booking(T0)
    assert released == appointment() and examiner_id == EXAMINER.id
    assert state.needs_booking and state.excluded_examiners == [EXAMINER.id]


def test_escalation_rungs_have_no_reminder_and_start_only_where_the_breach_was():
    state = at_stage(Stage.REVIEW)
    state.start_rung(DeadlineName.REVIEW_ESCALATION, T0 + timedelta(days=2), T0, Stage.REVIEW)
    rung = state.deadlines[DeadlineName.REVIEW_ESCALATION]
    assert rung.remind_at is None and state.active_deadline() is rung
    # The claim moved on while the rung was computed: not started.
    state.accept_report(T0)
    state.start_rung(DeadlineName.REVIEW_ESCALATION, T0 + timedelta(days=9), T0, Stage.REVIEW)
    assert state.deadlines[DeadlineName.REVIEW_ESCALATION].due_at == T0 + timedelta(days=2)
    assert state.deadlines[DeadlineName.REVIEW_ESCALATION].met_at == T0


def test_a_claim_wide_decision_clock_runs_in_every_stage_until_the_close():
    state = registered("ERISA-LTD")
    state.set_deadlines({DeadlineName.DECISION: T0 + timedelta(days=45)}, T0)
    decision = state.deadlines[DeadlineName.DECISION]
    assert state.active_deadline() is decision
    state.publish_booking(EXAMINER, appointment(), T0)
    state.confirm(T0)
    state.attended(T0)
    assert state.active_deadline() is decision and decision.met_at is None
    state.close(Outcome.WITHDRAWN, T0 + timedelta(days=1))
    assert decision.met_at == T0 + timedelta(days=1)


# --- exam preparation: the records lead, the interpreter ---------------------------------------


def texas_booked(records_due: datetime) -> ClaimState:
    """A TX-DD claim confirmed for an exam, its records lead started with the booking."""
    state = registered("TX-DD")
    booked = appointment()
    state.publish_booking(EXAMINER, booked, T0)
    state.set_deadlines({DeadlineName.RECORDS_LEAD: records_due}, T0)
    state.preparation.records_lead_for = booked.id
    state.confirm(T0)
    return state


def test_an_exam_on_a_booking_whose_records_lead_was_missed_is_refused_until_ops_decide():
    state = texas_booked(T0 + timedelta(minutes=10))
    late = T0 + timedelta(days=1)
    assert refusal(state, Action.EXAM, now=late) is None  # the lead not yet breached
    state.mark_breached(state.deadlines[DeadlineName.RECORDS_LEAD])
    assert refusal(state, Action.EXAM, now=late) == (
        "the examiner did not have the records the profile's lead before this exam: ops decide "
        "to go ahead without it (proceed-without-records) or reschedule"
    )
    # Records arriving late meet the deadline, but the lead was missed all the same.
    state.preparation.records_arrived(state.deadlines, late)
    assert refusal(state, Action.EXAM, now=late) is not None
    assert refusal(state, Action.PROCEED_WITHOUT_RECORDS, now=late) is None
    assert state.appointment is not None
    state.preparation.proceed_without_records(state.deadlines, state.appointment, late)
    assert refusal(state, Action.EXAM, now=late) is None
    assert refusal(state, Action.PROCEED_WITHOUT_RECORDS, now=late) == (
        "ops have already decided to hold this exam without the lead"
    )


def test_records_in_time_leave_nothing_to_decide():
    state = texas_booked(T0 + timedelta(hours=1))
    state.preparation.records_arrived(state.deadlines, T0 + timedelta(minutes=5))
    lead = state.deadlines[DeadlineName.RECORDS_LEAD]
    assert lead.met_at == T0 + timedelta(minutes=5) and not lead.breached
    assert refusal(state, Action.PROCEED_WITHOUT_RECORDS) == (
        "the records arrived within the lead; the exam goes ahead"
    )


def test_the_interpreter_is_recorded_only_for_the_booking_whose_notice_waits():
    from domain.preparation import HeldNotice

    state = at_stage(Stage.SCHEDULING)
    assert state.appointment is not None
    state.preparation.held_notice = HeldNotice(
        appointment_id="another-booking", examiner_id="ex-1", step="appointment-1"
    )
    assert refusal(state, Action.INTERPRETER_BOOKED) == (
        "no appointment notice of this booking is waiting for an interpreter"
    )
    state.preparation.held_notice = HeldNotice(
        appointment_id=state.appointment.id, examiner_id="ex-1", step="appointment-1"
    )
    assert refusal(state, Action.INTERPRETER_BOOKED) is None
    assert state.status().interpreter_to_book
    held = state.preparation.interpreter_booked(state.appointment)
    assert held.step == "appointment-1" and not state.status().interpreter_to_book
