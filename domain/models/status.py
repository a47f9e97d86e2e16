"""What the service shows of a claim: its status (the projection insurers poll), its audit
events and timeline, its listing pages and its report.

Read by the API, the CLI and the store (`claims`, `claim_events`, `reports`), and by the claim
workflow, which computes the status and sends it, with its event, in every transition's write:
`ClaimStatus`, `ClaimEvent` and the refs they hold are replayed from recorded histories, so the
rule at the top of `domain.models.payloads` holds for them too.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, model_validator

from domain.models.base import Caller, Model
from domain.models.inputs import (
    AwayPeriod,
    ClaimType,
    Examiner,
    ExamReport,
    Referral,
    Specialty,
)
from domain.names import DeadlineName, EventType, Outcome, PassOverRule, Stage


class Recommendation(StrEnum):
    APPROVE = "approve"
    DENY = "deny"


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


class PassedOver(Model):
    """An examiner of the panel a booking could not use, and the rule that excluded them."""

    examiner_id: str
    rule: PassOverRule


class ExaminerSearch(Model):
    """Why a claim waits for an examiner: the last booking attempt's look at the panel. Lists
    every examiner who holds the requested specialty with the first rule that excluded them,
    and counts the rest (who lack it). Examiner ids and rule names only: no claimant data."""

    searched_at: datetime
    passed_over: list[PassedOver] = Field(default_factory=list)
    without_specialty: int = 0


class SelectionView(Model):
    """Where the state picks the examiner (`domain.selection`): what it issued and where the
    parties stand. Examiner ids and the state's reference only."""

    kind: Literal["state_panel_strike", "state_assigned"]
    # awaiting_state, window (strikes or the claimant's choice), choosing, selected.
    phase: str
    represented: bool = False
    reference: str | None = None
    panel: list[str] = Field(default_factory=list)
    # Party (insurer, claimant) -> the examiner it struck.
    struck: dict[str, str] = Field(default_factory=dict)
    # Who chooses once the window closed with more than one left: insurer, claimant or either.
    chooser: str | None = None
    examiner_id: str | None = None


class AppealView(Model):
    """The appeal of a denial (`domain.appeal`): its window, where it stands, its decision.
    Dates, phases and codes only: the claimant's reasons are kept sealed with their event."""

    # window (the claimant may appeal until `window_ends`), lapsed (no appeal came), review,
    # new_exam (a new IME asked for on appeal), deciding, decided.
    phase: str
    window_ends: datetime | None = None
    received_at: datetime | None = None
    extended: bool = False
    outcome: Literal["upheld", "overturned"] | None = None
    reason_code: str | None = None
    decided_at: datetime | None = None


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
    # Ops hold the claim's records (litigation, a subpoena...): the retention sweep leaves them.
    # Kept beside the projection (`claims.legal_hold`, set outside the workflow) and laid over
    # the stored status when it is read.
    legal_hold: bool = False
    recommendation: Recommendation | None = None
    examiner: ExaminerRef | None = None
    appointment: AppointmentRef | None = None
    deadlines: list[Deadline] = Field(default_factory=list)
    decision: DecisionRecord | None = None
    # A breached deadline's step is still undone.
    overdue: bool = False
    # When the current stage's pending deadline falls due, if it has one.
    next_deadline: datetime | None = None
    # While no examiner can be booked: why (cleared by the next booking).
    examiner_search: ExaminerSearch | None = None
    # The claimant's appointment notice waits for ops to book the interpreter the referral asks
    # for (`interpreter-booked`).
    interpreter_to_book: bool = False
    # Where the state picks the examiner (CA-QME, TX-DD, PA-IRE); None: the vendor books.
    selection: SelectionView | None = None
    # Where a denial may be appealed (ERISA-LTD, DEMO); None: no appeal is open to this claim.
    appeal: AppealView | None = None
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
    # The reset lineage it was written by, as read from the log (never sent: the write carries
    # its lineage beside the event).
    lineage: str = Field(default="", exclude=True)


