"""The decision and its clock: extensions (ERISA: up to two 30-day extensions, each with a
reason, the claimant told), one change of the decision deadline at a time. Registers the
`decision` and `extend-decision` updates on the claim; while an appeal is under way an extension
is the appeal's (`workflows.appealing`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from temporalio import workflow

from workflows.appealing import Appealing
from workflows.clock import DeadlineClock
from workflows.effects import Notice
from workflows.recorder import Recorder
from workflows.registry import register

with workflow.unsafe.imports_passed_through():
    from domain.claim_state import ClaimState
    from domain.models import ActionInput, ClaimStatus, DecisionInput, ExtendDecision, Stage
    from domain.names import Action, Actor, DeadlineName, EventType, Recipient, Template


# What this module registers on the claim: update name -> payload model.
UPDATES: dict[str, type[ActionInput]] = {
    Action.DECISION: DecisionInput,
    Action.EXTEND_DECISION: ExtendDecision,
}


class Deciding:
    def __init__(
        self, state: ClaimState, recorder: Recorder, clock: DeadlineClock, appealing: Appealing
    ) -> None:
        self._state = state
        self._recorder = recorder
        self._clock = clock
        self._appealing = appealing
        # One decision-deadline change at a time.
        self._turn = asyncio.Lock()
        register(
            state,
            (
                (Action.DECISION, self.decision),
                (Action.EXTEND_DECISION, self.extend_decision),
            ),
        )

    async def decision(self, decision: DecisionInput) -> ClaimStatus:
        await self.decide(decision)
        return self._state.status()

    async def extend_decision(self, extension: ExtendDecision) -> ClaimStatus:
        """Extend the decision deadline (ERISA: up to two 30-day extensions, each with a reason,
        and the claimant is told); on appeal, once by the profile's appeal extension."""
        if self._state.appeal.under_way:
            await self._appealing.extend(extension)
        else:
            await self.extend(
                extension,
                recheck=lambda: self._state.check(Action.EXTEND_DECISION, workflow.now()),
            )
        return self._state.status()

    async def decide(self, decision: DecisionInput) -> None:
        """The insurer's decision closes the claim; its notes are kept sealed with the event."""
        self._state.decide(decision, workflow.now())
        await self._recorder.record(
            EventType.DECISION_ISSUED,
            actor=Actor.INSURER,
            acted_by=decision.acted_by,
            outcome=decision.outcome,
            reason_code=decision.reason_code,
            note=decision.notes,
        )

    async def extend(self, extension: ExtendDecision, *, recheck: Callable[[], None]) -> None:
        state, profile = self._state, self._state.require_profile()
        if DeadlineName.DECISION not in state.deadlines:
            # The review that opened DECISION is still computing the deadline: wait for it.
            await workflow.wait_condition(
                lambda: (
                    DeadlineName.DECISION in state.deadlines or state.stage is not Stage.DECISION
                )
            )
        async with self._turn:
            recheck()
            used = state.start_extension()
            current = state.deadlines[DeadlineName.DECISION]
            extended = {DeadlineName.DECISION: profile.decision_extension}
            if state.stage is Stage.DECISION:
                await self._clock.start(Stage.DECISION, current.due_at, extended)
            else:
                # A clock from the claim's receipt (ERISA), extended while the exam is pending:
                # it runs in every stage, so it is set whatever the stage is by then.
                due = await self._clock.due_from(
                    current.due_at, {k.value: v for k, v in extended.items()}
                )
                state.set_deadlines(due, workflow.now())
        # The claimant is told why, and by when a decision is now expected ((f)(3)).
        expected = state.deadlines[DeadlineName.DECISION].due_at.isoformat()
        notice = Notice(
            Recipient.CLAIMANT,
            Template.DECISION_EXTENSION_NOTICE,
            f"extension-{used}",
            {"reason": extension.reason, "decision_due": expected},
        )
        await self._recorder.record(
            EventType.DECISION_EXTENDED,
            actor=Actor.INSURER,
            acted_by=extension.acted_by,
            notify=[notice],
            extension=used,
            note=extension.reason,
        )
