"""What a claim's run hands to the next when it continues as new (`workflow.continue_as_new`),
and how a run reads its input."""

from __future__ import annotations

from pydantic import BaseModel

from domain.claim_state import ClaimState
from domain.models import ClaimIntake


class ClaimContinuation(BaseModel):
    """What a claim's run hands to the next when it continues as new: its intake and its state."""

    intake: ClaimIntake
    state: ClaimState


def unpack(start: ClaimIntake | ClaimContinuation) -> tuple[ClaimIntake, ClaimState | None]:
    """A claim run's input: its intake, and the state it continues (None for its first run)."""
    if isinstance(start, ClaimContinuation):
        return start.intake, start.state
    return start, None
