"""SafetyEscalationWorkflow: an examinee at imminent risk of harming themselves or others.

Started by the claim as a child with parent-close policy ABANDON, so it outlives a withdrawn or
cancelled claim. It pages the on-call clinician and the crisis line at once, re-pages on every
missed acknowledgement window and brings in the medical director after the second miss. Risk
toward others adds a duty-to-protect task. It ends only when a clinician records the actions
taken; then the claim's safety hold lifts.

Each rung of that ladder is a step of the case's own timeline (`safety_case_events`, shown to ops
and clinicians in the claim's timeline), recorded with its pages in one transaction. A case left
unacknowledged re-pages for as long as it takes, so a run continues as new before its history
grows long, carrying its state (`domain.safety_case.SafetyCaseState`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow

from workflows.effects import Effects, Notice
from workflows.generation import safety_ladder_events
from workflows.lifespan import history_is_long

with workflow.unsafe.imports_passed_through():
    from domain.models import (
        Caller,
        Notification,
        SafetyAck,
        SafetyCase,
        SafetyCaseEvent,
        SafetyCaseStatus,
        SafetyCaseWrite,
        SafetyResolve,
    )
    from domain.names import (
        CLINICAL_RECIPIENTS,
        Action,
        Actor,
        EventType,
        Query,
        Recipient,
        Template,
    )
    from domain.safety_case import SafetyCaseContinuation, SafetyCaseState

# After acknowledgement the clinician is reminded at this pace until the case is resolved.
_RESOLUTION_FOLLOW_UP = timedelta(hours=4)

# Room for what can happen between two checks of the history's length: one rung (timer, tasks,
# an activity), the acknowledgement and resolution updates with their activities, and the
# continue-as-new itself.
_HEADROOM = 61


@workflow.defn
class SafetyEscalationWorkflow:
    @workflow.init
    def __init__(self, start: SafetyCase | SafetyCaseContinuation) -> None:
        case, carried = _unpack(start)
        self._case = case
        self._effects = Effects(case.claim_id, owner=workflow.info().workflow_id)
        # The first run asks the patch before its first command, as landed versions did at the
        # top of `run`; a continued run carries the answer.
        self.state = carried or SafetyCaseState(ladder_events=safety_ladder_events())

    @workflow.run
    async def run(self, start: SafetyCase | SafetyCaseContinuation) -> SafetyCaseStatus:
        """`start`: the case (its first run), or the case and the state of the run this one
        continues."""
        case, carried = _unpack(start)
        state = self.state
        if carried is None:
            await self._open()
        window = timedelta(seconds=case.ack_seconds)
        while not state.acknowledged:
            try:
                await workflow.wait_condition(
                    lambda: state.acknowledged,
                    timeout=window,
                    timeout_summary="safety acknowledgement window",
                )
            except TimeoutError:
                await self._repage(state.miss_acknowledgement())
                await self._continue_if_long()
        while not state.resolved:
            try:
                await workflow.wait_condition(
                    lambda: state.resolved,
                    timeout=_RESOLUTION_FOLLOW_UP,
                    timeout_summary="safety resolution follow-up",
                )
            except TimeoutError:
                await self._follow_up(state.add_follow_up())
                await self._continue_if_long()
        # The claim watches this workflow: finishing here lifts its hold.
        await workflow.wait_condition(workflow.all_handlers_finished)
        return state.status(case)

    # --- the ladder -----------------------------------------------------------------------------

    async def _open(self) -> None:
        """Page the clinician and alert the crisis line; risk toward others opens a duty-to-protect
        task (Tarasoff; HIPAA 45 CFR 164.512(j)): identifiable victims or law enforcement are
        warned per jurisdiction."""
        notes = [
            self._notice(Recipient.CLINICIAN, Template.SAFETY_PAGE, "page-0"),
            self._notice(Recipient.CRISIS_LINE, Template.SAFETY_ALERT, "alert"),
        ]
        events = [
            self._event(
                EventType.SAFETY_PAGE_SENT,
                page=1,
                recipients=[Recipient.CLINICIAN, Recipient.CRISIS_LINE],
            )
        ]
        if self._case.toward == "others":
            notes.append(
                self._notice(Recipient.OPS, Template.DUTY_TO_PROTECT_TASK, "duty-to-protect")
            )
            events.append(self._event(EventType.DUTY_TO_PROTECT_OPENED))
        await self._record(events, notes)

    async def _repage(self, missed: int) -> None:
        """An acknowledgement window passed (the `missed`th): page again; the second miss brings
        in the medical director."""
        notes = [self._notice(Recipient.CLINICIAN, Template.SAFETY_PAGE, f"page-{missed}")]
        events = [
            self._event(EventType.SAFETY_ACK_MISSED, missed=missed),
            self._event(
                EventType.SAFETY_PAGE_SENT, page=missed + 1, recipients=[Recipient.CLINICIAN]
            ),
        ]
        if missed == 2:
            notes.append(
                self._notice(Recipient.MEDICAL_DIRECTOR, Template.SAFETY_ESCALATION, "director")
            )
            events.append(self._event(EventType.MEDICAL_DIRECTOR_PAGED))
        await self._record(events, notes)

    async def _follow_up(self, n: int) -> None:
        notes = [self._notice(Recipient.CLINICIAN, Template.SAFETY_UNRESOLVED, f"follow-up-{n}")]
        await self._record([self._event(EventType.SAFETY_FOLLOW_UP_SENT, follow_up=n)], notes)

    async def _continue_if_long(self) -> None:
        """Continue as new, carrying the case's state, before the history grows long."""
        if not self.state.ladder_events or not history_is_long(headroom=_HEADROOM):
            return
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self.state.resolved:
            return  # resolved meanwhile: this run finishes the case
        workflow.continue_as_new(SafetyCaseContinuation(case=self._case, carry=self.state))

    # --- the clinician's actions ----------------------------------------------------------------

    @workflow.update(name=Action.SAFETY_ACK)
    async def acknowledge(self, ack: SafetyAck) -> SafetyCaseStatus:
        state = self.state
        state.acknowledge(ack.clinician_id)
        if state.ladder_events:
            event = self._event(
                EventType.SAFETY_CASE_ACKNOWLEDGED,
                actor=Actor.CLINICIAN,
                acted_by=ack.acted_by,
                clinician_id=ack.clinician_id,
                missed=state.missed_acknowledgements,
            )
            await self._effects.record_case(SafetyCaseWrite(events=[event]))
        return state.status(self._case)

    @acknowledge.validator
    def _validate_ack(self, ack: SafetyAck) -> None:
        self.state.check_acknowledge()

    @workflow.update(name=Action.SAFETY_RESOLVE)
    async def resolve(self, resolution: SafetyResolve) -> SafetyCaseStatus:
        self.state.resolve(resolution)
        # Ops learn that and how it was resolved; the clinical notes stay with the clinicians.
        actions = {"actions_taken": resolution.actions_taken}
        note = self._notice(Recipient.OPS, Template.SAFETY_RESOLVED, "resolved", actions)
        event = self._event(
            EventType.SAFETY_CASE_RESOLVED,
            actor=Actor.CLINICIAN,
            acted_by=resolution.acted_by,
            **actions,
        )
        await self._record([event], [note], clinical_note=resolution.notes or None)
        return self.state.status(self._case)

    @resolve.validator
    def _validate_resolve(self, resolution: SafetyResolve) -> None:
        self.state.check_resolve()

    @workflow.query(name=Query.SAFETY_CASE_STATE)
    def case_status(self) -> SafetyCaseStatus:
        return self.state.status(self._case)

    # --- recording ------------------------------------------------------------------------------

    async def _record(
        self,
        events: list[SafetyCaseEvent],
        notes: list[Notification],
        clinical_note: str | None = None,
    ) -> None:
        """The steps with their notifications in one transaction; cases started before the
        ladder reached the timeline send each notification on its own (as they replay). A
        clinician's notes ride in the write (its payload only: no command changes, no patch)."""
        if self.state.ladder_events:
            write = SafetyCaseWrite(events=events, notifications=notes, clinical_note=clinical_note)
            await self._effects.record_case(write)
            return
        for note in notes:
            await self._effects.send(note)

    def _event(
        self,
        event_type: EventType,
        *,
        actor: Actor = Actor.SYSTEM,
        acted_by: Caller | None = None,
        **details: Any,
    ) -> SafetyCaseEvent:
        """The case's next step. `details` never hold clinical notes, level or direction."""
        return SafetyCaseEvent(
            case_id=workflow.info().workflow_id,
            seq=self.state.next_event(),
            claim_id=self._case.claim_id,
            type=event_type,
            actor=acted_by.role.value if acted_by else actor,
            at=workflow.now(),
            details=details,
            acted_by=acted_by,
        )

    def _notice(
        self,
        recipient: Recipient,
        template: Template,
        step: str,
        details: dict[str, Any] | None = None,
    ) -> Notification:
        case = self._case
        return self._effects.notification(
            Notice(
                recipient,
                template,
                step,
                {
                    "case": workflow.info().workflow_id,  # pages of one case share a dedup key
                    "level": case.level,
                    "toward": case.toward,
                    # Clinical notes only to the clinical chain (minimum necessary).
                    **({"notes": case.notes} if recipient in CLINICAL_RECIPIENTS else {}),
                    **(details or {}),
                },
            )
        )


def _unpack(
    start: SafetyCase | SafetyCaseContinuation,
) -> tuple[SafetyCase, SafetyCaseState | None]:
    if isinstance(start, SafetyCaseContinuation):
        return start.case, start.carry
    return start, None
