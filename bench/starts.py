"""Starting claims: the bulk CLI path against a raw `start_workflow` loop (`bulk_vs_raw`), and the
claims kept open for the worker's memory (`inflight_claims`, `worker_rss_mb`).

The bulk path runs in-process: a JSONL file read and validated by `cli.referral_files`, then
`cli.bulk.start_all`, the functions `starter.py start --file x.jsonl` calls; like the CLI's own
"took", the time is that of `start_all` (not the interpreter's start-up nor the file's
validation). The raw loop sends the same start request the service sends (same workflow input,
id, policies and search attributes), without the service's projection row, de-duplication and
read-back, at the same concurrency. For this comparison both start onto a task queue no worker
polls (as the CLI would with IME_TASK_QUEUE set to it): what is timed is the start path alone,
not the worker booking the claims started a moment before.

The claims kept open are on the NY-WC profile, started through the bulk path onto the worker's
queue: once booked, a claim waits days for its confirmation.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import asyncpg
import psutil
from temporalio.client import Client

from bench.batch import Batch, run_batch
from bench.referrals import referral, referral_body
from claim_service import ClaimService, start_options
from cli import common as cli_common
from cli.bulk import Result, start_all
from cli.common import operator
from cli.referral_files import FileFormat, read_referrals
from domain.ids import claim_id_for, workflow_id_for
from domain.parsing import claim_intake
from settings import Settings
from store import inspection
from workflows import ClaimWorkflow

JURISDICTION = "NY-WC"
# Where the bulk/raw comparison starts its claims: no worker polls it.
PARKED_QUEUE = "ime-bench-parked"
_BOOKING_POLL_SECONDS = 0.5


async def bulk_start(
    service: ClaimService, work_dir: Path, tag: str, count: int, concurrency: int
) -> tuple[Batch, list[str]]:
    """Start `count` referrals through the bulk path; the batch and the claim ids started."""
    path = work_dir / f"referrals-{tag}.jsonl"
    lines = (json.dumps(referral_body(JURISDICTION, tag, n)) for n in range(count))
    path.write_text("\n".join(lines) + "\n")
    read = read_referrals(path, FileFormat.JSONL)
    assert not read.rejected, [r.as_json() for r in read.rejected]
    cli_common.err.quiet = True  # no progress bar among the bench's lines
    began = time.monotonic()
    results = await start_all(service, read.valid, operator(), concurrency)
    batch = Batch(seconds=time.monotonic() - began)
    started = [r.claim_id for r in results if r.result is Result.STARTED and r.claim_id]
    batch.done = len(started)
    for r in results:
        if r.result is not Result.STARTED:
            batch.failures[f"{r.result.value}: {r.error['code'] if r.error else ''}"] += 1
    return batch, started


async def raw_start(
    client: Client, settings: Settings, tag: str, count: int, concurrency: int
) -> tuple[Batch, list[str]]:
    """Start `count` claim workflows with `start_workflow` alone; the batch and the claim ids."""
    referrals = [referral(JURISDICTION, tag, n) for n in range(count)]
    caller = operator()
    started: list[str] = []

    async def one(n: int) -> None:
        r = referrals[n]
        claim_id = claim_id_for(settings.id_secret, r.insurer_id, r.claim_number)
        await client.start_workflow(
            ClaimWorkflow.run,
            claim_intake(r, settings.id_secret, referred_by=caller),
            **start_options(r, workflow_id_for(claim_id), settings),
        )
        started.append(claim_id)

    batch = await run_batch(count, concurrency, one, lambda err: type(err).__name__)
    return batch, started


async def wait_booked(pool: asyncpg.Pool, claim_ids: list[str], timeout: float) -> float:
    """Wait until every claim has a booked appointment; how long that took."""
    began = time.monotonic()
    try:
        async with asyncio.timeout(timeout):
            # Polling Postgres: the bookings are rows the worker writes, not events here.
            while True:
                if await inspection.booked_count(pool, claim_ids) >= len(claim_ids):
                    break
                await asyncio.sleep(_BOOKING_POLL_SECONDS)
    except TimeoutError:
        booked = await inspection.booked_count(pool, claim_ids)
        raise RuntimeError(
            f"{booked} of {len(claim_ids)} claims booked after {timeout:.0f} s "
            "(BENCH_BOOK_TIMEOUT); see the worker's log"
        ) from None
    return time.monotonic() - began


def rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


async def open_claim_workflows(client: Client, task_queue: str) -> int:
    """Claim workflows running on the worker's queue (Temporal's visibility count)."""
    counted = await client.count_workflows(
        f"WorkflowType = '{ClaimWorkflow.__name__}' AND ExecutionStatus = 'Running'"
        f" AND TaskQueue = '{task_queue}'"
    )
    return counted.count
