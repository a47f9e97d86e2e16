"""The claim's side of the safety branch (PRODUCT §4): routing a positive risk screen or a safety
concern, holding the claim while a `SafetyEscalationWorkflow` case is open, lifting the hold when
the case ends however it ends."""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import CancelledError, ChildWorkflowError, TerminatedError
from temporalio.workflow import ChildWorkflowHandle, ParentClosePolicy

from workflows.effects import Effects, Notice
from workflows.generation import Generation, safety_ladder_events
from workflows.recorder import Recorder
from workflows.safety import SafetyEscalationWorkflow

with workflow.unsafe.imports_passed_through():
    from domain.claim_state import ClaimState
    from domain.models import Caller, RiskScreen, SafetyCase, SafetyCaseStatus
    from domain.names import Actor, EventType, Recipient, Template


def _occasion() -> str:
    """A notification step unique to the current action (its update id)."""
    info = workflow.current_update_info()
    return f"update-{info.id}" if info else f"at-{workflow.now().isoformat()}"


class SafetyHold:
    def __init__(
        self, state: ClaimState, effects: Effects, recorder: Recorder, generation: Generation
    ) -> None:
        self._state = state
        self._effects = effects
        self._recorder = recorder
        self._batched = generation.batched_notices
        # Who ended the last case to end: a clinician who resolved it, or nobody we know of (an
        # operator terminated it, or it failed). The hold lifted by its end is theirs.
        self.ended_by = Actor.CLINICIAN
        self._watchers: set[asyncio.Task[None]] = set()

    async def screen(self, screen: RiskScreen, acted_by: Caller | None = None) -> None:
        """An exam's risk screen: moderate -> referral to treatment; imminent -> a case."""
        if screen.level == "moderate":
            await self.refer_to_treatment(screen.toward, screen.notes, source="exam")
        elif screen.level == "imminent":
            # Unknown direction is treated as a risk to others: the duty to protect applies.
            await self.raise_case(
                screen.toward or "others", screen.notes, source="exam", acted_by=acted_by
            )

    async def refer_to_treatment(
        self, toward: str | None, notes: str, *, source: str = "concern"
    ) -> None:
        # The screen's detail goes only to the outbox (the database), never to the audit log.
        details = {"level": "moderate", "toward": toward, "notes": notes}
        notice = Notice(Recipient.CLINICIAN, Template.REFERRAL_TO_TREATMENT, _occasion(), details)
        # Asked where the branch is taken (its marker's place in landed histories): claims that
        # referred before it was deployed replay without the event.
        if safety_ladder_events():
            # The referral is a step of the timeline, for ops and clinicians (`domain.timeline`),
            # recorded with the clinician's notice.
            await self._recorder.record(
                EventType.REFERRAL_TO_TREATMENT, notify=[notice], source=source
            )
            return
        await self._effects.send(self._effects.notification(notice))

    async def raise_case(
        self, toward: str, notes: str, *, source: str, acted_by: Caller | None = None
    ) -> None:
        """Hold the claim and start the escalation (it survives the claim's closing). One case at
        a time: a further concern while one is open re-pages the clinician on that case."""
        profile = self._state.require_profile()
        case_id = self._state.open_safety_case()
        if case_id is None:
            details = {"level": "imminent", "toward": toward, "notes": notes}
            await self._effects.notify(
                Recipient.CLINICIAN, Template.SAFETY_PAGE, _occasion(), details
            )
            return
        case = await workflow.start_child_workflow(
            SafetyEscalationWorkflow.run,
            SafetyCase(
                claim_id=self._state.claim_id,
                level="imminent",
                toward=toward,
                source=source,
                notes=notes,
                ack_seconds=int(profile.safety_ack.as_timedelta().total_seconds()),
            ),
            id=case_id,
            parent_close_policy=ParentClosePolicy.ABANDON,
        )
        watcher = asyncio.create_task(self._watch(case, case_id))
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)
        # The hold is placed by whoever raised the concern or recorded the screen.
        await self._recorder.record(
            EventType.SAFETY_HOLD_PLACED, actor=Actor.SYSTEM, acted_by=acted_by
        )

    async def _watch(
        self, case: ChildWorkflowHandle[SafetyEscalationWorkflow, SafetyCaseStatus], case_id: str
    ) -> None:
        """The hold lifts when the case ends: resolved by a clinician, or (terminated, failed)
        with ops and the medical director told so that nothing is held without an owner."""
        notify: list[Notice] = []
        ended_by = Actor.CLINICIAN
        try:
            await case
        except ChildWorkflowError as ended:
            # Terminated or cancelled in Temporal: an operator's doing, not a clinician's.
            by_operator = isinstance(ended.cause, TerminatedError | CancelledError)
            ended_by = Actor.OPERATOR if by_operator else Actor.SYSTEM
            details = {"case": case_id}
            notify = [
                Notice(who, Template.SAFETY_CASE_ENDED_UNRESOLVED, case_id, details)
                for who in (Recipient.OPS, Recipient.MEDICAL_DIRECTOR)
            ]
            if not self._batched:
                for notice in notify:
                    await self._effects.send(self._effects.notification(notice))
                notify = []
        lifts = self._state.end_safety_case(case_id)
        self.ended_by = ended_by
        if lifts:
            await self._recorder.record(EventType.SAFETY_HOLD_LIFTED, actor=ended_by, notify=notify)
        elif notify:  # the claim is closed: no event to ride with
            for notice in notify:
                await self._effects.send(self._effects.notification(notice))
