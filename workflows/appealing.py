"""The appeal of a denial (`domain.appeal`, patch `denial-appeal`).

Where the profile grants one, a denial does not end the run: `open_window` counts the window
before the closing steps record (so the closed claim shows it), and `awaited` waits for an
appeal until the window ends plus the escalation grace (the time ops have to record an appeal
the plan received on the window's last day; one received after the window is refused). An
appeal reopens the claim in APPEAL, and `ClaimWorkflow.run` goes round its loop again:

- `appeal`: the decision on appeal is due `appeal_decision_due` after the receipt (claim-wide,
  through a new IME too), the review on appeal the review SLA after now; the claimant is told,
  a reviewer asked.
- `review` in APPEAL (`review`, here): by a reviewer who did not review the claim before; the
  file goes to the insurer, or a new IME is booked with none of the examiners who examined the
  claimant (its report then reviewed, and accepted back into APPEAL, by `workflows.reporting`).
- `extend-decision` while the appeal is under way (`extend`): once, before the period ends.
- `appeal-decision`: by the insurer, someone other than who denied; the claim closes as
  `appeal_upheld` or `appeal_overturned`, and the closing steps send the claimant's letter.

Registered on the claim as `workflows.preparing` and `workflows.selecting` register theirs.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow

from workflows.clock import DeadlineClock
from workflows.effects import Notice
from workflows.generation import Generation
from workflows.recorder import Recorder
from workflows.registry import register

with workflow.unsafe.imports_passed_through():
    from domain.appeal import REVIEW_DEADLINES, AppealPhase, new_exam, reopen
    from domain.claim_state import ClaimState
    from domain.models import (
        ActionInput,
        Appeal,
        AppealDecision,
        ClaimStatus,
        ExtendDecision,
        Outcome,
        ReviewResult,
    )
    from domain.names import Action, Actor, DeadlineName, EventType, Recipient, Template
    from domain.refusal import refuse

_WINDOW, _RECORDING = "appeal_window", "appeal_recording"

# What this module registers on the claim: update name -> payload model.
UPDATES: dict[str, type[ActionInput]] = {
    Action.APPEAL: Appeal,
    Action.APPEAL_DECISION: AppealDecision,
}


class Appealing:
    def __init__(
        self, state: ClaimState, recorder: Recorder, clock: DeadlineClock, generation: Generation
    ) -> None:
        self._state = state
        self._recorder = recorder
        self._clock = clock
        self._generation = generation
        # When the run stops waiting for an appeal (the window's end plus the recording grace).
        self._waits_until: datetime | None = None
        register(
            state,
            (
                (Action.APPEAL, self.appeal),
                (Action.APPEAL_DECISION, self.appeal_decision),
            ),
        )

    # --- the window -----------------------------------------------------------------------------

    async def open_window(self) -> None:
        """The claim has just been denied: where its profile grants an appeal, count the window
        from the decision, before the closing steps record. (A denial's notice is never held:
        no decision is issued while the claimant is on safety hold.) The patch is asked here, by
        such claims only."""
        state, profile = self._state, self._state.require_profile()
        denial = state.decision
        if (
            state.outcome is not Outcome.DENIED
            or denial is None
            or not profile.grants_appeal
            or state.appeal.phase is not AppealPhase.NONE
            or not self._generation.denial_appeal()
        ):
            return
        assert profile.appeal_within is not None  # grants_appeal
        window = await self._clock.due_from(denial.decided_at, {_WINDOW: profile.appeal_within})
        grace = {_RECORDING: profile.escalation_grace}
        recording = await self._clock.due_from(window[_WINDOW], grace)
        state.appeal.open_window(denial, window[_WINDOW])
        self._waits_until = recording[_RECORDING]

    async def awaited(self) -> bool:
        """After the closing steps: wait for an appeal while the window is open (True: one
        came, the claim is open again). The window's end is recorded. An operator's Temporal
        cancellation does not end it: the window is the claimant's (recorded, and waited on)."""
        state = self._state
        appeal = state.appeal
        if appeal.phase is not AppealPhase.WINDOW:
            return appeal.under_way  # appealed while the closing steps were recorded
        appeal.accept()
        assert self._waits_until is not None  # counted with the window, in this run
        while True:
            remaining = max(self._waits_until - workflow.now(), timedelta(0))
            try:
                await workflow.wait_condition(
                    lambda: appeal.phase is not AppealPhase.WINDOW,
                    timeout=remaining,
                    timeout_summary="appeal window",
                )
            except TimeoutError:
                pass
            except asyncio.CancelledError:
                # Swallowed: the request is answered by recording it, not by ending the run.
                if (task := asyncio.current_task()) is not None:
                    task.uncancel()
                await self._recorder.record(
                    EventType.CANCELLATION_REQUESTED,
                    actor=Actor.OPERATOR,
                    via="temporal_cancellation",
                    kept_open_until=self._waits_until.isoformat(),
                )
                continue
            break
        if appeal.phase is not AppealPhase.WINDOW:
            return True
        appeal.lapse()
        await self._recorder.record(
            EventType.APPEAL_WINDOW_CLOSED,
            window_ends=appeal.window_ends.isoformat() if appeal.window_ends else None,
        )
        return False

    # --- updates --------------------------------------------------------------------------------

    async def appeal(self, appeal: Appeal) -> ClaimStatus:
        state, profile = self._state, self._state.require_profile()
        now = workflow.now()
        reopen(state, appeal)
        assert profile.appeal_decision_due is not None  # grants_appeal
        decision = DeadlineName.APPEAL_DECISION.value
        due = await self._clock.due_from(
            appeal.received_at, {decision: profile.appeal_decision_due}
        )
        review = DeadlineName.APPEAL_REVIEW.value
        due |= await self._clock.due_from(now, {review: profile.review_sla})
        if state.appeal.phase is not AppealPhase.REVIEW:
            del due[review]  # reviewed while the deadlines were counted
        if not state.closed:
            state.set_deadlines(due, workflow.now())
        decision_due = due[decision].isoformat()
        await self._recorder.record(
            EventType.APPEAL_RECEIVED,
            actor=Actor.REQUESTER,
            acted_by=appeal.acted_by,
            notify=[
                Notice(
                    Recipient.CLAIMANT,
                    Template.APPEAL_RECEIVED_NOTICE,
                    "appeal",
                    {"decision_due": decision_due},
                ),
                Notice(Recipient.REVIEWER, Template.APPEAL_TO_REVIEW, "appeal"),
            ],
            received_at=appeal.received_at.isoformat(),
            decision_due=decision_due,
            note=appeal.reason,
        )
        return state.status()

    async def review(self, review: ReviewResult) -> None:
        """The review on appeal (stage APPEAL): the file to the insurer, or a new IME."""
        state, now = self._state, workflow.now()
        for name in REVIEW_DEADLINES:
            if (deadline := state.deadlines.get(name)) is not None and deadline.met_at is None:
                deadline.met_at = now
        notify: list[Notice] = []
        if review.result == "new_exam_requested":
            new_exam(state, now)  # the main loop books it
        else:
            state.appeal.reviewed(review.result)
            notify.append(Notice(Recipient.INSURER, Template.APPEAL_DECISION_NEEDED, "appeal"))
        await self._recorder.record(
            EventType.APPEAL_REVIEWED,
            actor=Actor.REVIEWER,
            acted_by=review.acted_by,
            notify=notify,
            result=review.result,
            reasons=len(review.reasons),
        )

    async def extend(self, extension: ExtendDecision) -> None:
        """The decision on appeal extended, once ((i)(1)(i)): the claimant told why and by
        when a decision is now expected."""
        state, profile = self._state, self._state.require_profile()
        state.appeal.extend()
        assert profile.appeal_extension is not None  # else refused
        name = DeadlineName.APPEAL_DECISION
        # The appeal that opened the period may still be counting it.
        await workflow.wait_condition(lambda: name in state.deadlines or state.closed)
        if state.closed:
            raise refuse("the claim is closed")
        current = state.deadlines[name]
        due = await self._clock.due_from(current.due_at, {name.value: profile.appeal_extension})
        if state.closed:
            raise refuse("the claim closed while the extension was counted")
        state.set_deadlines(due, workflow.now())
        expected = due[name.value].isoformat()
        details = {"reason": extension.reason, "decision_due": expected, "appeal": True}
        await self._recorder.record(
            EventType.APPEAL_EXTENDED,
            actor=Actor.INSURER,
            acted_by=extension.acted_by,
            notify=[
                Notice(
                    Recipient.CLAIMANT,
                    Template.DECISION_EXTENSION_NOTICE,
                    "appeal-extension",
                    details,
                )
            ],
            decision_due=expected,
            note=extension.reason,
        )

    async def appeal_decision(self, decision: AppealDecision) -> ClaimStatus:
        """The decision on appeal closes the claim; its notes are kept sealed with the event."""
        state = self._state
        outcome = state.appeal.decide(decision, workflow.now())
        state.close(outcome, workflow.now())
        await self._recorder.record(
            EventType.APPEAL_DECIDED,
            actor=Actor.INSURER,
            acted_by=decision.acted_by,
            outcome=decision.outcome,
            reason_code=decision.reason_code,
            note=decision.notes,
        )
        return state.status()
