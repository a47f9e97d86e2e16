"""The payload model of each action of PRODUCT §6 (the workflow's update names match)."""

from __future__ import annotations

from domain.models import (
    ActionInput,
    Assign,
    ConfirmAppointment,
    DecisionInput,
    DeclineAppointment,
    ExamOutcome,
    ExamReport,
    ExtendDecision,
    InterpreterBooked,
    PanelChoice,
    ProceedWithoutRecords,
    RecordStateAssignment,
    RecordStatePanel,
    RequestReportCopy,
    Reschedule,
    ReviewResult,
    SafetyAck,
    SafetyConcern,
    SafetyResolve,
    Strike,
    Withdraw,
)
from domain.names import Action

ACTION_MODELS: dict[Action, type[ActionInput]] = {
    Action.ASSIGN: Assign,
    Action.CONFIRM_APPOINTMENT: ConfirmAppointment,
    Action.DECLINE_APPOINTMENT: DeclineAppointment,
    Action.RESCHEDULE: Reschedule,
    Action.EXAM: ExamOutcome,
    Action.REPORT: ExamReport,
    Action.REVIEW: ReviewResult,
    Action.DECISION: DecisionInput,
    Action.EXTEND_DECISION: ExtendDecision,
    Action.WITHDRAW: Withdraw,
    Action.SAFETY_CONCERN: SafetyConcern,
    Action.SAFETY_ACK: SafetyAck,
    Action.SAFETY_RESOLVE: SafetyResolve,
    Action.REQUEST_REPORT_COPY: RequestReportCopy,
    Action.PROCEED_WITHOUT_RECORDS: ProceedWithoutRecords,
    Action.INTERPRETER_BOOKED: InterpreterBooked,
    Action.RECORD_STATE_PANEL: RecordStatePanel,
    Action.RECORD_STATE_ASSIGNMENT: RecordStateAssignment,
    Action.STRIKE: Strike,
    Action.PANEL_CHOICE: PanelChoice,
}
