"""Shared pydantic models: the same classes serve the HTTP API, the CLI, the workflow and the store.

Everything a claimant could be identified by lives in `Claimant` and `Injury` only; status,
event and error models never carry those fields.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from domain.examples import ACTION_EXAMPLES, EXAMINER_EXAMPLE, SAMPLE_REFERRAL
from domain.names import AppointmentStatus, DeadlineName, EventType, Recipient, Role, Template

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Identifier = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$"
    ),
]
# USPS codes of the states, DC and the territories.
US_STATES = frozenset(
    {
        "AK",
        "AL",
        "AR",
        "AS",
        "AZ",
        "CA",
        "CO",
        "CT",
        "DC",
        "DE",
        "FL",
        "GA",
        "GU",
        "HI",
        "IA",
        "ID",
        "IL",
        "IN",
        "KS",
        "KY",
        "LA",
        "MA",
        "MD",
        "ME",
        "MI",
        "MN",
        "MO",
        "MP",
        "MS",
        "MT",
        "NC",
        "ND",
        "NE",
        "NH",
        "NJ",
        "NM",
        "NV",
        "NY",
        "OH",
        "OK",
        "OR",
        "PA",
        "PR",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VA",
        "VI",
        "VT",
        "WA",
        "WI",
        "WV",
        "WY",
    }
)


def _us_state(value: str) -> str:
    if value not in US_STATES:
        raise ValueError("must be a US state or territory postal code")
    return value


StateCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{2}$"),
    AfterValidator(_us_state),
    Field(json_schema_extra={"enum": sorted(US_STATES)}),
]
Npi = Annotated[str, StringConstraints(pattern=r"^\d{10}$")]


INTAKE = {"intake": True}


def at_intake(info: ValidationInfo) -> bool:
    """Rules that depend on today's date or today's configuration are checked when a referral
    comes in (validate with `context=INTAKE`), not when a workflow decodes its recorded input, so
    a later change can never break the replay of a claim already in flight."""
    return bool(info.context and info.context.get("intake"))


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


# Control characters (C0 but tab, newline and carriage return; DEL; C1) and lone surrogates: no
# field of ours needs them, and Postgres refuses NUL and unencodable text.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _unprintable_fields(value: Any, path: str = "") -> list[str]:
    if isinstance(value, str):
        return [path or "(value)"] if _UNPRINTABLE.search(value) else []
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            # An unprintable key is not repeated in the paths under it: a lone surrogate there
            # could not even be encoded into the error.
            unprintable = bool(_UNPRINTABLE.search(str(key)))
            part = "(field name)" if unprintable else str(key)
            name = f"{path}.{part}" if path else part
            found += ["(field name)"] if unprintable else []
            found += _unprintable_fields(item, name)
        return found
    if isinstance(value, list):
        return [f for i, item in enumerate(value) for f in _unprintable_fields(item, f"{path}.{i}")]
    return []


class Input(Model):
    """What a caller sends (a referral, an action, a query, a panel entry). At intake its text is
    checked for control characters, so nothing downstream (Postgres, a notification) chokes on it;
    never when a workflow decodes its recorded input, so no claim in flight is ever refused."""

    @model_validator(mode="before")
    @classmethod
    def _printable(cls, data: Any, info: ValidationInfo) -> Any:
        if at_intake(info):
            fields = _unprintable_fields(data)
            if fields:
                raise ValueError(
                    "control characters are not allowed in: " + ", ".join(sorted(set(fields)))
                )
        return data


def _example(example: dict[str, Any]) -> ConfigDict:
    """The model's config with `example` shown in its JSON schema (and the API's docs)."""
    return ConfigDict(extra="forbid", json_schema_extra={"examples": [example]})


class Caller(Model):
    """Who acts: the role and the API key (never the key itself), and the insurer or examiner the
    key is scoped to. Recorded with every event a person causes."""

    role: Role
    key_id: str | None = None
    key_name: str | None = None
    insurer_id: str | None = None
    examiner_id: str | None = None


class ActionInput(Input):
    """The payload of an action. `acted_by` is set by the service from the caller's key, never
    by the caller (it is not part of the API's schema)."""

    acted_by: SkipJsonSchema[Caller | None] = None


# --- lifecycle vocabulary -------------------------------------------------------------------


class Stage(StrEnum):
    REFERRAL = "REFERRAL"
    SCHEDULING = "SCHEDULING"
    EXAM = "EXAM"
    REPORT = "REPORT"
    REVIEW = "REVIEW"
    DECISION = "DECISION"
    CLOSED = "CLOSED"


class Outcome(StrEnum):
    APPROVED = "approved"
    DENIED = "denied"
    WITHDRAWN = "withdrawn"
    NON_COOPERATION = "non_cooperation"
    CANCELLED_BY_OPS = "cancelled_by_ops"
    # The claim's workflow ended without closing the claim (terminated, failed, timed out or
    # cancelled in Temporal); recorded by the worker's reconciler. No claimant notice goes out.
    TERMINATED = "terminated"


class ClaimType(StrEnum):
    WORKERS_COMP = "workers_comp"
    LONG_TERM_DISABILITY = "long_term_disability"
    AUTO_NO_FAULT = "auto_no_fault"
    PERSONAL_INJURY = "personal_injury"


class Specialty(StrEnum):
    ORTHOPEDIC_SURGERY = "orthopedic_surgery"
    NEUROLOGY = "neurology"
    PSYCHIATRY = "psychiatry"
    PSYCHOLOGY = "psychology"
    PHYSICAL_MEDICINE = "physical_medicine"
    INTERNAL_MEDICINE = "internal_medicine"


class Causation(StrEnum):
    RELATED = "related"
    PARTIALLY_RELATED = "partially_related"
    NOT_RELATED = "not_related"
    UNDETERMINED = "undetermined"


class Recommendation(StrEnum):
    APPROVE = "approve"
    DENY = "deny"


# --- referral -------------------------------------------------------------------------------


class Address(Model):
    line1: ShortText
    line2: ShortText | None = None
    city: ShortText
    state: StateCode
    postal_code: Annotated[str, StringConstraints(pattern=r"^\d{5}(-\d{4})?$")]


class Claimant(Model):
    full_name: ShortText
    date_of_birth: date
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ().-]{7,25}$")] | None = None
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None
    address: Address
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")] = "en"
    interpreter_needed: bool = False
    treating_provider_npis: list[Npi] = Field(default_factory=list, max_length=50)

    @field_validator("date_of_birth")
    @classmethod
    def _born_in_the_past(cls, value: date, info: ValidationInfo) -> date:
        if not at_intake(info):
            return value
        if value >= date.today() or value.year < 1900:
            raise ValueError("date_of_birth must be a past date after 1900")
        return value


