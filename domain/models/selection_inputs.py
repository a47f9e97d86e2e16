"""What ops and the parties send where the state picks the examiner (`domain.selection`): the
state's panel or assignment as ops record it, and each party's strike or choice."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from domain.examples import ACTION_EXAMPLES
from domain.models.base import Identifier, ShortText, at_intake, example_config
from domain.models.inputs import ActionInput

# A party to a state panel: the insurer acts for itself, ops for the claimant (`domain.access`).
PanelParty = Literal["insurer", "claimant"]


class RecordStatePanel(ActionInput):
    """Ops record the panel of three examiners the state issued (CA-QME: the DWC Medical Unit,
    LC 4062.1/4062.2). `issued_at`: when the state issued it, if before now; the strike (or
    choice) window runs from it."""

    model_config = example_config(ACTION_EXAMPLES["record-state-panel"])

    reference: ShortText
    examiner_ids: list[Identifier] = Field(min_length=3, max_length=3)
    issued_at: datetime | None = None

    @field_validator("examiner_ids")
    @classmethod
    def _three_examiners(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a panel names three different examiners")
        return value

    @field_validator("issued_at")
    @classmethod
    def _issued_in_the_past(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        if value is None or not at_intake(info):
            return value
        if value.tzinfo is None:
            raise ValueError("issued_at needs a time zone")
        if value > datetime.now(UTC):
            raise ValueError("issued_at cannot be in the future")
        return value


class RecordStateAssignment(ActionInput):
    """Ops record the examiner the state assigned (TX-DD: the Division's order, 28 TAC 127.5;
    PA-IRE: the Department's designation, 34 Pa. Code 123.104)."""

    model_config = example_config(ACTION_EXAMPLES["record-state-assignment"])

    reference: ShortText
    examiner_id: Identifier


class Strike(ActionInput):
    """A party strikes one examiner of the panel (represented claimants, LC 4062.2(c))."""

    model_config = example_config(ACTION_EXAMPLES["strike"])

    examiner_id: Identifier
    party: PanelParty


class PanelChoice(ActionInput):
    """A party chooses the examiner from the panel: an unrepresented claimant within the window
    (LC 4062.1(c)), or, once it closed with more than one left, the party entitled to."""

    model_config = example_config(ACTION_EXAMPLES["panel-choice"])

    examiner_id: Identifier
    party: PanelParty
