"""What callers send through the HTTP API and the CLI: the referral, the actions (the human steps
of PRODUCT §6), a panel entry (`Examiner`) and the filters of a claim listing (`ClaimQuery`).

Read by the API's routes, the CLI and `domain.parsing`, which validate them with
`context=INTAKE`. The referral and the actions also reach the workflows (the claim workflow's
input, its Updates' arguments) and so are replayed from recorded histories: the rule at the top
of `domain.models.payloads` holds for them too.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, ValidationInfo, field_validator
from pydantic.json_schema import SkipJsonSchema

from domain.examples import ACTION_EXAMPLES, EXAMINER_EXAMPLE, SAMPLE_REFERRAL
from domain.models.base import (
    Caller,
    Identifier,
    Input,
    Model,
    Npi,
    ShortText,
    StateCode,
    Text,
    at_intake,
    example_config,
)
from domain.names import Outcome, Stage
from domain.profiles import PROFILES


class ActionInput(Input):
    """The payload of an action. `acted_by` is set by the service from the caller's key, never
    by the caller (it is not part of the API's schema)."""

    acted_by: SkipJsonSchema[Caller | None] = None


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
    # Represented by an attorney: under a state panel (CA-QME) the parties each strike one
    # examiner (LC 4062.2); an unrepresented claimant chooses one (LC 4062.1).
    represented: bool = False
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
        if not at_intake(info):
            return value
        if value not in PROFILES:
            raise ValueError(f"unknown jurisdiction profile; expected one of {sorted(PROFILES)}")
        served = PROFILES[value].claim_types
        claim_type = info.data.get("claim_type")
        if served and isinstance(claim_type, ClaimType) and claim_type.value not in served:
            raise ValueError(
                f"the {value} profile serves {' and '.join(served)} claims, not {claim_type.value}"
            )
        return value


# --- actions (human steps) ------------------------------------------------------------------


class Assign(ActionInput):
    model_config = example_config(ACTION_EXAMPLES["assign"])

    examiner_id: Identifier


class ConfirmAppointment(ActionInput):
    model_config = example_config(ACTION_EXAMPLES["confirm-appointment"])

    pass


# Why the service itself released a booking (set by the service, like `acted_by`, never by a
# caller): recorded in the event, so the claim's timeline says why. A code, never free text.
# The workflow adds it to the event's details only when set: every recorded payload has none, so
# replay records the same details and no patch is needed (the commands never depend on it).
BookingReleaseCause = Literal["examiner_deactivated"]


class DeclineAppointment(ActionInput):
    model_config = example_config(ACTION_EXAMPLES["decline-appointment"])

    reason: Text
    cause: SkipJsonSchema[BookingReleaseCause | None] = None


class Reschedule(ActionInput):
    model_config = example_config(ACTION_EXAMPLES["reschedule"])

    reason: Text
    requested_by: Literal["claimant", "examiner", "ops"]
    cause: SkipJsonSchema[BookingReleaseCause | None] = None


class RiskScreen(Model):
    level: Literal["none", "low", "moderate", "imminent"]
    toward: Literal["self", "others"] | None = None
    notes: Annotated[str, StringConstraints(max_length=4000)] = ""


class ExamOutcome(ActionInput):
    model_config = example_config(ACTION_EXAMPLES["exam"])

    attended: bool
    risk_screen: RiskScreen = Field(default_factory=lambda: RiskScreen(level="none"))


class ExamReport(ActionInput):
    model_config = example_config(ACTION_EXAMPLES["report"])

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
    model_config = example_config(ACTION_EXAMPLES["review"])

    # On appeal (stage APPEAL): accepted (the file as it stands goes to the decision on appeal)
    # or new_exam_requested (a new IME, with an examiner other than the first).
    result: Literal["accepted", "addendum_requested", "new_exam_requested"]
    reasons: list[Text] = Field(default_factory=list, max_length=20)


class DecisionInput(ActionInput):
    model_config = example_config(ACTION_EXAMPLES["decision"])

    outcome: Literal["approved", "denied"]
    reason_code: Identifier
    notes: Annotated[str, StringConstraints(max_length=4000)] = ""


class ExtendDecision(ActionInput):
    model_config = example_config(ACTION_EXAMPLES["extend-decision"])

    reason: Text


class Appeal(ActionInput):
    """The claimant appeals a denial (ops or the insurer record it): when the plan received it,
    and why (free text, kept sealed with its event)."""

    model_config = example_config(ACTION_EXAMPLES["appeal"])

    received_at: datetime
    reason: Text

    @field_validator("received_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("must carry a UTC offset")
        return value.astimezone(UTC)


class AppealDecision(ActionInput):
    """The insurer's decision on appeal: the denial upheld or overturned, with a reason code of
    the profile's (an upheld denial's codes are its denial codes, an overturn's its approval
    codes)."""

    model_config = example_config(ACTION_EXAMPLES["appeal-decision"])

    outcome: Literal["upheld", "overturned"]
    reason_code: Identifier
    notes: Annotated[str, StringConstraints(max_length=4000)] = ""


class Withdraw(ActionInput):
    model_config = example_config(ACTION_EXAMPLES["withdraw"])

    reason: Text


class SafetyConcern(ActionInput):
    model_config = example_config(ACTION_EXAMPLES["safety-concern"])

    level: Literal["moderate", "imminent"]
    toward: Literal["self", "others"]
    notes: Annotated[str, StringConstraints(max_length=4000)] = ""


class SafetyAck(ActionInput):
    model_config = example_config(ACTION_EXAMPLES["safety-ack"])

    clinician_id: Identifier


class SafetyResolve(ActionInput):
    model_config = example_config(ACTION_EXAMPLES["safety-resolve"])

    actions_taken: list[
        Literal["emergency_services_contacted", "warm_handoff", "referral_to_treatment"]
    ] = Field(min_length=1)
    notes: Annotated[str, StringConstraints(max_length=4000)] = ""


class RequestReportCopy(ActionInput):
    """The claimant's copy of the report is asked for (profiles that give it on request). The
    reason is free text: it stays in the workflow's (encrypted) history, not in the audit log."""

    model_config = example_config(ACTION_EXAMPLES["request-report-copy"])

    reason: ShortText | None = None


class ProceedWithoutRecords(ActionInput):
    """Ops hold the exam although its records lead was missed (the reason stays in the
    workflow's encrypted history)."""

    model_config = example_config(ACTION_EXAMPLES["proceed-without-records"])

    reason: Text


class InterpreterBooked(ActionInput):
    """Ops booked the interpreter the referral asks for; `reference` is the booking's with the
    interpreting service (never the claimant's details)."""

    model_config = example_config(ACTION_EXAMPLES["interpreter-booked"])

    reference: ShortText | None = None


class RecordsReceived(ActionInput):
    """Sent by the service (never a caller): a `records` document was stored for the claim."""

    document_id: Identifier


# --- the examiner panel and the claim listing -----------------------------------------------


class Examiner(Input):
    model_config = example_config(EXAMINER_EXAMPLE)

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


class ClaimantLookup(Input):
    """Who a claim is for, to find it by (`POST /v1/claims/search` and the console's search):
    sent in a body, never in a URL."""

    full_name: ShortText
    date_of_birth: date


# Fields an edit may not remove (JSON merge patch: `null` removes a field; only `email` may go).
_REQUIRED_ON_THE_PANEL = ("name", "specialty", "licensed_states", "capacity", "location", "active")
_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class ExaminerPatch(Input):
    """An edit of a panel entry (`PATCH /v1/examiners/{id}`), a JSON merge patch: the fields sent
    change, the others stay. Id and NPI never change. `active: false` takes the examiner off the
    panel: no new bookings, and their open bookings are booked with someone else
    (`panel_service.Panel.deactivate`)."""

    model_config = example_config({"capacity": 30, "licensed_states": ["NY", "NJ"]})

    name: ShortText | None = None
    specialty: Specialty | None = None
    licensed_states: list[StateCode] | None = Field(default=None, min_length=1)
    capacity: int | None = Field(default=None, ge=1, le=10_000)
    location: ShortText | None = None
    email: Annotated[str, StringConstraints(pattern=_EMAIL)] | None = None
    active: bool | None = None

    @field_validator(*_REQUIRED_ON_THE_PANEL, mode="before")
    @classmethod
    def _not_removed(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be null: every examiner has one")
        return value

    def changes(self) -> dict[str, Any]:
        """The fields sent, as the panel stores them."""
        return self.model_dump(mode="json", exclude_unset=True)


# How many away periods an examiner keeps, and how long one may be.
MAX_AWAY_PERIODS = 100
MAX_AWAY_DAYS = 366


class AwayPeriod(Input):
    """Whole days an examiner is away, `ends_on` inclusive, in the examiner's local sense: the
    booking reads a slot's day in the timezone it books in (the claim's profile timezone)."""

    starts_on: date
    ends_on: date

    @field_validator("ends_on")
    @classmethod
    def _ends_after_start(cls, ends_on: date, info: ValidationInfo) -> date:
        starts_on = info.data.get("starts_on")
        if isinstance(starts_on, date):
            if ends_on < starts_on:
                raise ValueError("must be on or after starts_on")
            if (ends_on - starts_on).days >= MAX_AWAY_DAYS:
                raise ValueError(f"a period is at most {MAX_AWAY_DAYS} days long")
        return ends_on


class AwayPeriods(Input):
    """An examiner's away periods, the whole list (`PUT /v1/examiners/{id}/away`): it replaces
    the one kept. Periods may lie in the past (a list read and sent back never fails because a
    day went by; the booking never looks there); they may not overlap."""

    model_config = example_config(
        {"periods": [{"starts_on": "2026-12-21", "ends_on": "2027-01-01"}]}
    )

    periods: list[AwayPeriod] = Field(max_length=MAX_AWAY_PERIODS)

    @field_validator("periods")
    @classmethod
    def _no_overlap(cls, periods: list[AwayPeriod]) -> list[AwayPeriod]:
        ordered = sorted(range(len(periods)), key=lambda i: periods[i].starts_on)
        for before, after in pairwise(ordered):
            if periods[after].starts_on <= periods[before].ends_on:
                raise ValueError(f"periods {min(before, after)} and {max(before, after)} overlap")
        return sorted(periods, key=lambda p: p.starts_on)


class ClaimQuery(Input):
    """Filters of `GET /v1/claims`; `cursor` continues from the previous page."""

    stage: Stage | None = None
    outcome: Outcome | None = None
    jurisdiction: Identifier | None = None
    insurer_id: Identifier | None = None
    overdue: bool | None = None
    safety_hold: bool | None = None
    updated_after: datetime | None = None
    # An exact claim number (the insurer's own reference).
    claim_number: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    # `updated`: oldest update first, for incremental polling; `next_deadline`: soonest deadline
    # first, claims without one last (a work list).
    sort: Literal["updated", "next_deadline"] = "updated"
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