class ClaimPage(Model):
    items: list[ClaimStatus]
    next_cursor: str | None = None


class Superseded(Model):
    """An operator reset the claim's workflow to an earlier point: this event, recorded by the
    run before, no longer stands. When the reset was seen, and the last event it went back to
    (who reset it, Temporal does not say)."""

    reset_seen_at: datetime
    resumed_after_seq: int


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
    # Set on what a reset superseded.
    superseded: Superseded | None = None
    # What the person wrote when they acted (a reason, notes), to those who may read it
    # (`domain.timeline.may_read_note`); absent for everyone else.
    note: str | None = None


# --- reports --------------------------------------------------------------------------------

# A stored report version: filed (passed the automatic QA, or went to review once the addenda
# ran out), sent back by the QA, sent back by the reviewer, or accepted.
ReportStatus = Literal["submitted", "qa_failed", "addendum_requested", "accepted"]
ReportKind = Literal["report", "addendum"]


class ReportVersion(Model):
    version: int
    kind: ReportKind
    status: ReportStatus
    submitted_at: datetime
    # Why this version went back for an addendum: the reviewer's reasons verbatim (status
    # `addendum_requested`) or the automatic QA's findings (`qa_failed`); None otherwise, and for
    # versions sent back before reasons were kept.
    addendum_reasons: list[str] | None = Field(
        default=None,
        description="why this version was sent back for an addendum: the reviewer's reasons as "
        "written (`addendum_requested`) or the automatic QA checklist's findings (`qa_failed`); "
        "null for other versions and those sent back before reasons were kept",
    )


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


class ClaimQuestions(Model):
    """`GET /v1/claims/{claim_id}/questions`: the referral's questions, in the order the
    report's `answers` answer them."""

    claim_id: str
    questions: list[str]


# --- the examiner panel -----------------------------------------------------------------------


class ExaminerWithLoad(Examiner):
    """A panel entry as ops see it: with its load, the open (`booked`) appointments its
    `capacity` bounds (`load` = open_bookings / capacity)."""

    open_bookings: int = Field(ge=0)
    load: float = Field(ge=0)


class RebookedClaim(Model):
    """A claim whose booking with a deactivated examiner was released through the claim's own
    action (`decline-appointment` in SCHEDULING, `reschedule` in EXAM); the claim books the next
    eligible examiner. `examiner_id`: who it is booked with now (None: not yet, when the answer
    was given; the claim keeps trying, and tells ops when nobody is eligible)."""

    claim_id: str
    stage: Stage
    action: Literal["decline-appointment", "reschedule"]
    examiner_id: str | None = None


class LeftClaim(Model):
    """A claim of a deactivated examiner that was not re-booked, and why (for ops to act on)."""

    claim_id: str
    stage: Stage
    reason: Literal[
        "report_stage",
        "in_review",
        "exam_time_passed",
        "not_current",
        "refused",
        "unavailable",
    ]
    message: str


class Deactivation(Model):
    """What taking an examiner off the panel did: the examiner as now listed, the claims whose
    booking moved on, and those left with them (each with its reason)."""

    examiner: ExaminerWithLoad
    rebooked: list[RebookedClaim] = Field(default_factory=list)
    left: list[LeftClaim] = Field(default_factory=list)


class ExaminerAway(Model):
    """An examiner's away periods, soonest first, and the claims booked with them on an away day
    (`conflicts`): those bookings are not moved; ops act on them (reschedule or assign)."""

    examiner_id: str
    periods: list[AwayPeriod]
    conflicts: list[str] = Field(default_factory=list)


class ExaminerEdited(ExaminerWithLoad):
    """The answer of an edit: the examiner as listed; when the edit deactivated them, what that
    did to their claims (`deactivation`, else null)."""

    deactivation: Deactivation | None = None
