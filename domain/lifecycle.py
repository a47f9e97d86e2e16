"""The claim lifecycle of PRODUCT §3 as tables: which stage may follow which, where each action is
allowed, which stage each deadline guards and who owns it, what the claimant is told at the end.

The claim state (`domain.claim_state`) enforces these; changing a rule is changing a table here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from domain.models import Caller, Deadline, Outcome, Stage
from domain.names import Action, DeadlineName, Recipient, Role, Template
from domain.profiles import JurisdictionProfile

# Stage moves along PRODUCT §3. A stage may follow itself: a new booking in SCHEDULING, an
# addendum requested in REPORT. Nothing leaves CLOSED.
NEXT_STAGES: dict[Stage, frozenset[Stage]] = {
    Stage.REFERRAL: frozenset({Stage.SCHEDULING, Stage.CLOSED}),
    Stage.SCHEDULING: frozenset({Stage.SCHEDULING, Stage.EXAM, Stage.CLOSED}),
    # EXAM -> APPEAL: the new IME on appeal missed past the limit, the appeal decided on the file.
    Stage.EXAM: frozenset({Stage.SCHEDULING, Stage.REPORT, Stage.APPEAL, Stage.CLOSED}),
    # REPORT -> SCHEDULING: the examiner was replaced for a late report; a new exam is booked.
    Stage.REPORT: frozenset({Stage.REPORT, Stage.REVIEW, Stage.SCHEDULING, Stage.CLOSED}),
    # REVIEW -> APPEAL: the new IME's report accepted on appeal goes back to the appeal.
    Stage.REVIEW: frozenset({Stage.REPORT, Stage.DECISION, Stage.APPEAL, Stage.CLOSED}),
    Stage.DECISION: frozenset({Stage.CLOSED}),
    # Only an appeal reopens a closed claim (`domain.appeal.reopen`), into APPEAL.
    Stage.CLOSED: frozenset(),
    # APPEAL -> SCHEDULING: a new IME asked for on appeal.
    Stage.APPEAL: frozenset({Stage.SCHEDULING, Stage.CLOSED}),
}

_OPEN = frozenset(set(Stage) - {Stage.CLOSED})

# Where each claim action may be taken. Safety-case actions (ack, resolve) are not claim actions:
# they go to the case's own workflow.
ACTION_STAGES: dict[Action, frozenset[Stage]] = {
    Action.ASSIGN: frozenset({Stage.SCHEDULING}),
    Action.CONFIRM_APPOINTMENT: frozenset({Stage.SCHEDULING}),
    Action.DECLINE_APPOINTMENT: frozenset({Stage.SCHEDULING}),
    Action.RESCHEDULE: frozenset({Stage.SCHEDULING, Stage.EXAM}),
    Action.EXAM: frozenset({Stage.EXAM}),
    Action.REPORT: frozenset({Stage.REPORT}),
    # In APPEAL: the review on appeal (`domain.appeal`).
    Action.REVIEW: frozenset({Stage.REVIEW, Stage.APPEAL}),
    Action.DECISION: frozenset({Stage.DECISION}),
    Action.EXTEND_DECISION: frozenset({Stage.DECISION}),
    Action.WITHDRAW: _OPEN,
    Action.SAFETY_CONCERN: _OPEN,
    # Once a report is filed (in REPORT: after an addendum request), while the claim is open.
    Action.REQUEST_REPORT_COPY: frozenset(
        {Stage.REPORT, Stage.REVIEW, Stage.DECISION, Stage.APPEAL}
    ),
    # About the booked exam: before it is held.
    Action.PROCEED_WITHOUT_RECORDS: frozenset({Stage.SCHEDULING, Stage.EXAM}),
    Action.INTERPRETER_BOOKED: frozenset({Stage.SCHEDULING, Stage.EXAM}),
    # Who examines, where the state picks: before the booking (`domain.selection`).
    Action.RECORD_STATE_PANEL: frozenset({Stage.SCHEDULING}),
    Action.RECORD_STATE_ASSIGNMENT: frozenset({Stage.SCHEDULING}),
    Action.STRIKE: frozenset({Stage.SCHEDULING}),
    Action.PANEL_CHOICE: frozenset({Stage.SCHEDULING}),
    # A denial's appeal is received while the closed claim's window is open (`domain.appeal`
    # says when); it is decided in APPEAL once reviewed.
    Action.APPEAL: frozenset({Stage.CLOSED}),
    Action.APPEAL_DECISION: frozenset({Stage.APPEAL}),
}

# Profiles whose decision clock runs from the claim's receipt (ERISA: 29 CFR 2560.503-1(f)(3))
# let the insurer extend it while the exam is still pending, before the period ends.
_EXTEND_EARLY = frozenset(
    {Stage.SCHEDULING, Stage.EXAM, Stage.REPORT, Stage.REVIEW, Stage.DECISION}
)


def action_stages(action: Action, profile: JurisdictionProfile | None) -> frozenset[Stage]:
    """Where `action` may be taken on a claim of `profile` (None: not loaded yet)."""
    if (
        action is Action.EXTEND_DECISION
        and profile is not None
        and profile.decision_from == "claim_received"
    ):
        return _EXTEND_EARLY
    return ACTION_STAGES[action]


def extension_refusal(
    profile: JurisdictionProfile, decision: Deadline | None, now: datetime
) -> str | None:
    """Why a decision extension is refused now, beyond the stage and the count: under a clock
    from the claim's receipt, the extension notice must go before the period ends ((f)(3))."""
    if profile.decision_from != "claim_received" or decision is None:
        return None
    if now >= decision.due_at:
        return (
            "the decision period has ended; an extension must be taken before it ends "
            f"({decision.due_at.isoformat()})"
        )
    return None


