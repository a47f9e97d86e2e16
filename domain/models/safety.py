"""The safety branch's own models (PRODUCT §4): a safety case, its status, and the steps it
records (the case's state, carried across continue-as-new, is `domain.safety_case`). Clinical
notes live here and never in a claim's status or audit log.

Read by the safety-case workflow, the store (`safety_case_events`, the inbox) and the claim's
timeline. Every model here reaches the case workflow's recorded histories (its input and result,
its writes), so the rule at the top of `domain.models.payloads` holds for them all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from domain.models.base import AddedLater, Caller, Model
from domain.models.delivery import Notification
from domain.names import EventType


class SafetyCase(Model):
    """Input of a safety escalation: kept out of the claim's status and audit log."""

    claim_id: str
    level: Literal["imminent"]
    toward: Literal["self", "others"]
    source: Literal["exam", "concern"]
    notes: str = ""
    ack_seconds: int = Field(gt=0)


class SafetyCaseStatus(Model):
    claim_id: str
    acknowledged: bool
    resolved: bool
    missed_acknowledgements: int


class SafetyCaseEvent(Model):
    """One step of a safety case (`safety_case_events`, append-only): `seq` is the case
    workflow's own sequence, None for a record made outside it (ops closing the case's
    duty-to-protect task). `details` never hold clinical notes or PHI."""

    case_id: str
    seq: int | None = None
    claim_id: str
    type: EventType
    actor: str = "system"
    at: datetime
    details: dict[str, Any] = Field(default_factory=dict)
    acted_by: Caller | None = None


class SafetyCaseWrite(AddedLater):
    """Steps of a safety case and the notifications they make, recorded in one transaction."""

    events: list[SafetyCaseEvent]
    notifications: list[Notification] = Field(default_factory=list)
    # A clinician's notes on the write's first step (the resolution's): clinical, stored sealed
    # for clinicians only. Left out of the payload when unset (the JSON of a write without
    # notes is what it was before the field).
    clinical_note: str | None = None

    added_later = ("clinical_note",)