class Injury(Model):
    date_of_injury: date
    body_parts: list[ShortText] = Field(min_length=1, max_length=20)
    description: Text

    @field_validator("date_of_injury")
    @classmethod
    def _not_in_future(cls, value: date, info: ValidationInfo) -> date:
        if not at_intake(info):
            return value
        if value > date.today():
            raise ValueError("date_of_injury cannot be in the future")
        return value


def _profile_names(schema: dict[str, Any]) -> None:
    from domain.profiles import PROFILES  # loaded late: profiles import these models' module

    schema["enum"] = sorted(PROFILES)


class Referral(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [SAMPLE_REFERRAL]})

    insurer_id: Identifier
    claim_number: Identifier
    claim_type: ClaimType
    jurisdiction: Annotated[Identifier, Field(json_schema_extra=_profile_names)]
    requested_specialty: Specialty
    claimant: Claimant
    injury: Injury
    questions: list[Text] = Field(min_length=1, max_length=30)

    @field_validator("jurisdiction")
    @classmethod
    def _known_profile(cls, value: str, info: ValidationInfo) -> str:
        from domain.profiles import PROFILES

        if at_intake(info) and value not in PROFILES:
            raise ValueError(f"unknown jurisdiction profile; expected one of {sorted(PROFILES)}")
        return value


