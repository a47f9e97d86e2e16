"""`RetentionSweep`: destroys the records of closed claims past their profile's retention period
and not under a legal hold. Started by a Temporal Schedule (`retention-sweep`, see
`worker.ensure_retention_schedule`), one run at a time (overlap SKIP).

A workflow type of its own, so it needs no patch: nothing of a claim's workflow changes. It asks
for the due claims a batch at a time (in claim id order, after the last one looked at) and
destroys each in an activity of its own; past `batches` batches (20 of 50 claims) it continues as
new with the same `now` and where it was, so its history stays short however many are due.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from domain.names import RetentionActivity
    from domain.retention import (
        Destroyed,
        DestroyRequest,
        DueClaims,
        DueRequest,
        SweepInput,
        SweepResult,
    )

RETENTION_SWEEP = "RetentionSweep"
# Retried until Postgres answers: a sweep waits out an outage rather than failing (the next
# scheduled run is skipped meanwhile, overlap SKIP).
_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
_TIMEOUT = timedelta(seconds=60)


@workflow.defn(name=RETENTION_SWEEP)
class RetentionSweep:
    @workflow.run
    async def run(self, sweep: SweepInput) -> SweepResult:
        # One instant for the whole sweep (its continued runs included): the cut-offs are
        # computed from it, so a claim is judged the same way at each step.
        now = sweep.now or workflow.now()
        after = sweep.after
        destroyed = sweep.destroyed
        for _ in range(sweep.batches):
            due: DueClaims = await workflow.execute_activity(
                RetentionActivity.CLAIMS_DUE.value,
                DueRequest(now=now, after=after, limit=sweep.batch),
                start_to_close_timeout=_TIMEOUT,
                retry_policy=_RETRY,
                result_type=DueClaims,
                summary="find claims due for destruction",
            )
            for claim_id in due.claim_ids:
                done: Destroyed = await workflow.execute_activity(
                    RetentionActivity.DESTROY_RECORDS.value,
                    DestroyRequest(claim_id=claim_id, now=now),
                    start_to_close_timeout=_TIMEOUT,
                    retry_policy=_RETRY,
                    result_type=Destroyed,
                    summary="destroy a closed claim's records",
                )
                destroyed += done.destroyed
            if len(due.claim_ids) < sweep.batch:
                return SweepResult(destroyed=destroyed)
            after = due.claim_ids[-1]
        workflow.continue_as_new(
            SweepInput(
                now=now, after=after, destroyed=destroyed, batch=sweep.batch, batches=sweep.batches
            )
        )
