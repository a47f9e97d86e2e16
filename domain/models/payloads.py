"""Temporal payloads: what the workflows receive and what they send to their activities and get
back. Recorded workflow histories hold these as JSON, field by field.

The rule: add fields (with defaults), never rename or remove one, and never tighten what an old
value may be; the histories in tests/histories replay these.

Read by the workflows, which call activities by name (`domain.names.ActivityName`) so that no
workflow module imports an I/O library, by the activities (`activities/`) that serve those
calls, and by the service that starts claims (`ClaimIntake`). The models these payloads carry
(the referral and actions, the status and its event, notifications, the safety case) live in
the package's other modules and keep the same rule.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from domain.models.base import AddedLater, Caller, Model, StateCode
from domain.models.delivery import Notification
from domain.models.inputs import ExamReport, Referral, Specialty
from domain.models.status import (
    AppointmentRef,
    ClaimEvent,
    ClaimStatus,
    ExaminerRef,
    ExaminerSearch,
    Recommendation,
    ReportStatus,
)
from domain.names import AppointmentStatus
from domain.profiles import Duration

# --- the claim workflow's input -------------------------------------------------------------


class ClaimIntake(Referral):
    """The claim workflow's input: the referral plus what the service derives from it at intake.

    `claimant_key` is the claimant's conflict-check pseudonym (an HMAC keyed with the service's id
    secret), computed once so that booking requests carry the key instead of the claimant's name
    and date of birth. Claims started before it existed have none; their bookings derive it.
    """

    claimant_key: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] | None = None
    # Who referred the claim (the key that started it); recorded with its first event.
    referred_by: Caller | None = None


# --- the transition write (`record_transition`) ---------------------------------------------


class ReportWrite(AddedLater):
    """What a transition records of the report: a new version (`body` set: the examiner's report,
    stored sealed) or the verdict on version `version` (`body` None: its status changes).

    `addendum_reasons`: why the version goes back for an addendum, for its readers: the
    reviewer's reasons as written (free text, so PHI-capable: stored sealed, never in the audit
    event), or the automatic QA's findings. Set only when there are some, and left out of the
    payload when unset, so a write without reasons is the same JSON as before the field."""

    version: int = Field(ge=1)
    status: ReportStatus
    body: ExamReport | None = None
    addendum_reasons: list[str] | None = None

    added_later = ("addendum_reasons",)


class AppointmentStatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    appointment_id: str
    status: AppointmentStatus


class Lineage(Model):
    """Which runs' writes are current once an operator has reset the claim's workflow (Temporal
    reset): the reset run's own (`id`, a tag of its run id), those of the lineage it branched
    from (`parent`, "" the claim's first) before `from_seq`, and so on back. Every write of a
    reset claim carries its lineage; a claim never reset carries none."""

    id: str
    parent: str = ""
    # The first sequence number the reset run records: the branched-from lineage's events from
    # here on are superseded.
    from_seq: int


class ProjectionWrite(AddedLater):
    status: ClaimStatus
    event: ClaimEvent
    # The reset lineage the write belongs to (None: the claim's first).
    lineage: Lineage | None = None
    # Written in the same transaction as the event: a transition is never recorded without its
    # notifications, nor the reverse.
    notifications: list[Notification] = Field(default_factory=list)
    # The report this transition files or decides on, in the same transaction (None: it has none,
    # and writes of claims from before reports were stored).
    report: ReportWrite | None = None
    # Appointment changes the transition makes (attended, no-show, released): in the same
    # transaction, so a slot is never freed without the event that says why.
    appointment_changes: list[AppointmentStatusChange] = Field(default_factory=list)
    # What the person wrote when they acted (a reason, notes): stored sealed with the event,
    # never in its details. Left out of the payload when unset, so a write without one is the
    # same JSON as before the field.
    note: str | None = None

    added_later = ("note",)


# --- the booking (`schedule_exam`) ----------------------------------------------------------


class ScheduleRequest(Model):
    claim_id: str
    attempt: int
    specialty: Specialty
    licence_state: StateCode
    # The claimant's conflict-check pseudonym. Claims started before it was computed at intake
    # send the name and date of birth instead, and the booking derives the key from them.
    claimant_key: str | None = None
    claimant_name: str | None = None
    claimant_dob: date | None = None
    treating_provider_npis: list[str] = Field(default_factory=list)
    earliest_start: datetime
    duration_seconds: int
    business_hours: bool
    timezone: str
    exclude_examiner_ids: list[str] = Field(default_factory=list)
    only_examiner_id: str | None = None
    # A reset claim's bookings are its lineage's own (`Lineage.id`): a new attempt of the same
    # number is a new appointment.
    lineage: str | None = None
    # The end of the profile's exam window (e.g. NY-NF: within 30 days of the request): no slot
    # after it is offered.
    latest_start: datetime | None = None

    @model_validator(mode="after")
    def _identifies_the_claimant(self) -> ScheduleRequest:
        if self.claimant_key is None and (self.claimant_name is None or self.claimant_dob is None):
            raise ValueError("a booking needs the claimant key (or, from older claims, name + dob)")
        return self


# --- the other activities' requests and results ---------------------------------------------


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid")


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
    # Not booked: why, examiner by examiner (bookings made before it was reported carry none).
    search: ExaminerSearch | None = None


class ReportAssessmentRequest(Contract):
    report: ExamReport
    question_count: int


class ReportAssessment(Contract):
    findings: list[str]
    recommendation: Recommendation | None
