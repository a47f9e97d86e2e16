"""A pure claim state's refusal as a test reads it: the message, or None when allowed, and the
house rule checked on every call: a check never changes the state."""

from __future__ import annotations

from datetime import datetime

from temporalio.exceptions import ApplicationError

from domain.claim_state import ClaimState
from domain.names import Action
from domain.refusal import ACTION_NOT_ALLOWED


def refusal_message(
    state: ClaimState, action: Action, now: datetime, payload: object = None
) -> str | None:
    before = state.model_dump()
    try:
        state.check(action, now, payload)
    except ApplicationError as err:
        assert err.type == ACTION_NOT_ALLOWED
        return err.message
    finally:
        assert state.model_dump() == before  # a check never changes the state
    return None
