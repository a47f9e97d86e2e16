"""The deadline clock: computes deadlines, and waits for the next action or the next deadline.

Every wait of a claim has a deadline with an owner (`domain.lifecycle.DEADLINES`). The owner is
reminded at the profile's fraction of the window; when the deadline passes, the owner and ops
are told once and the breach is recorded. The deadline is met when its stage is left.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from temporalio import workflow

from workflows.effects import Effects, Notice
from workflows.generation import Generation
from workflows.recorder import Recorder

with workflow.unsafe.imports_passed_through():
    from domain.claim_state import ClaimState
    from domain.models import Deadline, Stage
    from domain.names import DeadlineName, EventType, Recipient, Template
    from domain.profiles import Duration


# Not a deadline anyone is told about: the last moment a booking may put the exam (see Booking).
EXAM_WINDOW = "exam_window"


class DeadlineClock:
    def __init__(
        self,
        state: ClaimState,
        effects: Effects,
        recorder: Recorder,
        generation: Generation,
        escalate: Callable[[Deadline], Awaitable[None]],
    ) -> None:
        self._state = state
        self._effects = effects
        self._recorder = recorder
        self._generation = generation
        # Claims under the escalation chain hand breaches to it (`workflows.escalation`).
        self._escalate = escalate

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

    async def start_claim_clocks(self) -> None:
        """The windows that run from the referral, where the profile sets them: the appointment
        noticed within (CA-QME), the exam held within (NY-NF, CA-QME), the decision issued
        within (NY-NF from the proof of claim, ERISA-LTD from the claim's receipt)."""
        state, profile = self._state, self._state.require_profile()
        windows = {
            DeadlineName.APPOINTMENT_NOTICE.value: profile.appointment_notice_within,
            EXAM_WINDOW: profile.exam_within,
        }
        if state.selection.by_state:
            # The appointment is requested once the state's examiner is known: the windows
            # that run from the request start then (`workflows.selecting`), not while the claim
            # waits for the state.
            del windows[DeadlineName.APPOINTMENT_NOTICE.value], windows[EXAM_WINDOW]
        if profile.decision_from == "claim_received":
            windows[DeadlineName.DECISION.value] = profile.decision_due
        wanted = {name: d for name, d in windows.items() if d is not None}
        if not wanted:
            return
        due = await self.due_from(state.created_at, wanted)
        state.exam_window_ends = due.pop(EXAM_WINDOW, None)
        state.set_deadlines_in(Stage.SCHEDULING, due, workflow.now())

    async def wait_for_progress(self, also: Callable[[], bool] | None = None) -> None:
        """Wait for the next action (or for `also()`); when the stage's deadline comes first,
        act on it."""
        state = self._state
        seen, stage = state.seq, state.stage
        deadline = state.active_deadline()

        def progressed() -> bool:
            return state.seq != seen or state.stage is not stage or (also is not None and also())

        if deadline is None:
            await workflow.wait_condition(progressed)
            return
        remaining = state.wake_at(deadline) - workflow.now()
        if remaining > timedelta(0):
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    progressed, timeout=remaining, timeout_summary=_summary(state, deadline)
                )
                return
        if state.active_deadline() is deadline:
            await self.act_on(deadline)

    async def wait_while(self, waiting: Callable[[], bool], limit: timedelta) -> None:
        """Wait up to `limit` while `waiting()` holds (the booking loop's retry), acting on the
        claim's deadlines that fall due meanwhile: a claim-wide clock keeps running while no
        examiner can be found."""
        state = self._state
        deadline = state.active_deadline()
        timeout = limit
        if deadline is not None:
            timeout = max(min(limit, state.wake_at(deadline) - workflow.now()), timedelta(0))
        if timeout > timedelta(0):
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: not waiting(),
                    timeout=timeout,
                    timeout_summary="retry booking"
                    if deadline is None
                    else _summary(state, deadline),
                )
        if (
            deadline is not None
            and waiting()
            and state.active_deadline() is deadline
            and workflow.now() >= state.wake_at(deadline)
        ):
            await self.act_on(deadline)

    async def act_on(self, deadline: Deadline) -> None:
        """The deadline's time has come: its reminder, or its breach."""
        if workflow.now() < deadline.due_at:
            await self._remind(deadline)
        elif self._generation.escalation_chain():
            await self._escalate(deadline)
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


def _summary(state: ClaimState, deadline: Deadline) -> str:
    """What SREs read beside the timer in the Temporal UI: which deadline, reminder or due."""
    name = deadline.name.replace("_", " ")
    reminder = state.wake_at(deadline) < deadline.due_at
    return f"{name} reminder" if reminder else f"{name} deadline"
