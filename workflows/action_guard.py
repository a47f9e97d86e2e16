"""The worker's guard on every Update: an action reaches a claim (or a safety case) only with an
envelope the API signed for it (`domain.envelope`).

Checked in the Update's validator hook, before the workflow's own validator: an Update refused
here never reaches the history, whoever sent it (the Temporal UI or CLI, a script holding the
codec key). Validators do not run on replay, so histories recorded before the guard, or with
Updates it would refuse today, replay as they are. The envelopes accepted lately are remembered
(also when the history is replayed into a fresh cache, from the accepted Updates' headers), so
one sent twice is refused.

The keys reach the guard from the worker (`ActionGuard(keys)`): nothing here reads settings.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any, ClassVar

from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.worker import (
    HandleUpdateInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

with workflow.unsafe.imports_passed_through():
    from domain.envelope import (
        HEADER,
        Envelope,
        RecentNonces,
        SigningKeys,
        UpdateCall,
        check,
        received_form,
        refusal_message,
    )
    from domain.refusal import refuse


class ActionGuard(Interceptor):
    """Add to a worker's interceptors with the action signing keys."""

    def __init__(self, keys: SigningKeys) -> None:
        class Guarded(_GuardedInbound):
            signing_keys = keys

        self._inbound: type[WorkflowInboundInterceptor] = Guarded

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor]:
        return self._inbound


class _GuardedInbound(WorkflowInboundInterceptor):
    """One per workflow run: its memory of the envelopes it accepted is the run's."""

    signing_keys: ClassVar[SigningKeys]

    def __init__(self, next: WorkflowInboundInterceptor) -> None:
        super().__init__(next)
        self._seen = RecentNonces()

    def handle_update_validator(self, input: HandleUpdateInput) -> None:
        envelope, reason = check(
            self.signing_keys,
            _header(input.headers),
            _call(input),
            now=workflow.now(),
            seen=self._seen,
        )
        if reason is not None:
            workflow.logger.warning("update %s refused: %s", input.update, reason)
            raise refuse(refusal_message(reason))
        super().handle_update_validator(input)
        # Accepted (the workflow's own validator passed): spent from now on.
        assert envelope is not None
        self._seen.remember(envelope, workflow.now())

    async def handle_update_handler(self, input: HandleUpdateInput) -> Any:
        # Runs for every accepted Update, on replay too: a run rebuilt from its history knows
        # the envelopes it accepted. Whatever the header holds, the Update runs (it was accepted).
        header = _header(input.headers)
        if header is not None:
            with contextlib.suppress(ValueError):
                self._seen.remember(Envelope.from_json(header), workflow.now())
        return await super().handle_update_handler(input)


def _header(headers: Mapping[str, Payload]) -> bytes | None:
    payload = headers.get(HEADER)
    return payload.data if payload is not None else None


def _call(input: HandleUpdateInput) -> UpdateCall:
    return UpdateCall(
        workflow_id=workflow.info().workflow_id,
        update=input.update,
        update_id=input.id,
        args=[received_form(arg) for arg in input.args],
    )
