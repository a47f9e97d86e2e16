"""The state of one claim and its transitions, as plain data and pure methods.

The claim workflow holds one `ClaimState` and changes it only through these methods; the workflow
adds the waiting and the side effects. Nothing here does I/O or reads a clock: every method that
needs the time is given `now` (the workflow passes `workflow.now()`), so each rule is unit-tested
without a Temporal server, and the state serialises as it is (pydantic).

Refusals are `ApplicationError`s of type ActionNotAllowed (`domain.refusal`): raised by `check`
from an update validator they keep the update out of history; raised after a handler waited its
turn they fail only that update.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import Field

from domain.appeal import AppealPhase, ClaimAppeal
from domain.claim_checks import step_refusal
from domain.lifecycle import (
    ACTION_STAGES,
    ADVERSE_OUTCOMES,
    APPOINTMENT_ACTIONS,
    CLAIMANT_NOTICE,
    DEADLINES,
    NEXT_STAGES,
    action_stages,
)
from domain.models import (
    AppointmentRef,
    ClaimIdentity,
    ClaimStatus,
    Deadline,
    DecisionInput,
    DecisionRecord,
    ExaminerRef,
    ExaminerSearch,
    Lineage,
    Outcome,
    Recommendation,
    Referral,
    Stage,
)
from domain.names import Action, DeadlineName, Recipient, Template
from domain.preparation import ExamPreparation
from domain.profiles import JurisdictionProfile
from domain.refusal import refuse
from domain.selection import ExaminerSelection


class IllegalTransition(RuntimeError):
    """A stage move PRODUCT §3 does not allow: a bug in the workflow, never a user's doing."""


@dataclass(frozen=True)
class Closing:
    """What the claim says as it closes: to whom the outcome's notice goes."""

    claimant_notice: Template | None
    # An adverse notice held back while the claimant is on safety hold (ops send it later).
    deferred_notice: Template | None


