"""Activity names and their request/response models, shared by workflows and activities.

Workflows call activities by these names so workflow modules never import I/O libraries.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from domain.models import AppointmentRef, ExaminerRef, ExamReport, Recommendation
from domain.profiles import Duration

LOAD_PROFILE = "load_profile"
COMPUTE_DEADLINES = "compute_deadlines"
RECORD_TRANSITION = "record_transition"
SCHEDULE_EXAM = "schedule_exam"
SET_APPOINTMENT_STATUS = "set_appointment_status"
NOTIFY = "notify"
ASSESS_REPORT = "assess_report"


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeadlineRequest(Contract):
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


class AppointmentStatusChange(Contract):
    appointment_id: str
    status: str


class ReportAssessmentRequest(Contract):
    report: ExamReport
    question_count: int


class ReportAssessment(Contract):
    findings: list[str]
    recommendation: Recommendation | None
