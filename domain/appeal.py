"""The appeal of a denial, as plain data and pure rules (patch `denial-appeal`).

Where the profile grants one (ERISA-LTD: 29 CFR 2560.503-1(h)-(i); DEMO), a denied claim stays
appealable for `appeal_within` after the decision (`WINDOW`). An appeal received in time reopens
it in APPEAL (`REVIEW`): a reviewer who did not review the claim before either sends the file as
it stands to the insurer (`DECIDING`) or asks for a new IME (`NEW_EXAM`: SCHEDULING..REVIEW again,
with an examiner who did not examine the claimant before, its report reviewed by someone other
than the first reviewers); the insurer, someone other than who denied it, decides on appeal
(`DECIDED`) within `appeal_decision_due` of the receipt, once extendable by `appeal_extension`.

Who did what before the appeal is kept as the claim goes (`note_review`, `note_decision`, the
examiners who examined): the rules compare people by their account or key (`Caller.person`).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from domain.models import (
    Appeal,
    AppealDecision,
    AppealView,
    Caller,
    DecisionRecord,
    Model,
    Outcome,
    ReviewResult,
    Stage,
)
from domain.names import DeadlineName
from domain.profiles import JurisdictionProfile
from domain.refusal import refuse

if TYPE_CHECKING:
    from domain.claim_state import ClaimState


class AppealPhase(StrEnum):
    NONE = "none"  # no appeal is open to the claim (not denied, or no appeal granted)
    WINDOW = "window"
    LAPSED = "lapsed"
    REVIEW = "review"
    NEW_EXAM = "new_exam"
    DECIDING = "deciding"
    DECIDED = "decided"
    WITHDRAWN = "withdrawn"  # the claimant withdrew the appeal: the denial stands


# The phases in which the appeal is under way (the claim open again).
UNDER_WAY = frozenset({AppealPhase.REVIEW, AppealPhase.NEW_EXAM, AppealPhase.DECIDING})

# The closing outcome of an appeal by its decision.
APPEAL_OUTCOMES = {"upheld": Outcome.APPEAL_UPHELD, "overturned": Outcome.APPEAL_OVERTURNED}
# The decision's outcome each appeal outcome states its reason with (the profile's codes).
REASON_OUTCOME = {"upheld": "denied", "overturned": "approved"}


def person(caller: Caller | None) -> str | None:
    """Who acted, as the rules compare people: the signed-in account, else the API key."""
    if caller is None:
        return None
    if caller.user_id:
        return f"user:{caller.user_id}"
    return f"key:{caller.key_id}" if caller.key_id else None


class ClaimAppeal(Model):
    phase: AppealPhase = AppealPhase.NONE
    window_ends: datetime | None = None
    # The closing steps of the denial are recorded: an appeal may reopen the claim from now on.
    accepting: bool = False
    received_at: datetime | None = None
    # Before the appeal: who reviewed a report, who decided, who examined the claimant.
    reviewers: list[str] = Field(default_factory=list)
    decided_by: str | None = None
    examiners: list[str] = Field(default_factory=list)
    # Addenda asked of the reports before a new IME on appeal (its report has its own limit).
    addenda_before: int = 0
    # The denial appealed.
    denial: DecisionRecord | None = None
    extended: bool = False
    outcome: Literal["upheld", "overturned"] | None = None
    reason_code: str | None = None
    decided_at: datetime | None = None

    @property
    def under_way(self) -> bool:
        return self.phase in UNDER_WAY

    def view(self) -> AppealView | None:
        if self.phase is AppealPhase.NONE:
            return None
        return AppealView(
            phase=self.phase.value,
            window_ends=self.window_ends,
            received_at=self.received_at,
            extended=self.extended,
            outcome=self.outcome,
            reason_code=self.reason_code,
            decided_at=self.decided_at,
        )

    # --- what happens before an appeal (kept on every claim: replay-safe, no command) ----------

    def note_review(self, caller: Caller | None) -> None:
        who = person(caller)
        if who and not self.under_way and who not in self.reviewers:
            self.reviewers.append(who)

    def note_decision(self, caller: Caller | None) -> None:
        self.decided_by = person(caller)

    def note_examined(self, examiner_id: str) -> None:
        if not self.under_way and examiner_id not in self.examiners:
            self.examiners.append(examiner_id)

    # --- refusals (never change the state) ------------------------------------------------------

    def check_appeal(
        self,
        appeal: object,
        profile: JurisdictionProfile,
        denial: DecisionRecord | None,
        now: datetime,
    ) -> None:
        if not profile.grants_appeal:
            raise refuse(
                f"{profile.name} grants no appeal through this service: the claimant appeals "
                "as the decision letter says"
            )
        if self.phase in UNDER_WAY or self.phase in (AppealPhase.DECIDED, AppealPhase.WITHDRAWN):
            raise refuse("this claim's denial was appealed already")
        if self.phase is AppealPhase.LAPSED and self.window_ends is not None:
            raise refuse(f"the appeal window ended on {self.window_ends.isoformat()}")
        if denial is None or denial.outcome != "denied":
            raise refuse("only a denied claim may be appealed, once it is decided")
        if self.phase is not AppealPhase.WINDOW or not self.accepting:
            raise refuse("the denial is still being recorded; retry shortly")
        if not isinstance(appeal, Appeal):
            return
        assert self.window_ends is not None
        if appeal.received_at > now:
            raise refuse("the appeal's received_at is in the future")
        if appeal.received_at < denial.decided_at:
            raise refuse("the appeal's received_at is before the denial it appeals")
        if appeal.received_at > self.window_ends:
            raise refuse(
                f"the appeal was received after its window ended ({self.window_ends.isoformat()})"
            )

    def check_review(self, review: object, *, in_appeal_stage: bool) -> None:
        """A review during the appeal: by someone who did not review the claim before; on the
        appeal itself (stage APPEAL) it decides the file or asks for a new IME."""
        if not isinstance(review, ReviewResult):
            return
        if in_appeal_stage and review.result == "addendum_requested":
            raise refuse(
                "on appeal the report is not sent back: accept the file as it stands or ask "
                "for a new examination (new_exam_requested)"
            )
        if not in_appeal_stage and review.result == "new_exam_requested":
            raise refuse("a new examination is asked for only on appeal")
        if not self.under_way:
            return
        who = person(review.acted_by)
        if who is None or who in self.reviewers:
            raise refuse("the appeal is reviewed by someone who did not review this claim before")

    def check_decision(self, decision: object) -> None:
        if self.phase is not AppealPhase.DECIDING:
            raise refuse(
                "the appeal is decided once its review is recorded"
                + (
                    " and the new examination's report accepted"
                    if self.phase is AppealPhase.NEW_EXAM
                    else ""
                )
            )
        if self.decided_by is None:
            # (h)(3)(ii): the rule cannot be kept without knowing who denied: ops decide by hand.
            raise refuse("who made the denial is not known, so the appeal cannot be decided here")
        if isinstance(decision, AppealDecision) and person(decision.acted_by) == self.decided_by:
            raise refuse("the appeal is decided by someone other than who made the denial")

    def check_extension(
        self, profile: JurisdictionProfile, due_at: datetime | None, now: datetime
    ) -> None:
        if profile.appeal_extension is None:
            raise refuse(f"{profile.name} allows no extension of the decision on appeal")
        if self.extended:
            raise refuse("the decision on appeal was extended already (once allowed)")
        if due_at is not None and now >= due_at:
            raise refuse(
                "the appeal's decision period has ended; an extension must be taken before it "
                f"ends ({due_at.isoformat()})"
            )

    # --- transitions ----------------------------------------------------------------------------

    def open_window(self, denial: DecisionRecord, ends: datetime) -> None:
        self.phase, self.window_ends, self.denial = AppealPhase.WINDOW, ends, denial

    def accept(self) -> None:
        if self.phase is AppealPhase.WINDOW:
            self.accepting = True

    def withdrawn(self) -> None:
        self.phase = AppealPhase.WITHDRAWN

    def lapse(self) -> None:
        if self.phase is AppealPhase.WINDOW:
            self.phase = AppealPhase.LAPSED

    def receive(self, appeal: Appeal) -> None:
        self.phase, self.received_at = AppealPhase.REVIEW, appeal.received_at

    def reviewed(self, result: str) -> None:
        self.phase = (
            AppealPhase.NEW_EXAM if result == "new_exam_requested" else AppealPhase.DECIDING
        )

    def report_accepted(self) -> None:
        self.phase = AppealPhase.DECIDING

    def extend(self) -> None:
        self.extended = True

    def decide(self, decision: AppealDecision, now: datetime) -> Outcome:
        self.phase = AppealPhase.DECIDED
        self.outcome, self.reason_code, self.decided_at = (
            decision.outcome,
            decision.reason_code,
            now,
        )
        return APPEAL_OUTCOMES[decision.outcome]


def reopen(state: ClaimState, appeal: Appeal) -> None:
    """An appeal received in its window: the denied claim opens again, in APPEAL (the only way
    out of CLOSED; the denial stays in `decision`)."""
    if state.examiner is not None:
        state.appeal.note_examined(state.examiner.id)
    state.appeal.receive(appeal)
    state.stage, state.outcome, state.closing = Stage.APPEAL, None, False


def new_exam(state: ClaimState, now: datetime) -> None:
    """The reviewer on appeal asks for a new IME: booked afresh from SCHEDULING, with none of the
    examiners who examined the claimant before (`ClaimState.excluded_examiners`), its report
    with its own addenda and the exam its own no-shows."""
    state.appeal.reviewed("new_exam_requested")
    state.enter(Stage.SCHEDULING, now)
    state.examiner = state.appointment = state.recommendation = None
    state.appeal.addenda_before, state.no_shows = state.addenda, 0
    state.exam_window_ends = None


# The review on appeal's deadlines: met when the review is recorded, though the stage (APPEAL)
# is not left; a rung counted meanwhile is not started (`workflows.escalation`).
REVIEW_DEADLINES = frozenset({DeadlineName.APPEAL_REVIEW, DeadlineName.APPEAL_REVIEW_ESCALATION})
