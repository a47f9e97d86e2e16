"""The refusals of a claim's steps beyond where they may be taken (`ClaimState.check` asks here
once the stage is right): limits of the profile, who may not act, the appeal's rules."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from domain.appeal import AppealPhase
from domain.lifecycle import extension_refusal
from domain.models import ExamReport, ReviewResult, Stage
from domain.names import Action, DeadlineName

if TYPE_CHECKING:
    from domain.claim_state import ClaimState


def step_refusal(state: ClaimState, action: Action, now: datetime, payload: object) -> str | None:
    """Why `action` is refused now, or None; never changes the state."""
    profile = state.require_profile()
    if action is Action.REVIEW:
        if state.stage is Stage.APPEAL and state.appeal.phase is not AppealPhase.REVIEW:
            return "the appeal's review is recorded already"
        state.appeal.check_review(payload, in_appeal_stage=state.stage is Stage.APPEAL)
        if (
            isinstance(payload, ReviewResult)
            and payload.result == "addendum_requested"
            and state.addenda_of_this_report >= profile.max_addenda
        ):
            return (
                f"the addendum limit ({profile.max_addenda}) is reached; accept the report or "
                "escalate to operations"
            )
    if (
        action is Action.REPORT
        and isinstance(payload, ExamReport)
        and payload.acted_by is not None
        and payload.acted_by.examiner_id in state.replaced_examiners
    ):
        return "this examiner was replaced for a late report; their report is refused"
    if action in (Action.DECISION, Action.APPEAL_DECISION) and state.safety_hold:
        return "a decision cannot be issued while the claim is on safety hold"
    if action is Action.APPEAL_DECISION:
        state.appeal.check_decision(payload)
    if action is Action.EXTEND_DECISION:
        if state.decision_extensions >= profile.decision_extensions:
            return (
                f"no decision extension left under {profile.name} "
                f"({profile.decision_extensions} allowed)"
            )
        return extension_refusal(profile, state.deadlines.get(DeadlineName.DECISION), now)
    return None
