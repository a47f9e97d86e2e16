"""Request and response models of the activities, shared by workflows and activities.

Workflows call activities by name (`domain.names.ActivityName`) so workflow modules never import
I/O libraries.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from domain.models import (
    AppointmentRef,
    AppointmentStatusChange,
    ExaminerRef,
    ExamReport,
    Recommendation,
)
from domain.profiles import Duration


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid")


__all__ = ["AppointmentStatusChange"]  # defined with the projection write it rides in


class DeadlineRequest(Contract):
    """Deadlines `durations` after `start`; a negative duration (`Duration.before()`) counts back
    from `start` (records due before the exam). Counting rules: `domain.deadlines`."""

    start: datetime
    durations: dict[str, Duration]
    state: str | None
    timezone: str


class DeadlineResult(Contract):
    due: dict[str, datetime]


class ScheduleResult(Contract):
    booked: bool
    examiner: ExaminerRef | None = None
    appointment: AppointmentRef | None = None


class ReportAssessmentRequest(Contract):
    report: ExamReport
    question_count: int


class ReportAssessment(Contract):
    findings: list[str]
    recommendation: Recommendation | None