class ClaimState(ClaimIdentity):
    # The claimant's state: the holiday calendar and, for some profiles, the examiner's licence.
    claimant_state: str
    created_at: datetime
    updated_at: datetime

    # Loaded by the first activity; fixed for the claim's life.
    profile: JurisdictionProfile | None = None

    stage: Stage = Stage.REFERRAL
    outcome: Outcome | None = None
    # Set by the action that closes the claim, before it finishes recording.
    closing: bool = False
    examiner: ExaminerRef | None = None
    appointment: AppointmentRef | None = None
    deadlines: dict[DeadlineName, Deadline] = Field(default_factory=dict)
    recommendation: Recommendation | None = None
    decision: DecisionRecord | None = None

    booking_attempts: int = 0
    # Ops were told that no examiner is eligible; reset by the next booking.
    awaiting_examiner: bool = False
    # Why the last booking attempt found no examiner; cleared by the next booking.
    examiner_search: ExaminerSearch | None = None
    declined_by: list[str] = Field(default_factory=list)
    # Examiners taken off the claim for a late report: never booked again, their report refused.
    replaced_examiners: list[str] = Field(default_factory=list)
    # The last moment the profile's exam window allows (None: the profile sets no window).
    exam_window_ends: datetime | None = None
    # How many times each escalation rung has fired (a re-raised rung counts up).
    escalations: dict[DeadlineName, int] = Field(default_factory=dict)
    no_shows: int = 0
    preparation: ExamPreparation = Field(default_factory=ExamPreparation)
    selection: ExaminerSelection = Field(default_factory=ExaminerSelection)
    appeal: ClaimAppeal = Field(default_factory=ClaimAppeal)
    addenda: int = 0
    # Reports filed so far (each is a stored version: the first the report, then addenda), and
    # whether the claimant's copy was asked for (profiles that give it on request).
    reports_submitted: int = 0
    report_copy_requested: bool = False
    decision_extensions: int = 0
    open_safety_cases: list[str] = Field(default_factory=list)
    safety_cases_opened: int = 0
    # Events recorded so far: the audit sequence and the projection's version.
    seq: int = 0
    # Set when an operator resets the claim's workflow: the writes from then on are the reset
    # run's lineage (`Lineage`), so that what the run before did is superseded, not collided with.
    lineage: Lineage | None = None

    @classmethod
    def open(
        cls, referral: Referral, *, claim_id: str, workflow_id: str, at: datetime
    ) -> ClaimState:
        initial = ClaimStatus.initial(referral, claim_id=claim_id, workflow_id=workflow_id, at=at)
        kept = [*ClaimIdentity.model_fields, "created_at", "updated_at"]
        return cls(
            **{name: getattr(initial, name) for name in kept},
            claimant_state=referral.claimant.address.state,
        )

    # --- reading --------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self.stage is Stage.CLOSED

    @property
    def safety_hold(self) -> bool:
        return bool(self.open_safety_cases)

    @property
    def needs_booking(self) -> bool:
        return self.stage is Stage.SCHEDULING and self.appointment is None

    @property
    def calendar_state(self) -> str:
        """The state whose holidays count and whose licence the examiner needs."""
        return self.require_profile().examiner_licence_state(self.claimant_state)

    def require_profile(self) -> JurisdictionProfile:
        if self.profile is None:
            # Only in the first instants of a claim, before its profile is loaded.
            raise refuse("the claim is still being registered")
        return self.profile

    def active_deadline(self) -> Deadline | None:
        """The current stage's earliest pending deadline: what the claim waits on next."""
        pending = [
            d
            for d in self.deadlines.values()
            if d.met_at is None and not d.breached and self._guards_now(d)
        ]
        return min(pending, key=lambda d: d.due_at, default=None)

    @property
    def overdue(self) -> bool:
        return not self.closed and any(
            d.breached and d.met_at is None for d in self.deadlines.values()
        )

    def _guards_now(self, deadline: Deadline) -> bool:
        """The deadline runs in the current stage (or, claim-wide, in every open stage)."""
        guarded = DEADLINES[deadline.name].stage
        return guarded is self.stage or (guarded is None and not self.closed)

    @property
    def excluded_examiners(self) -> list[str]:
        """Examiners never to book again on this claim: declined, let a booking lapse, or
        replaced for a late report."""
        on_appeal = self.appeal.examiners if self.appeal.under_way else []
        return sorted({*self.declined_by, *self.replaced_examiners, *on_appeal})

    def wake_at(self, deadline: Deadline) -> datetime:
        """When to act on `deadline` next: its reminder if still to send, else its due time."""
        if deadline.remind_at is not None and not deadline.reminded:
            return min(deadline.due_at, deadline.remind_at)
        return deadline.due_at

    def status(self) -> ClaimStatus:
        """What callers see: the projection's body, the update answers, the status query."""
        upcoming = self.active_deadline()
        return ClaimStatus(
            claim_id=self.claim_id,
            workflow_id=self.workflow_id,
            insurer_id=self.insurer_id,
            claim_number=self.claim_number,
            claim_type=self.claim_type,
            jurisdiction=self.jurisdiction,
            stage=self.stage,
            status="closed" if self.closed else "open",
            outcome=self.outcome,
            safety_hold=self.safety_hold,
            recommendation=self.recommendation,
            examiner=self.examiner,
            appointment=self.appointment,
            deadlines=[d.model_copy() for d in self.deadlines.values()],
            decision=self.decision,
            overdue=self.overdue,
            next_deadline=upcoming.due_at if upcoming else None,
            examiner_search=self.examiner_search,
            interpreter_to_book=self.preparation.held_notice is not None,
            selection=self.selection.view(),
            appeal=self.appeal.view(),
            created_at=self.created_at,
            updated_at=self.updated_at,
            version=self.seq,
        )

    # --- refusals -------------------------------------------------------------------------------

    def check(self, action: Action, now: datetime, payload: object = None) -> None:
        """Refuse `action` if it is not allowed now; never changes the state."""
        if action not in ACTION_STAGES:
            raise ValueError(f"{action} is not an action on the claim")
        if action in (Action.WITHDRAW, Action.SAFETY_CONCERN):
            if action is Action.SAFETY_CONCERN:
                self.require_profile()
            if self.closed or self.closing:
                raise refuse(
                    "the claim is already closed"
                    if action is Action.WITHDRAW
                    else "the claim is closed"
                )
            return
        if action is Action.APPEAL:
            self.appeal.check_appeal(payload, self.require_profile(), self.decision, now)
            return
        if action is Action.EXTEND_DECISION and self.appeal.under_way and not self.closing:
            due = self.deadlines.get(DeadlineName.APPEAL_DECISION)
            self.appeal.check_extension(self.require_profile(), due.due_at if due else None, now)
            return
        self._require_stage(action_stages(action, self.profile))
        profile = self.require_profile()
        if action in APPOINTMENT_ACTIONS and self.appointment is None:
            raise refuse("no appointment is booked yet")
        self.preparation.check(action, self.deadlines, self.appointment, profile)
        self.selection.check(action, payload, profile.selection)
        if (
            action is Action.EXAM
            and self.appointment is not None
            and now < self.appointment.starts_at
        ):
            raise refuse("the exam outcome can be recorded only once the appointment has started")
        if why := step_refusal(self, action, now, payload):
            raise refuse(why)

    def check_same_appointment(self, seen: AppointmentRef | None) -> None:
        """After waiting for a booking to finish: the action was meant for `seen`."""
        if seen is None or self.appointment is None or self.appointment.id != seen.id:
            raise refuse(
                "the appointment changed while this action waited; read the claim and act on "
                "the new appointment"
            )

    def _require_stage(self, stages: frozenset[Stage]) -> None:
        if self.stage not in stages:
            expected = " or ".join(s.value for s in Stage if s in stages)
            raise refuse(f"not allowed in stage {self.stage.value}; allowed in {expected}")
        if self.closing:
            raise refuse("the claim is closing")

    # --- stage moves ----------------------------------------------------------------------------

    def enter(self, stage: Stage, now: datetime) -> None:
        """Move to `stage`; the deadlines of the stage being left are met from now on."""
        if self.closed:
            return  # nothing reopens a closed claim
        if stage not in NEXT_STAGES[self.stage]:
            raise IllegalTransition(f"{self.stage.value} -> {stage.value}")
        for deadline in self.deadlines.values():
            guarded = DEADLINES[deadline.name].stage
            left = guarded is self.stage or (guarded is None and stage is Stage.CLOSED)
            if deadline.met_at is None and left:
                deadline.met_at = now
        self.stage = stage
        if stage is Stage.CLOSED:
            self.closing = True

    def close(self, outcome: Outcome, now: datetime) -> None:
        if self.appeal.under_way:  # withdrawn (the appeal's only other close): the denial stands
            outcome = Outcome.APPEAL_WITHDRAWN
            self.appeal.withdrawn()
        self.outcome = outcome
        self.enter(Stage.CLOSED, now)

    def begin_closing(self) -> None:  # a closing action was accepted: nothing else may start
        self.closing = True

    # --- deadlines ------------------------------------------------------------------------------

    def set_deadlines(self, due: dict[str, datetime], now: datetime) -> None:
        """Start deadlines (name -> due time) with a reminder at the profile's fraction (not
        for escalation rungs: they are the reminder)."""
        fraction = self.require_profile().reminder_fraction
        for name, at in due.items():
            key = DeadlineName(name)
            reminded = DEADLINES[key].remind and at > now
            remind_at = now + (at - now) * fraction if reminded else None
            self.deadlines[key] = Deadline(name=key, due_at=at, remind_at=remind_at)

    def set_deadlines_in(self, stage: Stage, due: dict[str, datetime], now: datetime) -> None:
        """Start deadlines computed for `stage`, unless the claim has left it meanwhile."""
        if self.stage is stage:
            self.set_deadlines(due, now)

    def deadline_owner(self, deadline: Deadline) -> Recipient:
        return DEADLINES[DeadlineName(deadline.name)].owner

    def mark_reminded(self, deadline: Deadline) -> None:
        deadline.reminded = True

    def mark_breached(self, deadline: Deadline) -> None:
        deadline.breached = True

    def count_escalation(self, deadline: Deadline) -> int:
        """A rung fired: how many times this one has, now."""
        raised = self.escalations.get(deadline.name, 0) + 1
        self.escalations[deadline.name] = raised
        return raised

    def start_rung(self, name: DeadlineName, due_at: datetime, now: datetime, stage: Stage) -> None:
        """Start the next rung of a breached deadline's chain, unless the claim has moved on
        from `stage` (the breach's stage) meanwhile; a claim-wide rung runs until the close."""
        if (DEADLINES[name].stage is None and not self.closed) or self.stage is stage:
            self.set_deadlines({name: due_at}, now)

    # --- scheduling -----------------------------------------------------------------------------

    def next_booking_attempt(self) -> int:
        self.booking_attempts += 1
        return self.booking_attempts

    def publish_booking(
        self, examiner: ExaminerRef, appointment: AppointmentRef, now: datetime
    ) -> AppointmentRef | None:
        """Show a new booking; returns the appointment it replaces (to release), if any."""
        replaced = self.appointment
        self.awaiting_examiner = False
        self.examiner_search = None
        self.enter(Stage.SCHEDULING, now)  # the previous booking's confirmation window is over
        self.examiner, self.appointment = examiner, appointment
        return replaced

    def decline(self, now: datetime) -> tuple[AppointmentRef, str]:
        """The examiner declines: back to booking without them. Returns what to release."""
        assert self.appointment is not None and self.examiner is not None
        declined, examiner_id = self.appointment, self.examiner.id
        if examiner_id not in self.declined_by:
            self.declined_by.append(examiner_id)
        self.selection.lost(examiner_id, self.deadlines, now)  # the state names another
        self.enter(Stage.SCHEDULING, now)
        self.appointment = self.examiner = None
        return declined, examiner_id

    def expire_booking(self, now: datetime) -> tuple[AppointmentRef, str]:
        """Unconfirmed past its window: released, as if declined (never booked again)."""
        return self.decline(now)

    def replace_examiner(self, now: datetime) -> str:
        """The report is late past the grace: the examiner is taken off the claim and a new
        exam is booked with someone else. Once per claim. Returns the replaced examiner's id."""
        assert self.examiner is not None
        replaced = self.examiner.id
        self.replaced_examiners.append(replaced)
        self.selection.lost(replaced, self.deadlines, now)
        self.enter(Stage.SCHEDULING, now)
        self.appointment = self.examiner = None
        return replaced

    @property
    def examiner_replaced(self) -> bool:
        return bool(self.replaced_examiners)

    def release_appointment(self, now: datetime) -> AppointmentRef:
        """A new appointment is needed (reschedule): returns the one to release."""
        assert self.appointment is not None
        released = self.appointment
        self.enter(Stage.SCHEDULING, now)
        self.appointment = None
        return released

    # --- exam, report, review, decision ---------------------------------------------------------

    def confirm(self, now: datetime) -> AppointmentRef:
        assert self.appointment is not None
        self.enter(Stage.EXAM, now)
        return self.appointment

    def attended(self, now: datetime) -> None:
        if self.examiner is not None:
            self.appeal.note_examined(self.examiner.id)
        self.enter(Stage.REPORT, now)

    def no_show(self, now: datetime) -> int:
        """Count a missed exam: back to scheduling, or closed past the profile's limit."""
        self.no_shows += 1
        if self.no_shows > self.require_profile().max_no_shows and self.appeal.under_way:
            self.appeal.report_accepted()  # the new IME on appeal missed: decided on the file
            self.enter(Stage.APPEAL, now)
        elif self.no_shows > self.require_profile().max_no_shows:
            self.close(Outcome.NON_COOPERATION, now)
        else:
            self.enter(Stage.SCHEDULING, now)
            self.appointment = None
        return self.no_shows

    def wants_addendum(self, findings: list[str]) -> bool:
        """Automatic QA failed and another addendum may still be asked for."""
        return bool(findings) and self.addenda_of_this_report < self.require_profile().max_addenda

    @property
    def addenda_of_this_report(self) -> int:  # a new IME on appeal has its own addenda
        return self.addenda - self.appeal.addenda_before

    def request_addendum(self, now: datetime) -> int:
        self.addenda += 1
        self.enter(Stage.REPORT, now)
        return self.addenda

    def submit_report(self, recommendation: Recommendation | None, now: datetime) -> None:
        self.recommendation = recommendation
        self.enter(Stage.REVIEW, now)

    def accept_report(self, now: datetime) -> None:
        if self.appeal.phase is AppealPhase.NEW_EXAM:  # the new IME on appeal: back to APPEAL
            self.appeal.report_accepted()
            self.enter(Stage.APPEAL, now)
        else:
            self.enter(Stage.DECISION, now)

    def start_extension(self) -> int:
        self.decision_extensions += 1
        return self.decision_extensions

    def decide(self, decision: DecisionInput, now: datetime) -> None:
        self.decision = DecisionRecord(
            outcome=decision.outcome, reason_code=decision.reason_code, decided_at=now
        )
        self.appeal.note_decision(decision.acted_by)
        self.close(Outcome(decision.outcome), now)

    def closing_notices(self) -> Closing:
        notice = CLAIMANT_NOTICE.get(self.outcome) if self.outcome else None
        if notice and self.safety_hold and self.outcome in ADVERSE_OUTCOMES:
            return Closing(claimant_notice=None, deferred_notice=notice)
        return Closing(claimant_notice=notice, deferred_notice=None)

    # --- safety hold ----------------------------------------------------------------------------

    def open_safety_case(self) -> str | None:
        """Hold the claim with a new case; None when one is open already (re-page on it)."""
        if self.open_safety_cases:
            return None
        self.safety_cases_opened += 1
        case_id = f"{self.workflow_id}-safety-{self.safety_cases_opened}"
        self.open_safety_cases.append(case_id)
        return case_id

    def end_safety_case(self, case_id: str) -> bool:
        """The case ended; True when that lifts the hold of a claim still open."""
        self.open_safety_cases.remove(case_id)
        return not self.open_safety_cases and not self.closed

    # --- recording ------------------------------------------------------------------------------

    def branch(self, run_tag: str) -> Lineage:
        """The workflow was reset to this point (its run `run_tag`): the writes from here on
        are a new lineage's, branched from the current one at the next sequence number."""
        parent = self.lineage.id if self.lineage else ""
        self.lineage = Lineage(id=run_tag, parent=parent, from_seq=self.seq + 1)
        return self.lineage

    @property
    def lineage_tag(self) -> str | None:
        return self.lineage.id if self.lineage else None

    def next_event(self, now: datetime) -> int:
        """A transition is being recorded: its sequence number (and the new version)."""
        self.seq += 1
        self.updated_at = now
        return self.seq
