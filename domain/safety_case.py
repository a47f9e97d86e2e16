"""The state of one safety case (PRODUCT §4), as plain data and pure methods, like `ClaimState`.

`SafetyEscalationWorkflow` holds one `SafetyCaseState` and changes it only through these
methods; the workflow adds the waiting, the pages and the timeline. A long case continues as new
carrying its state as it is (`SafetyCaseContinuation`): the fields below are that payload, so
they are only ever added to, never renamed or removed.
"""

from __future__ import annotations

from pydantic import Field

from domain.models import SafetyCase, SafetyCaseStatus, SafetyResolve
from domain.models.base import Model
from domain.refusal import refuse


class SafetyCaseState(Model):
    """Where the case's ladder stands: who acknowledged it, how many windows were missed and
    follow-ups sent (pages and follow-ups are numbered by these, and their notification keys
    derive from them, so no rung repeats across runs), the last event sequence number
    (`safety_case_events.seq`), and whether it is resolved."""

    acknowledged_by: str | None = None
    missed_acknowledgements: int = 0
    follow_ups: int = 0
    event_seq: int = 0
    # Whether the ladder reaches the timeline (and the case continues as new): decided by the
    # first run (`workflows.generation.safety_ladder_events`), then carried.
    ladder_events: bool = True
    # Never carried: a case continues as new only while unresolved, and the resolution's
    # clinical notes stay out of the next run's input.
    resolution: SafetyResolve | None = Field(default=None, exclude=True)

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_by is not None

    @property
    def resolved(self) -> bool:
        return self.resolution is not None

    def check_acknowledge(self) -> None:
        if self.acknowledged:
            raise refuse("the safety case is already acknowledged")

    # The validators check; the handlers only apply (two updates accepted in one workflow task
    # both apply, as they always have, so their histories replay).
    def acknowledge(self, clinician_id: str) -> None:
        self.acknowledged_by = clinician_id

    def check_resolve(self) -> None:
        if not self.acknowledged:
            raise refuse("acknowledge the safety case before resolving it")
        if self.resolved:
            raise refuse("the safety case is already resolved")

    def resolve(self, resolution: SafetyResolve) -> None:
        self.resolution = resolution

    def miss_acknowledgement(self) -> int:
        """An acknowledgement window passed unanswered: how many have now."""
        self.missed_acknowledgements += 1
        return self.missed_acknowledgements

    def add_follow_up(self) -> int:
        """A reminder to resolve an acknowledged case: its number."""
        self.follow_ups += 1
        return self.follow_ups

    def next_event(self) -> int:
        """The sequence number of the case's next timeline step."""
        self.event_seq += 1
        return self.event_seq

    def status(self, case: SafetyCase) -> SafetyCaseStatus:
        return SafetyCaseStatus(
            claim_id=case.claim_id,
            acknowledged=self.acknowledged,
            resolved=self.resolved,
            missed_acknowledgements=self.missed_acknowledgements,
        )


class SafetyCaseContinuation(Model):
    """The input of a safety case's continued run: the case and its state. (The workflow takes
    one argument, the case or this: the SDK decodes arguments by their type hints only when as
    many arrive as the method declares, so an optional second argument would reach one-argument
    starts, old histories included, as plain dicts.)"""

    case: SafetyCase
    carry: SafetyCaseState
