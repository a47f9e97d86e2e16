"""The actions of PRODUCT §6: URL name -> payload model (the workflow's update names match)."""

from __future__ import annotations

from domain.models import (
    Assign,
    ConfirmAppointment,
    DecisionInput,
    DeclineAppointment,
    ExamOutcome,
    ExamReport,
    ExtendDecision,
    Model,
    Reschedule,
    ReviewResult,
    SafetyAck,
    SafetyConcern,
    SafetyResolve,
    Withdraw,
)

ACTION_MODELS: dict[str, type[Model]] = {
    "assign": Assign,
    "confirm-appointment": ConfirmAppointment,
    "decline-appointment": DeclineAppointment,
    "reschedule": Reschedule,
    "exam": ExamOutcome,
    "report": ExamReport,
    "review": ReviewResult,
    "decision": DecisionInput,
    "extend-decision": ExtendDecision,
    "withdraw": Withdraw,
    "safety-concern": SafetyConcern,
    "safety-ack": SafetyAck,
    "safety-resolve": SafetyResolve,
}
