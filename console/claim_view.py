"""What the claim page shows beyond the status: each deadline's next rung (from the escalation
chain's table, `domain.lifecycle.DEADLINES`), and which action forms the person gets (the
action table of `domain.access` and the stages of `domain.lifecycle`: the rules the API applies,
not a copy of them); a document's size in words."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from domain.access import PANEL_PARTY_ROLES, may_act
from domain.lifecycle import APPOINTMENT_ACTIONS, DEADLINES, OnBreach, action_stages
from domain.models import Caller, ClaimStatus, Deadline, SelectionView
from domain.names import Action
from domain.profiles import PROFILES

# The actions the claim page offers as forms, in the order a claim needs them.
FORMS = (
    Action.ASSIGN,
    Action.RECORD_STATE_PANEL,
    Action.RECORD_STATE_ASSIGNMENT,
    Action.STRIKE,
    Action.PANEL_CHOICE,
    Action.CONFIRM_APPOINTMENT,
    Action.DECLINE_APPOINTMENT,
    Action.RESCHEDULE,
    Action.INTERPRETER_BOOKED,
    Action.PROCEED_WITHOUT_RECORDS,
    Action.EXAM,
    Action.EXTEND_DECISION,
    Action.DECISION,
    Action.APPEAL,
    Action.REVIEW,
    Action.APPEAL_DECISION,
    Action.SAFETY_CONCERN,
    Action.WITHDRAW,
)

_ON_BREACH = {
    OnBreach.TELL: "tell",
    OnBreach.REBOOK: "release the booking and book the next examiner",
    OnBreach.REPLACE_EXAMINER: "replace the examiner (once per claim)",
    OnBreach.CLOSE_PANEL_WINDOW: "close the panel's window (a strike not made is lost)",
}


def _names(recipients: tuple[object, ...]) -> str:
    return ", ".join(str(getattr(r, "value", r)).replace("_", " ") for r in recipients)


def next_rung(deadline: Deadline) -> str:
    """What happens when this deadline passes, in words; '' once it is met."""
    if deadline.met_at is not None:
        return ""
    rule = DEADLINES[deadline.name]
    told = _names(rule.told or (rule.owner,))
    what = _ON_BREACH[rule.on_breach]
    step = f"{what} {told}" if rule.on_breach is OnBreach.TELL else f"{what}; tell {told}"
    if rule.then is not None:
        step += (
            f"; then {rule.then.value.replace('_', ' ')} after the {rule.after.replace('_', ' ')}"
        )
    return step


def deadline_state(deadline: Deadline) -> str:
    if deadline.met_at is not None:
        return "met late" if deadline.breached else "met"
    return "breached" if deadline.breached else "pending"


@dataclass(frozen=True)
class Offered:
    action: Action
    enabled: bool
    why_not: str = ""


def offered_actions(caller: Caller, claim: ClaimStatus) -> list[Offered]:
    """The forms for this person on this claim: only actions their role may take; each enabled
    when the claim's stage allows it (else shown disabled, saying why)."""
    offered = []
    appeal = claim.appeal.phase if claim.appeal else None
    for action in FORMS:
        if not may_act(caller, action) or not _applies(action, claim):
            continue
        stages = action_stages(action, PROFILES.get(claim.jurisdiction))
        if action is Action.EXTEND_DECISION and appeal in _APPEAL_UNDER_WAY:
            stages = frozenset({claim.stage})  # the decision on appeal's, in any open stage
        if claim.status == "closed" and action is not Action.APPEAL:
            offered.append(Offered(action, False, "the claim is closed"))
        elif claim.stage not in stages:
            offered.append(Offered(action, False, f"not in the {claim.stage.value} stage"))
        elif action in APPOINTMENT_ACTIONS and claim.appointment is None:
            offered.append(Offered(action, False, "no appointment is booked"))
        else:
            offered.append(Offered(action, True))
    return offered


def _applies(action: Action, claim: ClaimStatus) -> bool:
    """The exam-preparation decisions, and the steps of the state's pick of the examiner, are
    offered only where there is one to make; ops' own pick only where the vendor picks."""
    picked, appeal = claim.selection, claim.appeal.phase if claim.appeal else None
    if action in _APPEAL_STEPS:
        return appeal == _APPEAL_STEPS[action]
    if action is Action.ASSIGN:
        return picked is None
    if action in _STATE_STEPS:
        return picked is not None and _STATE_STEPS[action](picked)
    if action is Action.INTERPRETER_BOOKED:
        return claim.interpreter_to_book
    if action is Action.PROCEED_WITHOUT_RECORDS:
        return any(d.name == "records_lead" and d.breached for d in claim.deadlines)
    return True


# The appeal's steps, each offered in its phase (`domain.appeal`): the review on appeal here (a
# report's review in REVIEW is the reviewers' portal's).
_APPEAL_STEPS = {
    Action.APPEAL: "window",
    Action.REVIEW: "review",
    Action.APPEAL_DECISION: "deciding",
}
_APPEAL_UNDER_WAY = frozenset({"review", "new_exam", "deciding"})

_STATE_STEPS: dict[Action, Callable[[SelectionView], bool]] = {
    Action.RECORD_STATE_PANEL: lambda s: (
        s.kind == "state_panel_strike" and s.phase == "awaiting_state"
    ),
    Action.RECORD_STATE_ASSIGNMENT: lambda s: (
        s.kind == "state_assigned" and s.phase == "awaiting_state"
    ),
    Action.STRIKE: lambda s: s.phase == "window" and s.represented,
    Action.PANEL_CHOICE: lambda s: (
        s.phase == "choosing" or (s.phase == "window" and not s.represented)
    ),
}

# Whom a person strikes or chooses for, by role (`domain.access.PANEL_PARTY_ROLES`).
PANEL_PARTY = {role: party for party, role in PANEL_PARTY_ROLES.items()}


def remaining(selection: SelectionView | None) -> list[str]:
    """The panel's examiners not struck (what a strike or a choice may name)."""
    if selection is None:
        return []
    return [e for e in selection.panel if e not in selection.struck.values()]


def file_size(size: int) -> str:
    """A document's size as people read it (powers of 1000, as browsers show a download's)."""
    if size < 1000:
        return f"{size} bytes"
    if size < 1_000_000:
        return f"{size / 1000:.1f} kB"
    return f"{size / 1_000_000:.1f} MB"