class ClaimIntake(Referral):
    """The claim workflow's input: the referral plus what the service derives from it at intake.

    `claimant_key` is the claimant's conflict-check pseudonym (an HMAC keyed with the service's id
    secret), computed once so that booking requests carry the key instead of the claimant's name
    and date of birth. Claims started before it existed have none; their bookings derive it.
    """

    claimant_key: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] | None = None
    # Who referred the claim (the key that started it); recorded with its first event.
    referred_by: Caller | None = None


# --- actions (human steps) ------------------------------------------------------------------


class Assign(ActionInput):
    model_config = _example(ACTION_EXAMPLES["assign"])

    examiner_id: Identifier


class ConfirmAppointment(ActionInput):
    model_config = _example(ACTION_EXAMPLES["confirm-appointment"])

    pass


class DeclineAppointment(ActionInput):
    model_config = _example(ACTION_EXAMPLES["decline-appointment"])

    reason: Text


class Reschedule(ActionInput):
    model_config = _example(ACTION_EXAMPLES["reschedule"])

    reason: Text
    requested_by: Literal["claimant", "examiner", "ops"]


class RiskScreen(Model):
    level: Literal["none", "low", "moderate", "imminent"]
    toward: Literal["self", "others"] | None = None
    notes: Annotated[str, StringConstraints(max_length=4000)] = ""


class ExamOutcome(ActionInput):
    model_config = _example(ACTION_EXAMPLES["exam"])

    attended: bool
    risk_screen: RiskScreen = Field(default_factory=lambda: RiskScreen(level="none"))


