"""The claim's actions that the modules handling them register themselves (`preparing`,
`selecting`, `deciding`, `appealing`), each Update with the claim's own refusals as its validator
(`ClaimState.check`), so that an action refused never reaches the history (HTTP 409)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.claim_state import ClaimState
    from domain.models import ClaimStatus
    from domain.names import Action

Handler = Callable[[Any], Awaitable[ClaimStatus]]


def register(state: ClaimState, handlers: Iterable[tuple[Action, Handler]]) -> None:
    """Register each (action, handler) as the claim's Update of that name."""
    for action, handler in handlers:
        workflow.set_update_handler(action, handler, validator=_refusals(state, action))


def _refusals(state: ClaimState, action: Action) -> Callable[[Any], None]:
    def validate(payload: Any) -> None:
        state.check(action, workflow.now(), payload)

    return validate
