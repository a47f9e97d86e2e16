"""The deadline clock: computes deadlines, and waits for the next action or the next deadline.

Every wait of a claim has a deadline with an owner (`domain.lifecycle.DEADLINES`). The owner is
reminded at the profile's fraction of the window; when the deadline passes, the owner and ops
are told once and the breach is recorded. The deadline is met when its stage is left.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from temporalio import workflow

from workflows.effects import Effects, Notice
from workflows.recorder import Recorder

with workflow.unsafe.imports_passed_through():
    from domain.claim_state import ClaimState
    from domain.models import Deadline, Stage
    from domain.names import DeadlineName, EventType, Recipient, Template
    from domain.profiles import Duration


class DeadlineClock:
    def __init__(self, state: ClaimState, effects: Effects, recorder: Recorder) -> None:
        self._state = state
        self._effects = effects
        self._recorder = recorder

    async def due_from(
        self, start: datetime, durations: dict[str, Duration]
    ) -> dict[str, datetime]:
        """When each of `durations` after `start` falls due, on the claim's calendar."""
        profile = self._state.require_profile()
        return await self._effects.due_from(
            start, durations, state=self._state.calendar_state, timezone=profile.timezone
        )

    async def start(
        self, stage: Stage, start: datetime, durations: dict[DeadlineName, Duration]
    ) -> None:
        """Start the deadlines of `stage` (which the claim has just entered), unless the claim
        has left it by the time they are computed."""
        due = await self.due_from(start, {name.value: d for name, d in durations.items()})
        self._state.set_deadlines_in(stage, due, workflow.now())

    async def wait_for_progress(self) -> None:
        """Wait for the next action; when the stage's deadline comes first, act on it."""
        state = self._state
        seen, stage = state.seq, state.stage
        deadline = state.active_deadline()

        def progressed() -> bool:
            return state.seq != seen or state.stage is not stage

        if deadline is None:
            await workflow.wait_condition(progressed)
            return
        remaining = state.wake_at(deadline) - workflow.now()
        if remaining > timedelta(0):
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(progressed, timeout=remaining)
                return
        if state.active_deadline() is not deadline:
            return
        if workflow.now() < deadline.due_at:
            await self._remind(deadline)
        else:
            await self._breach(deadline)

    async def _remind(self, deadline: Deadline) -> None:
        self._state.mark_reminded(deadline)
        owner = self._state.deadline_owner(deadline)
        due = deadline.due_at.isoformat()
        step = f"remind-{deadline.name}-{due}"
        await self._effects.notify(owner, Template.DEADLINE_REMINDER, step, {"due_at": due})

    async def _breach(self, deadline: Deadline) -> None:
        """The deadline passed: its owner and ops are told, once, and the breach recorded."""
        self._state.mark_breached(deadline)
        owner = self._state.deadline_owner(deadline)
        step = f"breach-{deadline.name}-{self._state.seq}"
        told = [owner] if owner is Recipient.OPS else [owner, Recipient.OPS]
        await self._recorder.record(
            EventType.DEADLINE_BREACHED,
            notify=[Notice(who, Template.DEADLINE_BREACHED, step) for who in told],
            deadline=deadline.name,
            owner=owner,
        )