# Actions that act on the booked appointment: refused without one.
APPOINTMENT_ACTIONS = frozenset(
    {
        Action.CONFIRM_APPOINTMENT,
        Action.DECLINE_APPOINTMENT,
        Action.RESCHEDULE,
        Action.PROCEED_WITHOUT_RECORDS,
        Action.INTERPRETER_BOOKED,
    }
)


class OnBreach(StrEnum):
    """What the claim does when a deadline passes (claims under the escalation chain)."""

    TELL = "tell"  # tell those the rule names (an inbox item for each who must act)
    REBOOK = "rebook"  # release the unconfirmed booking and book the next examiner
    REPLACE_EXAMINER = "replace_examiner"  # once per claim; after that, ops are told
    # A state panel's strike (or choice) window passed: the rule decides who examines or who
    # chooses (`domain.selection.ExaminerSelection.window_closed`).
    CLOSE_PANEL_WINDOW = "close_panel_window"


# Profile durations a rung may be counted with (attribute names of `JurisdictionProfile`).
Grace = Literal["escalation_grace", "exam_grace"]


@dataclass(frozen=True)
class DeadlineRule:
    # The stage the deadline guards: leaving it meets the deadline. None: it runs until the
    # claim closes, whatever the stage (a decision clock that starts at the referral).
    stage: Stage | None
    owner: Recipient  # who is reminded, and who must act
    # Escalation chain (PRODUCT §3). Claims from before it tell the owner and ops at a breach and
    # wait on; under it, a breach tells `told`, does `on_breach`, and starts the `then` rung,
    # due `after` the breached deadline (a rung may start itself again: re-raised until met).
    told: tuple[Recipient, ...] = ()
    on_breach: OnBreach = OnBreach.TELL
    then: DeadlineName | None = None
    after: Grace = "escalation_grace"
    remind: bool = True  # rungs are not reminded: they are the reminder


_OPS = (Recipient.OPS,)

