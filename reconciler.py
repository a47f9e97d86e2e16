"""Closing the claims whose workflow ended outside the service (`Reconciler`, which `worker.py`
runs beside the worker): the projection closed, the slot released, the step items closed, and
the safety hold lifted once the claim's safety cases have ended."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

import asyncpg
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from codec import Sealer
from domain.models import RecordsReceived
from domain.names import ServiceUpdate
from store import reconcile as reconcile_store
from store.db import POSTGRES_DOWN
from workflows import ClaimWorkflow

# It runs in the worker's process: its lines are the worker's.
log = logging.getLogger("ime.worker")

# Runs that end without the workflow closing its claim: it runs no more code, so the projection
# would show the claim open forever. (Completed runs closed their claim themselves.)
ENDED_UNCLOSED = {
    WorkflowExecutionStatus.TERMINATED: "terminated",
    WorkflowExecutionStatus.FAILED: "failed",
    WorkflowExecutionStatus.TIMED_OUT: "timed_out",
    WorkflowExecutionStatus.CANCELED: "canceled",
}
_ENDED_QUERY = (
    f"WorkflowType = '{ClaimWorkflow.__name__}'"  # @workflow.defn without a name: the class name
    " AND ExecutionStatus IN ('Terminated', 'Failed', 'TimedOut', 'Canceled')"
)
# Visibility is eventually consistent: each sweep looks this far behind the previous one.
SWEEP_OVERLAP = timedelta(minutes=5)
# An activity attempt started before the run ended may still write its transition (up to its
# start-to-close timeout, 30 s): a run is reconciled once that long has passed, so that write
# cannot land after the claim was closed.
SETTLE = timedelta(seconds=30)
_RPC_TIMEOUT = timedelta(seconds=10)
# A records upload tells its claim itself; the sweep steps in only for those older than this.
RECORDS_SETTLE = timedelta(minutes=1)
# Temporal or Postgres did not answer: try again next sweep.
_UNREACHABLE: tuple[type[Exception], ...] = (RPCError, *POSTGRES_DOWN)
_NOT_TOLD: tuple[type[Exception], ...] = (WorkflowUpdateFailedError, *_UNREACHABLE)


class Reconciler:
    """Closes, in the projection insurers poll, the claims whose workflow was terminated in the
    Temporal UI (or failed, timed out, was cancelled) — `store.reconcile.close_ended` — releasing
    the examiner's booked slot and closing the claim's open step items in the same transaction;
    then lifts the safety hold of such a claim once its safety cases (which outlive it) have all
    ended — `store.reconcile.lift_hold`.

    Why a background task of the worker: the worker is the process that always runs wherever
    claims run, already holds a Temporal client and a Postgres pool, and is what `make run`'s
    supervisor and `docker compose --scale worker=N` start; it needs no activity or workflow (this
    is bookkeeping about claim workflows, not claim orchestration). With several workers each
    sweeps; the write locks the projection row and acts only while the claim is open, so the
    second sweep to reach a claim changes nothing. Each sweep asks Temporal's visibility for
    ended runs closed since the previous sweep (minus an overlap; the first sweep of a process
    looks at all of them) and only for those still open in Postgres asks Temporal again which
    run is the latest: a reset or continued claim lives on in a newer run and is left alone.
    The holds and leftovers are read from Postgres (terminated claims still on hold, or still
    holding a slot or an open item: a handful) and checked against Temporal each sweep.
    """

    def __init__(
        self, client: Client, pool: asyncpg.Pool, sealer: Sealer, *, settle: timedelta = SETTLE
    ) -> None:
        self._client = client
        self._pool = pool
        self._sealer = sealer
        self._settle = settle
        self._since: datetime | None = None

    async def sweep(self) -> int:
        """One pass; how many claims it closed. After closing, it releases what terminated claims
        still hold (`_tidy`) and lifts the holds whose safety cases have all ended
        (`_lift_holds`)."""
        closed = await self._close_ended()
        await self._tidy()
        await self._lift_holds()
        await self._tell_records()
        return closed

    async def _close_ended(self) -> int:
        started = datetime.now(UTC)
        query = _ENDED_QUERY
        if self._since is not None:
            query += f" AND CloseTime >= '{self._since.isoformat()}'"
        ended = {
            execution.id: execution.close_time or started
            async for execution in self._client.list_workflows(query, rpc_timeout=_RPC_TIMEOUT)
        }
        open_ids = await reconcile_store.open_claims(self._pool, sorted(ended)) if ended else []
        closed, keep = 0, [started]  # keep: close times the next sweep's window must include
        for workflow_id in open_ids:
            try:
                run = await self._latest_ended_run(workflow_id)
                if run is None:
                    continue
                if run.closed_at > started - self._settle:
                    keep.append(run.closed_at)  # not settled yet: the next sweep's turn
                    continue
                closed += await self._close(run, started)
            except _UNREACHABLE as err:
                # One claim failing holds up no other; the next sweep tries it again.
                log.warning("reconciler could not close %s: %s", workflow_id, type(err).__name__)
                keep.append(ended[workflow_id])
        self._since = min(keep) - SWEEP_OVERLAP
        return closed

    async def _tell_records(self) -> None:
        """Tell open claims of the records whose upload could not tell them (Temporal did not
        answer, the API process died after storing): their records lead is met and their
        examiner told, once per document (the same update id as the upload's)."""
        settled = datetime.now(UTC) - RECORDS_SETTLE
        for untold in await reconcile_store.untold_records(self._pool, settled):
            arrival = RecordsReceived(document_id=untold.document_id, acted_by=untold.uploaded_by)
            try:
                await self._client.get_workflow_handle(untold.workflow_id).execute_update(
                    ServiceUpdate.RECORDS_RECEIVED,
                    arrival,
                    id=f"records-{untold.document_id}",
                    rpc_timeout=_RPC_TIMEOUT,
                )
            except _NOT_TOLD as err:
                # Refused (the claim closed meanwhile) or unreachable: the next sweep looks again.
                log.warning(
                    "reconciler could not tell %s of records: %s",
                    untold.workflow_id,
                    type(err).__name__,
                )

    async def _tidy(self) -> None:
        """Release the slot and close the step items of terminated claims that still hold them
        (closed before the reconciler did so, or written to by an activity that outlived the
        run). A claim whose workflow runs again (an operator reset it) is its workflow's."""
        for workflow_id in await reconcile_store.leftovers(self._pool):
            try:
                if await self._running(workflow_id):
                    continue
                async with self._pool.acquire() as conn:
                    released = await reconcile_store.tidy(conn, self._sealer, workflow_id)
                if released is not None:
                    log.info(
                        "terminated claim %s released: %d appointments, %d inbox items",
                        workflow_id,
                        released.appointments,
                        released.items,
                    )
            except _UNREACHABLE as err:
                log.warning("reconciler could not tidy %s: %s", workflow_id, type(err).__name__)

    async def _lift_holds(self) -> None:
        """Lift the safety hold of each terminated claim whose safety cases have all ended. The
        claim's workflow would have (it watches its cases), but it runs no more code."""
        for held in await reconcile_store.held_ended(self._pool):
            try:
                if await self._running(held.workflow_id):
                    continue
                ended = await self._cases_ended(held)
                if ended is None:
                    continue  # a case is still open: the hold stays
                async with self._pool.acquire() as conn:
                    status = await reconcile_store.lift_hold(
                        conn, self._sealer, held.workflow_id, ended, datetime.now(UTC)
                    )
                if status is not None:
                    log.info(
                        "claim %s safety hold lifted: its case %s %s",
                        status.claim_id,
                        ended.case_id,
                        ended.execution_status,
                    )
            except _UNREACHABLE as err:
                log.warning(
                    "reconciler could not check the hold of %s: %s",
                    held.workflow_id,
                    type(err).__name__,
                )

    async def _cases_ended(
        self, held: reconcile_store.HeldClaim
    ) -> reconcile_store.EndedCase | None:
        """The last of the claim's safety cases to end; None while one is still running. Cases
        are numbered from 1 (`<workflow id>-safety-N`): every one the claim recorded is looked
        at, then the next numbers until Temporal knows none."""
        last: reconcile_store.EndedCase | None = None
        number = 0
        while True:
            number += 1
            case_id = f"{held.workflow_id}-safety-{number}"
            try:
                described = await self._client.get_workflow_handle(case_id).describe(
                    rpc_timeout=_RPC_TIMEOUT
                )
            except RPCError as err:
                if err.status is not RPCStatusCode.NOT_FOUND:
                    raise
                if number > held.known_cases:
                    break
                # Recorded, but past Temporal's retention: it ended long ago.
                ended = reconcile_store.EndedCase(case_id, "gone", None)
            else:
                if described.status in (None, WorkflowExecutionStatus.RUNNING):
                    return None
                ended = reconcile_store.EndedCase(
                    case_id, described.status.name.lower(), described.close_time
                )
            if last is None or _later(ended, last):
                last = ended
        return last

    async def _running(self, workflow_id: str) -> bool:
        """The workflow's latest run is running (an operator reset or restarted it)."""
        try:
            described = await self._client.get_workflow_handle(workflow_id).describe(
                rpc_timeout=_RPC_TIMEOUT
            )
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND:
                return False
            raise
        return described.status is WorkflowExecutionStatus.RUNNING

    async def _close(self, run: reconcile_store.EndedRun, now: datetime) -> int:
        async with self._pool.acquire() as conn:
            status = await reconcile_store.close_ended(conn, self._sealer, run, now)
        if status is None:
            return 0  # closed meanwhile (by another worker's sweep)
        log.info(
            "claim %s closed as terminated: its workflow run %s ended %s",
            status.claim_id,
            run.run_id,
            run.execution_status,
        )
        return 1

    async def _latest_ended_run(self, workflow_id: str) -> reconcile_store.EndedRun | None:
        """The workflow's latest run if it ended without completing; None when a newer run
        carries the claim on (reset, continue-as-new) or Temporal no longer knows it."""
        try:
            described = await self._client.get_workflow_handle(workflow_id).describe(
                rpc_timeout=_RPC_TIMEOUT
            )
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND:
                return None
            raise
        execution_status = ENDED_UNCLOSED.get(described.status) if described.status else None
        if execution_status is None or described.close_time is None:
            return None
        return reconcile_store.EndedRun(
            workflow_id=workflow_id,
            run_id=described.run_id,
            execution_status=execution_status,
            closed_at=described.close_time,
        )

    async def run(self, interval: float, stop: asyncio.Event) -> None:
        """Sweep every `interval` seconds until `stop`; an unreachable Temporal or Postgres only
        delays the next sweep."""
        while not stop.is_set():
            try:
                await self.sweep()
            except Exception as err:  # the loop must outlive any one sweep
                # The type only: a message could quote data.
                log.warning("reconciler sweep failed: %s", type(err).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)


def _later(one: reconcile_store.EndedCase, other: reconcile_store.EndedCase) -> bool:
    """`one` ended after `other` (a case Temporal no longer knows ended before any it knows)."""
    if one.closed_at is None:
        return False
    return other.closed_at is None or one.closed_at >= other.closed_at
