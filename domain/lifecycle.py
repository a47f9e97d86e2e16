"""The claim lifecycle of PRODUCT §3 as tables: which stage may follow which, where each action is
allowed, which stage each deadline guards and who owns it, what the claimant is told at the end.

The claim state (`domain.claim_state`) enforces these; changing a rule is changing a table here.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.models import Outcome, Stage
from domain.names import Action, DeadlineName, Recipient, Template

# Stage moves along PRODUCT §3. A stage may follow itself: a new booking in SCHEDULING, an
# addendum requested in REPORT. Nothing leaves CLOSED.
NEXT_STAGES: dict[Stage, frozenset[Stage]] = {
    Stage.REFERRAL: frozenset({Stage.SCHEDULING, Stage.CLOSED}),
    Stage.SCHEDULING: frozenset({Stage.SCHEDULING, Stage.EXAM, Stage.CLOSED}),
    Stage.EXAM: frozenset({Stage.SCHEDULING, Stage.REPORT, Stage.CLOSED}),
    Stage.REPORT: frozenset({Stage.REPORT, Stage.REVIEW, Stage.CLOSED}),
    Stage.REVIEW: frozenset({Stage.REPORT, Stage.DECISION, Stage.CLOSED}),
    Stage.DECISION: frozenset({Stage.CLOSED}),
    Stage.CLOSED: frozenset(),
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
    Action.REVIEW: frozenset({Stage.REVIEW}),
    Action.DECISION: frozenset({Stage.DECISION}),
    Action.EXTEND_DECISION: frozenset({Stage.DECISION}),
    Action.WITHDRAW: _OPEN,
    Action.SAFETY_CONCERN: _OPEN,
}

# Actions that act on the booked appointment: refused without one.
APPOINTMENT_ACTIONS = frozenset(
    {Action.CONFIRM_APPOINTMENT, Action.DECLINE_APPOINTMENT, Action.RESCHEDULE}
)


@dataclass(frozen=True)
class DeadlineRule:
    stage: Stage  # the stage the deadline guards: leaving it meets the deadline
    owner: Recipient  # who is reminded, and told when it passes (ops are told too)


DEADLINES: dict[DeadlineName, DeadlineRule] = {
    DeadlineName.APPOINTMENT_CONFIRMATION: DeadlineRule(Stage.SCHEDULING, Recipient.EXAMINER),
    DeadlineName.EXAM_OUTCOME: DeadlineRule(Stage.EXAM, Recipient.OPS),
    DeadlineName.REPORT: DeadlineRule(Stage.REPORT, Recipient.EXAMINER),
    DeadlineName.REVIEW: DeadlineRule(Stage.REVIEW, Recipient.REVIEWER),
    DeadlineName.DECISION: DeadlineRule(Stage.DECISION, Recipient.INSURER),
}

# The notice the claimant gets when the claim closes with each outcome.
CLAIMANT_NOTICE: dict[Outcome, Template] = {
    Outcome.APPROVED: Template.DECISION_NOTICE,
    Outcome.DENIED: Template.DECISION_NOTICE,
    Outcome.WITHDRAWN: Template.WITHDRAWAL_NOTICE,
    Outcome.NON_COOPERATION: Template.NON_COOPERATION_NOTICE,
    Outcome.CANCELLED_BY_OPS: Template.CANCELLATION_NOTICE,
}

# Outcomes adverse to the claimant: their notice waits while the claim is on safety hold.
ADVERSE_OUTCOMES = frozenset({Outcome.DENIED, Outcome.NON_COOPERATION})