class ExamReport(ActionInput):
    model_config = _example(ACTION_EXAMPLES["report"])

    diagnoses: list[Text] = Field(default_factory=list, max_length=50)
    causation: Causation | None = None
    mmi_reached: bool | None = None
    mmi_date: date | None = None
    impairment_percent: float | None = None
    work_restrictions: Annotated[str, StringConstraints(max_length=4000)] | None = None
    further_treatment: Annotated[str, StringConstraints(max_length=4000)] | None = None
    answers: list[Annotated[str, StringConstraints(max_length=8000)]] = Field(
        default_factory=list, max_length=30
    )
    records_reviewed: list[Text] = Field(default_factory=list, max_length=200)

    @field_validator("impairment_percent")
    @classmethod
    def _finite(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is not None and at_intake(info) and not math.isfinite(value):
            raise ValueError("impairment_percent must be a finite number")
        return value


class ReviewResult(ActionInput):
    model_config = _example(ACTION_EXAMPLES["review"])

    result: Literal["accepted", "addendum_requested"]
    reasons: list[Text] = Field(default_factory=list, max_length=20)


class DecisionInput(ActionInput):
    model_config = _example(ACTION_EXAMPLES["decision"])

    outcome: Literal["approved", "denied"]
    reason_code: Identifier
    notes: Annotated[str, StringConstraints(max_length=4000)] = ""


class ExtendDecision(ActionInput):
    model_config = _example(ACTION_EXAMPLES["extend-decision"])

    reason: Text


class Withdraw(ActionInput):
    model_config = _example(ACTION_EXAMPLES["withdraw"])

    reason: Text


class SafetyConcern(ActionInput):
    model_config = _example(ACTION_EXAMPLES["safety-concern"])

    level: Literal["moderate", "imminent"]
    toward: Literal["self", "others"]
    notes: Annotated[str, StringConstraints(max_length=4000)] = ""


class SafetyAck(ActionInput):
    model_config = _example(ACTION_EXAMPLES["safety-ack"])

    clinician_id: Identifier


class SafetyResolve(ActionInput):
    model_config = _example(ACTION_EXAMPLES["safety-resolve"])

    actions_taken: list[
        Literal["emergency_services_contacted", "warm_handoff", "referral_to_treatment"]
    ] = Field(min_length=1)
    notes: Annotated[str, StringConstraints(max_length=4000)] = ""


class RequestReportCopy(ActionInput):
    """The claimant's copy of the report is asked for (profiles that give it on request). The
    reason is free text: it stays in the workflow's (encrypted) history, not in the audit log."""

    model_config = _example(ACTION_EXAMPLES["request-report-copy"])

    reason: ShortText | None = None


# --- status (the projection insurers poll) --------------------------------------------------


class ExaminerRef(Model):
    id: str
    name: str
    specialty: Specialty


class AppointmentRef(Model):
    id: str
    starts_at: datetime
    ends_at: datetime
    location: str


class Deadline(Model):
    name: DeadlineName
    due_at: datetime
    breached: bool = False
    # When the stage this deadline guards was left (late or not); None while it is pending.
    met_at: datetime | None = None
    # When the owner gets a reminder (the profile's reminder fraction of the window).
    remind_at: datetime | None = None
    reminded: bool = False


class DecisionRecord(Model):
    outcome: Literal["approved", "denied"]
    reason_code: str
    decided_at: datetime


class ClaimIdentity(Model):
    """Who a claim is, fixed at intake (no PHI): shared by its status and its state."""

    claim_id: str
    workflow_id: str
    insurer_id: str
    claim_number: str
    claim_type: ClaimType
    jurisdiction: str


class ClaimStatus(ClaimIdentity):
    stage: Stage
    status: Literal["open", "closed"]
    outcome: Outcome | None = None
    safety_hold: bool = False
    recommendation: Recommendation | None = None
    examiner: ExaminerRef | None = None
    appointment: AppointmentRef | None = None
    deadlines: list[Deadline] = Field(default_factory=list)
    decision: DecisionRecord | None = None
    # A breached deadline's step is still undone.
    overdue: bool = False
    # When the current stage's pending deadline falls due, if it has one.
    next_deadline: datetime | None = None
    created_at: datetime
    updated_at: datetime
    version: int = 0

    @model_validator(mode="before")
    @classmethod
    def _derive_lateness(cls, data: Any) -> Any:
        """Statuses written before `overdue` and `next_deadline` existed (projection rows, retried
        activity payloads) get them from their deadlines, as the claim state computes them."""
        if not isinstance(data, dict) or "overdue" in data:
            return data
        deadlines = [Deadline.model_validate(d) for d in data.get("deadlines") or []]
        pending = [d for d in deadlines if not d.breached and d.met_at is None]
        overdue = data.get("status") == "open" and any(
            d.breached and d.met_at is None for d in deadlines
        )
        upcoming = min((d.due_at for d in pending), default=None)
        return {**data, "overdue": overdue, "next_deadline": upcoming}

    @classmethod
    def initial(
        cls, referral: Referral, *, claim_id: str, workflow_id: str, at: datetime
    ) -> ClaimStatus:
        """The status of a claim that has just been referred (version 0, before any event)."""
        return cls(
            claim_id=claim_id,
            workflow_id=workflow_id,
            insurer_id=referral.insurer_id,
            claim_number=referral.claim_number,
            claim_type=referral.claim_type,
            jurisdiction=referral.jurisdiction,
            stage=Stage.REFERRAL,
            status="open",
            created_at=at,
            updated_at=at,
            version=0,
        )


class ClaimEvent(Model):
    """One line of the append-only audit log. `details` never holds PHI."""

    claim_id: str
    seq: int
    type: EventType
    stage: Stage
    actor: str = "system"
    at: datetime
    details: dict[str, Any] = Field(default_factory=dict)
    # Who acted, when a person did (None for the system's own steps and older events).
    acted_by: Caller | None = None


# A stored report version: filed (passed the automatic QA, or went to review once the addenda
# ran out), sent back by the QA, sent back by the reviewer, or accepted.
ReportStatus = Literal["submitted", "qa_failed", "addendum_requested", "accepted"]
ReportKind = Literal["report", "addendum"]


class ReportWrite(Model):
    """What a transition records of the report: a new version (`body` set: the examiner's report,
    stored sealed) or the verdict on version `version` (`body` None: its status changes)."""

    version: int = Field(ge=1)
    status: ReportStatus
    body: ExamReport | None = None


class AppointmentStatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    appointment_id: str
    status: AppointmentStatus


class ProjectionWrite(Model):
    status: ClaimStatus
    event: ClaimEvent
    # Written in the same transaction as the event: a transition is never recorded without its
    # notifications, nor the reverse.
    notifications: list[Notification] = Field(default_factory=list)
    # The report this transition files or decides on, in the same transaction (None: it has none,
    # and writes of claims from before reports were stored).
    report: ReportWrite | None = None
    # Appointment changes the transition makes (attended, no-show, released): in the same
    # transaction, so a slot is never freed without the event that says why.
    appointment_changes: list[AppointmentStatusChange] = Field(default_factory=list)


class ReportVersion(Model):
    version: int
    kind: ReportKind
    status: ReportStatus
    submitted_at: datetime


class ClaimReport(Model):
    """`GET /v1/claims/{claim_id}/report`: the accepted version (else the latest) and the history
    of versions."""

    claim_id: str
    version: int
    kind: ReportKind
    status: ReportStatus
    submitted_at: datetime
    versions: list[ReportVersion]
    report: ExamReport


# --- scheduling -----------------------------------------------------------------------------


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
    # The end of the profile's exam window (e.g. NY-NF: within 30 days of the request): no slot
    # after it is offered.
    latest_start: datetime | None = None

    @model_validator(mode="after")
    def _identifies_the_claimant(self) -> ScheduleRequest:
        if self.claimant_key is None and (self.claimant_name is None or self.claimant_dob is None):
            raise ValueError("a booking needs the claimant key (or, from older claims, name + dob)")
        return self


class Examiner(Input):
    model_config = _example(EXAMINER_EXAMPLE)

    id: Identifier
    name: ShortText
    npi: Npi
    specialty: Specialty
    licensed_states: list[StateCode] = Field(min_length=1)
    active: bool = True
    capacity: int = Field(default=20, ge=1, le=10_000)
    location: ShortText
    # Where the examiner's notices go (appointment requests, addenda, reminders).
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None


class Notification(Model):
    """A message placed in the outbox; `key` makes enqueueing idempotent."""

    key: str
    claim_id: str
    recipient: Recipient
    template: Template
    details: dict[str, Any] = Field(default_factory=dict)
    # Held until the claim's safety hold lifts (an adverse notice to a claimant at risk).
    held: bool = False


class ClaimQuery(Input):
    """Filters of `GET /v1/claims`; `cursor` continues from the previous page."""

    stage: Stage | None = None
    outcome: Outcome | None = None
    jurisdiction: Identifier | None = None
    overdue: bool | None = None
    updated_after: datetime | None = None
    limit: int = Field(default=50, ge=1, le=200)
    cursor: Annotated[str, StringConstraints(max_length=200)] | None = None

    @field_validator("updated_after", mode="before")
    @classmethod
    def _iso_8601(cls, value: Any) -> Any:
        """A time written out (ISO 8601), not a bare number taken for seconds since 1970."""
        if isinstance(value, int | float) or (
            isinstance(value, str) and re.fullmatch(r"\s*[+-]?[\d.eE+-]+\s*", value)
        ):
            raise ValueError("updated_after must be an ISO 8601 date-time")
        return value

    @field_validator("updated_after")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        """A time Postgres can compare with: zoned (UTC when no zone is given), within years
        1970-9998 so that converting it never overflows."""
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        if not 1970 <= value.year <= 9998:
            raise ValueError("updated_after must be a time between 1970 and 9998")
        return value.astimezone(UTC)


class ClaimPage(Model):
    items: list[ClaimStatus]
    next_cursor: str | None = None


class SafetyCase(Model):
    """Input of a safety escalation: kept out of the claim's status and audit log."""

    claim_id: str
    level: Literal["imminent"]
    toward: Literal["self", "others"]
    source: Literal["exam", "concern"]
    notes: str = ""
    ack_seconds: int = Field(gt=0)


class SafetyCaseStatus(Model):
    claim_id: str
    acknowledged: bool
    resolved: bool
    missed_acknowledgements: int


class SafetyCaseCarry(Model):
    """What a long safety case carries into its next run (continue-as-new): where its ladder
    stands, so that no rung repeats and every notification key and event stays unique."""

    acknowledged_by: str | None = None
    # Pages and follow-ups are numbered by these: their notification keys derive from them.
    missed_acknowledgements: int = 0
    follow_ups: int = 0
    # The case's last event sequence number (`safety_case_events.seq`).
    event_seq: int = 0
    # The patch the first run decided with; a continued run never consults its history for it.
    ladder_events: bool = True


class SafetyCaseContinuation(Model):
    """The input of a safety case's continued run: the case and where its ladder stands. (The
    workflow takes one argument, the case or this: the SDK decodes arguments by their type hints
    only when as many arrive as the method declares, so an optional second argument would reach
    one-argument starts, old histories included, as plain dicts.)"""

    case: SafetyCase
    carry: SafetyCaseCarry


class SafetyCaseEvent(Model):
    """One step of a safety case (`safety_case_events`, append-only): `seq` is the case
    workflow's own sequence, None for a record made outside it (ops closing the case's
    duty-to-protect task). `details` never hold clinical notes or PHI."""

    case_id: str
    seq: int | None = None
    claim_id: str
    type: EventType
    actor: str = "system"
    at: datetime
    details: dict[str, Any] = Field(default_factory=dict)
    acted_by: Caller | None = None


class SafetyCaseWrite(Model):
    """Steps of a safety case and the notifications they make, recorded in one transaction."""

    events: list[SafetyCaseEvent]
    notifications: list[Notification] = Field(default_factory=list)


class TimelineEvent(Model):
    """A line of a claim's timeline (`GET /v1/claims/{claim_id}/events`), in time order: a claim
    event (`seq` its place in the claim's log), or a step of one of the claim's safety cases
    (`case_id` set; `seq` and `stage` null) for those who act on the safety branch."""

    claim_id: str
    seq: int | None = None
    case_id: str | None = None
    type: EventType
    stage: Stage | None = None
    actor: str = "system"
    at: datetime
    details: dict[str, Any] = Field(default_factory=dict)
    acted_by: Caller | None = None


# --- delivery (webhooks and inboxes) --------------------------------------------------------


WebhookEventType = Literal[
    "claim.created",
    "claim.stage_changed",
    "claim.deadline_breached",
    "claim.safety_hold_changed",
    "claim.report_available",
    "claim.closed",
]


class WebhookIn(Input):
    model_config = _example(
        {"url": "https://hooks.acme-ins.example/ime", "event_types": ["claim.closed"]}
    )

    url: Annotated[str, StringConstraints(min_length=8, max_length=2000)]
    # Empty: every event type.
    event_types: list[WebhookEventType] = Field(default_factory=list, max_length=10)
    # Ops register endpoints for an insurer; an insurer key registers for itself.
    insurer_id: Identifier | None = None


class WebhookOut(Model):
    id: str
    insurer_id: str
    url: str
    event_types: list[str]
    created_at: datetime
    rotated_at: datetime | None = None


class WebhookSecret(Model):
    """The signing secret (`whsec_...`): shown once, when made or rotated."""

    id: str
    secret: str


class WebhookCreated(WebhookOut):
    secret: str


class DeliveryOut(Model):
    id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None = None
    delivered_at: datetime | None = None
    created_at: datetime


class InboxItem(Model):
    """Something the caller must act on now."""

    id: str
    kind: str  # the notification template, e.g. duty_to_protect_task
    claim_id: str
    case_id: str | None = None
    created_at: datetime
    due_at: datetime | None = None
    done_at: datetime | None = None
    # What the task is about; clinical detail only for the clinical chain.
    details: dict[str, Any] = Field(default_factory=dict)


class InboxDone(Input):
    model_config = _example({"note": "warned the police as required", "warned": ["police"]})

    note: Text
    # Whom was warned, or which authority told: required to close a duty-to-protect task.
    warned: list[ShortText] = Field(default_factory=list, max_length=20)