DEADLINES: dict[DeadlineName, DeadlineRule] = {
    DeadlineName.APPOINTMENT_CONFIRMATION: DeadlineRule(
        Stage.SCHEDULING, Recipient.EXAMINER, on_breach=OnBreach.REBOOK
    ),
    DeadlineName.APPOINTMENT_NOTICE: DeadlineRule(Stage.SCHEDULING, Recipient.OPS, told=_OPS),
    DeadlineName.EXAM_OUTCOME: DeadlineRule(
        Stage.EXAM,
        Recipient.OPS,
        told=_OPS,
        then=DeadlineName.EXAM_OUTCOME_ESCALATION,
        after="exam_grace",
    ),
    DeadlineName.EXAM_OUTCOME_ESCALATION: DeadlineRule(
        Stage.EXAM,
        Recipient.OPS,
        told=_OPS,
        then=DeadlineName.EXAM_OUTCOME_ESCALATION,
        after="exam_grace",
        remind=False,
    ),
    DeadlineName.REPORT: DeadlineRule(
        Stage.REPORT,
        Recipient.EXAMINER,
        told=(Recipient.EXAMINER, Recipient.OPS),
        then=DeadlineName.REPORT_ESCALATION,
    ),
    DeadlineName.REPORT_ESCALATION: DeadlineRule(
        Stage.REPORT,
        Recipient.OPS,
        told=_OPS,
        on_breach=OnBreach.REPLACE_EXAMINER,
        then=DeadlineName.REPORT_ESCALATION,
        remind=False,
    ),
    DeadlineName.REVIEW: DeadlineRule(
        Stage.REVIEW,
        Recipient.REVIEWER,
        told=(Recipient.REVIEWER, Recipient.SENIOR_REVIEWER),
        then=DeadlineName.REVIEW_ESCALATION,
    ),
    DeadlineName.REVIEW_ESCALATION: DeadlineRule(
        Stage.REVIEW,
        Recipient.OPS,
        told=_OPS,
        then=DeadlineName.REVIEW_ESCALATION,
        remind=False,
    ),
    # Set by a booking (not counted in SCHEDULING: it guards the confirmed exam), met when the
    # records arrive or ops decide to hold the exam without them; until then the exam is refused.
    DeadlineName.RECORDS_LEAD: DeadlineRule(
        Stage.EXAM,
        Recipient.OPS,
        told=(Recipient.OPS, Recipient.EXAMINER),
        then=DeadlineName.RECORDS_LEAD_ESCALATION,
    ),
    DeadlineName.RECORDS_LEAD_ESCALATION: DeadlineRule(
        Stage.EXAM,
        Recipient.OPS,
        told=_OPS,
        then=DeadlineName.RECORDS_LEAD_ESCALATION,
        remind=False,
    ),
    # Where the state picks the examiner: its panel or assignment awaited (ops obtain it), the
    # panel's window (the insurer strikes or, once it passed, may choose; ops act for the
    # claimant), the choice of the party entitled to it once the window closed.
    DeadlineName.STATE_SELECTION: DeadlineRule(
        Stage.SCHEDULING,
        Recipient.OPS,
        told=_OPS,
        then=DeadlineName.STATE_SELECTION_ESCALATION,
    ),
    DeadlineName.STATE_SELECTION_ESCALATION: DeadlineRule(
        Stage.SCHEDULING,
        Recipient.OPS,
        told=_OPS,
        then=DeadlineName.STATE_SELECTION_ESCALATION,
        remind=False,
    ),
    # Reminded to ops: they act for the claimant, whose strike or choice it may be (the insurer
    # has its own item with the due time, `panel_issued` / `panel_choice_needed`).
    DeadlineName.PANEL_WINDOW: DeadlineRule(
        Stage.SCHEDULING, Recipient.OPS, on_breach=OnBreach.CLOSE_PANEL_WINDOW
    ),
    DeadlineName.PANEL_CHOICE: DeadlineRule(
        Stage.SCHEDULING,
        Recipient.OPS,
        told=(Recipient.INSURER, Recipient.OPS),
        then=DeadlineName.PANEL_CHOICE_ESCALATION,
    ),
    DeadlineName.PANEL_CHOICE_ESCALATION: DeadlineRule(
        Stage.SCHEDULING,
        Recipient.OPS,
        told=_OPS,
        then=DeadlineName.PANEL_CHOICE_ESCALATION,
        remind=False,
    ),
    # The appeal of a denial: its review (met when recorded), and the decision on appeal from
    # its receipt, whatever the stage (a new IME on appeal runs within it).
    DeadlineName.APPEAL_REVIEW: DeadlineRule(
        Stage.APPEAL,
        Recipient.REVIEWER,
        told=(Recipient.REVIEWER, Recipient.SENIOR_REVIEWER),
        then=DeadlineName.APPEAL_REVIEW_ESCALATION,
    ),
    DeadlineName.APPEAL_REVIEW_ESCALATION: DeadlineRule(
        Stage.APPEAL,
        Recipient.OPS,
        told=_OPS,
        then=DeadlineName.APPEAL_REVIEW_ESCALATION,
        remind=False,
    ),
    DeadlineName.APPEAL_DECISION: DeadlineRule(
        None,
        Recipient.INSURER,
        told=(Recipient.INSURER, Recipient.SUPERVISOR),
        then=DeadlineName.APPEAL_DECISION_ESCALATION,
    ),
    DeadlineName.APPEAL_DECISION_ESCALATION: DeadlineRule(
        None,
        Recipient.OPS,
        told=_OPS,
        then=DeadlineName.APPEAL_DECISION_ESCALATION,
        remind=False,
    ),
    DeadlineName.DECISION: DeadlineRule(
        None,
        Recipient.INSURER,
        told=(Recipient.INSURER, Recipient.SUPERVISOR),
        then=DeadlineName.DECISION_ESCALATION,
    ),
    DeadlineName.DECISION_ESCALATION: DeadlineRule(
        None,
        Recipient.OPS,
        told=_OPS,
        then=DeadlineName.DECISION_ESCALATION,
        remind=False,
    ),
}


# The notice the claimant gets when the claim closes with each outcome.
CLAIMANT_NOTICE: dict[Outcome, Template] = {
    Outcome.APPROVED: Template.DECISION_NOTICE,
    Outcome.DENIED: Template.DECISION_NOTICE,
    Outcome.WITHDRAWN: Template.WITHDRAWAL_NOTICE,
    Outcome.NON_COOPERATION: Template.NON_COOPERATION_NOTICE,
    Outcome.CANCELLED_BY_OPS: Template.CANCELLATION_NOTICE,
    Outcome.APPEAL_UPHELD: Template.APPEAL_DECISION_NOTICE,
    Outcome.APPEAL_OVERTURNED: Template.APPEAL_DECISION_NOTICE,
    Outcome.APPEAL_WITHDRAWN: Template.WITHDRAWAL_NOTICE,
}

# Outcomes adverse to the claimant: their notice waits while the claim is on safety hold.
ADVERSE_OUTCOMES = frozenset({Outcome.DENIED, Outcome.NON_COOPERATION, Outcome.APPEAL_UPHELD})

# Who is told that the exam took place, where the profile requires it (FL-WC: all parties).
EXAM_HELD_TOLD = (Recipient.CLAIMANT, Recipient.INSURER, Recipient.EXAMINER)


def withdrawal_outcome(acted_by: Caller | None) -> Outcome:
    """Withdrawn by the insurer (or by anyone on older claims); cancelled when ops withdraw it."""
    if acted_by is not None and acted_by.role is Role.OPS:
        return Outcome.CANCELLED_BY_OPS
    return Outcome.WITHDRAWN
