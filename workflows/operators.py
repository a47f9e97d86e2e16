"""What an operator's Temporal actions do to a claim (PRODUCT §9, operators' doors): a reset to an
earlier point, and Request Cancellation.

- **Reset.** Temporal gives the reset run a new random seed when it takes over. Every write of
  the claim asks `current_lineage` first, which notices the new seed and branches the claim
  (`ClaimState.branch`) before anything is written: from then on its events, notices, report
  versions and bookings are the new lineage's own, and the store marks what the run before did
  from that point on as superseded (`store.lineage`). The run also records where it went back
  to, so that what callers read agrees with the workflow at once, even if nothing else happens
  for a while.
- **Cancellation** is an ops withdrawal: the claim closes `cancelled_by_ops`, its slot released and
  its parties told, like any withdrawal; its safety cases keep running (they are abandoned
  children).
"""

from __future__ import annotations

import asyncio

from temporalio import workflow

from workflows.closing import withdraw
from workflows.generation import Generation
from workflows.recorder import Recorder

with workflow.unsafe.imports_passed_through():
    from domain.claim_state import ClaimState
    from domain.models import Outcome
    from domain.names import Actor, EventType


def run_tag(run_id: str) -> str:
    """A short, stable tag of a run id for keys and appointment ids (12 hex digits)."""
    return run_id.replace("-", "")[:12]


class LineageWatch:
    """Notices a reset (the run's random seed changed) and branches the claim's lineage."""

    def __init__(self, state: ClaimState) -> None:
        self._state = state
        self._seed = workflow.random_seed()
        self.reset_seen = False
        # The reset's workflow task may bring nothing else to run, and a workflow looks at its
        # conditions only after something ran: the new seed makes sure something does (the
        # callback itself runs while the task's jobs are applied, outside the workflow's loop).
        self._loop = asyncio.get_running_loop()
        workflow.register_random_seed_callback(self._on_new_seed)

    def _on_new_seed(self, _seed: int) -> None:
        self._loop.call_soon(self.current)

    def current(self) -> str | None:
        """The claim's lineage tag, branched first if the run was reset since last asked."""
        seed = workflow.random_seed()
        if seed != self._seed:
            self._seed = seed
            self._state.branch(run_tag(workflow.info().run_id))
            self.reset_seen = True
        return self._state.lineage_tag

    def take_reset(self) -> None:
        """The reset noticed is being recorded: the next one is noticed anew."""
        self.reset_seen = False


class OperatorDoors:
    def __init__(
        self,
        state: ClaimState,
        recorder: Recorder,
        generation: Generation,
        watch: LineageWatch,
    ) -> None:
        self._state = state
        self._recorder = recorder
        self._generation = generation
        self._watch = watch

    def _reset_noticed(self) -> bool:
        self._watch.current()
        return self._watch.reset_seen

    async def record_resets(self) -> None:
        """Runs beside the main loop for the whole run: after each reset, record it."""
        while True:
            await workflow.wait_condition(self._reset_noticed)
            self._watch.take_reset()
            lineage = self._state.lineage
            if lineage is None or not self._generation.reset_resync():
                continue
            await self._recorder.record(
                EventType.WORKFLOW_RESET,
                actor=Actor.OPERATOR,
                resumed_after_seq=lineage.from_seq - 1,
            )

    async def withdraw_on_cancel(self) -> bool:
        """Temporal cancelled the run while the claim was open: close it as ops would withdraw
        it. False for claims from before this rule (their run ends cancelled, as it did)."""
        state = self._state
        if not self._generation.cancel_withdraws():
            return False
        if not state.closing:
            await withdraw(
                state,
                self._recorder,
                outcome=Outcome.CANCELLED_BY_OPS,
                actor=Actor.OPERATOR,
                via="temporal_cancellation",
            )
        # A withdrawal already under way finishes on its own.
        await workflow.wait_condition(lambda: state.closed)
        return True
