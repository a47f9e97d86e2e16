"""SafetyEscalationWorkflow: an examinee at imminent risk of harming themselves or others.

Started by the claim as a child with parent-close policy ABANDON, so it outlives a withdrawn or
cancelled claim. It pages the on-call clinician and the crisis line at once, re-pages on every
missed acknowledgement window and brings in the medical director after the second miss. Risk
toward others adds a duty-to-protect task. It ends only when a clinician records the actions
taken; then the claim's safety hold lifts.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow

from workflows.effects import Effects

with workflow.unsafe.imports_passed_through():
    from domain.models import SafetyAck, SafetyCase, SafetyCaseStatus, SafetyResolve
    from domain.names import CLINICAL_RECIPIENTS, Action, Query, Recipient, Template
    from domain.refusal import refuse

# After acknowledgement the clinician is reminded at this pace until the case is resolved.
_RESOLUTION_FOLLOW_UP = timedelta(hours=4)


@workflow.defn
class SafetyEscalationWorkflow:
    @workflow.init
    def __init__(self, case: SafetyCase) -> None:
        self._case = case
        self._effects = Effects(case.claim_id, owner=workflow.info().workflow_id)
        self._acknowledged_by: str | None = None
        self._resolved: SafetyResolve | None = None
        self._missed_acks = 0

    @workflow.run
    async def run(self, case: SafetyCase) -> SafetyCaseStatus:
        await self._notify(Recipient.CLINICIAN, Template.SAFETY_PAGE, "page-0")
        await self._notify(Recipient.CRISIS_LINE, Template.SAFETY_ALERT, "alert")
        if case.toward == "others":
            # Duty to protect (Tarasoff; HIPAA 45 CFR 164.512(j)): identifiable victims or law
            # enforcement are warned per jurisdiction.
            await self._notify(Recipient.OPS, Template.DUTY_TO_PROTECT_TASK, "duty-to-protect")
        window = timedelta(seconds=case.ack_seconds)
        while self._acknowledged_by is None:
            try:
                await workflow.wait_condition(
                    lambda: self._acknowledged_by is not None, timeout=window
                )
            except TimeoutError:
                self._missed_acks += 1
                page = f"page-{self._missed_acks}"
                await self._notify(Recipient.CLINICIAN, Template.SAFETY_PAGE, page)
                if self._missed_acks == 2:
                    await self._notify(
                        Recipient.MEDICAL_DIRECTOR, Template.SAFETY_ESCALATION, "director"
                    )
        follow_ups = 0
        while self._resolved is None:
            try:
                await workflow.wait_condition(
                    lambda: self._resolved is not None, timeout=_RESOLUTION_FOLLOW_UP
                )
            except TimeoutError:
                follow_ups += 1
                await self._notify(
                    Recipient.CLINICIAN, Template.SAFETY_UNRESOLVED, f"follow-up-{follow_ups}"
                )
        # The claim watches this workflow: finishing here lifts its hold.
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._state()

    @workflow.update(name=Action.SAFETY_ACK)
    async def acknowledge(self, ack: SafetyAck) -> SafetyCaseStatus:
        self._acknowledged_by = ack.clinician_id
        return self._state()

    @acknowledge.validator
    def _validate_ack(self, ack: SafetyAck) -> None:
        if self._acknowledged_by is not None:
            raise refuse("the safety case is already acknowledged")

    @workflow.update(name=Action.SAFETY_RESOLVE)
    async def resolve(self, resolution: SafetyResolve) -> SafetyCaseStatus:
        self._resolved = resolution
        # Ops learn that and how it was resolved; the clinical notes stay with the clinicians.
        await self._notify(
            Recipient.OPS,
            Template.SAFETY_RESOLVED,
            "resolved",
            {"actions_taken": resolution.actions_taken},
        )
        return self._state()

    @resolve.validator
    def _validate_resolve(self, resolution: SafetyResolve) -> None:
        if self._acknowledged_by is None:
            raise refuse("acknowledge the safety case before resolving it")
        if self._resolved is not None:
            raise refuse("the safety case is already resolved")

    @workflow.query(name=Query.SAFETY_CASE_STATE)
    def state(self) -> SafetyCaseStatus:
        return self._state()

    def _state(self) -> SafetyCaseStatus:
        return SafetyCaseStatus(
            claim_id=self._case.claim_id,
            acknowledged=self._acknowledged_by is not None,
            resolved=self._resolved is not None,
            missed_acknowledgements=self._missed_acks,
        )

    async def _notify(
        self,
        recipient: Recipient,
        template: Template,
        step: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        case = self._case
        await self._effects.notify(
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
