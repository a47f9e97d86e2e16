"""The bench's run: every measurement in turn on one stack, each printed as it is measured."""

from __future__ import annotations

import asyncio
import inspect
import signal
import time
from datetime import UTC, datetime

import asyncpg
from temporalio.worker import Worker

from bench import machine
from bench.claims import Drivers
from bench.config import BenchConfig
from bench.history import history_counts, longest_recorded_history
from bench.report import Report, median, median_ratio
from bench.skeleton_worker import production_config
from bench.stack import Stack, bench_stack
from bench.starts import (
    PARKED_QUEUE,
    bulk_start,
    open_claim_workflows,
    raw_start,
    rss_mb,
    wait_booked,
)
from bench.status import LoadResult, run_load
from claim_service import ClaimService
from connections import open_pool, sealer
from domain.ids import workflow_id_for

# Claims (and skeletons) run before the measured rounds: the worker processes start, caches and
# connections fill.
WARMUP_CLAIMS = 8


async def run(config: BenchConfig, report: Report) -> None:
    began = time.monotonic()
    report.note(f"config: {config.describe()}")
    report.value("date", datetime.now(UTC).date().isoformat())
    report.value("machine_cpu", machine.cpu_model())
    report.value("machine_cores", machine.cores())
    report.value("machine_ram_gib", round(machine.ram_gib(), 1))
    events, name = longest_recorded_history()
    report.value("max_history_events", events)
    report.value("max_history_name", name)
    # Open bookings at the most: the claims kept open, and the DEMO claims driven at once.
    bookings = config.inflight + config.concurrency
    async with bench_stack(config, report, bookings) as stack:
        pool = await open_pool(stack.settings)
        try:
            service = ClaimService(pool, stack.client, stack.settings, sealer(stack.settings))
            _worker_cache(stack, pool, report)
            drivers = Drivers(service, stack.client)
            await _claims_vs_skeleton(config, drivers, report)
            await _history(stack, drivers, report)
            await _bulk_vs_raw(config, stack, pool, report)
            open_ids = await _inflight(config, stack, service, pool, report)
            await _status(config, stack, open_ids, report)
        finally:
            await pool.close()
    report.value("bench_wall_s", round(time.monotonic() - began))


def _worker_cache(stack: Stack, pool: asyncpg.Pool, report: Report) -> None:
    size = production_config(stack.client, stack.settings, pool)["max_cached_workflows"]
    default = inspect.signature(Worker).parameters["max_cached_workflows"].default
    report.value("worker_cache_size", size)
    if size == default:
        report.note("worker_cache_size is the SDK's default: worker.build_worker does not set it")


async def _claims_vs_skeleton(config: BenchConfig, drivers: Drivers, report: Report) -> None:
    n, c = config.claims, config.concurrency
    report.note(f"claims vs skeleton: {config.rounds} rounds of {n} each, {c} at once")
    warm = min(WARMUP_CLAIMS, n)
    for drive, tag in ((drivers.claim, "warm-c"), (drivers.skeleton, "warm-s")):
        batch = await drivers.batch(drive, tag, warm, c)
        if batch.failures:
            report.note(f"warm-up {tag} failures: {batch.describe_failures()}")
    claims: list[float] = []
    skeletons: list[float] = []
    failed = 0
    for r in range(config.rounds):
        sides = [("claims", drivers.claim, claims), ("skeleton", drivers.skeleton, skeletons)]
        for side, drive, rates in sides if r % 2 == 0 else reversed(sides):
            batch = await drivers.batch(drive, f"{side[0]}{r}", n, c)
            rates.append(batch.per_second)
            failed += sum(batch.failures.values())
            report.note(f"round {r + 1} {side}: {batch.summary(n)}")
    report.value("claims_per_s", median(claims))
    report.value("skeleton_per_s", median(skeletons))
    report.value("claims_vs_skeleton", median_ratio(claims, skeletons))
    report.value("claims_failed", failed)


async def _history(stack: Stack, drivers: Drivers, report: Report) -> None:
    if not drivers.completed_claims:
        report.note("no claim completed: no history to count")
        return
    claim = await history_counts(stack.client, drivers.completed_claims[-1])
    report.value("events_per_claim", claim.events)
    report.value("activities_per_claim", claim.activities)
    report.value("local_activities_per_claim", claim.local_activities)
    report.value("workflow_tasks_per_claim", claim.workflow_tasks)
    if drivers.completed_skeletons:
        skeleton = await history_counts(stack.client, drivers.completed_skeletons[-1])
        report.value("skeleton_events_per_claim", skeleton.events)


async def _inflight(
    config: BenchConfig, stack: Stack, service: ClaimService, pool: asyncpg.Pool, report: Report
) -> list[str]:
    """Claims kept open through the bulk path: the worker's memory at the small mark and the
    full count. Returns their ids."""
    open_ids: list[str] = []
    report.note(f"worker RSS before: {rss_mb(stack.worker_pid):.0f} MB")
    marks = [config.inflight_small, config.inflight]
    for mark in dict.fromkeys(marks):  # the two marks, once each if equal
        count = mark - len(open_ids)
        batch, ids = await bulk_start(
            service, stack.settings.data_dir, f"open{mark}", count, config.start_concurrency
        )
        open_ids += ids
        booking = await wait_booked(pool, open_ids, config.book_timeout)
        report.note(
            f"in flight: {len(ids)}/{count} started by the bulk path in {batch.seconds:.1f} s "
            f"({batch.per_second:.1f}/s), all {len(open_ids)} booked {booking:.1f} s later"
            + (f"; failed: {batch.describe_failures()}" if batch.failures else "")
        )
        report.value(f"worker_rss_mb_{mark}", round(rss_mb(stack.worker_pid)))
    running = await open_claim_workflows(stack.client, stack.settings.task_queue)
    report.value("inflight_claims", running)
    report.value("worker_rss_mb", round(rss_mb(stack.worker_pid)))
    return open_ids


async def _bulk_vs_raw(
    config: BenchConfig, stack: Stack, pool: asyncpg.Pool, report: Report
) -> None:
    per_round = max(1, config.starts // config.rounds)
    c = config.start_concurrency
    report.note(
        f"bulk vs raw: {config.rounds} rounds of {per_round} each, {c} at once, onto a task "
        "queue no worker polls"
    )
    parked = stack.settings.model_copy(update={"task_queue": PARKED_QUEUE})
    service = ClaimService(pool, stack.client, parked, sealer(parked))
    bulk: list[float] = []
    raw: list[float] = []
    for r in range(config.rounds):
        sides = ["bulk", "raw"] if r % 2 == 0 else ["raw", "bulk"]
        for side in sides:
            tag = f"{side}{r}"
            if side == "bulk":
                batch, _ = await bulk_start(service, stack.settings.data_dir, tag, per_round, c)
                bulk.append(batch.per_second)
            else:
                batch, _ = await raw_start(stack.client, parked, tag, per_round, c)
                raw.append(batch.per_second)
            report.note(f"round {r + 1} {side}: {batch.summary(per_round, digits=1)}")
    report.value("bulk_per_s", median(bulk))
    report.value("raw_start_per_s", median(raw))
    report.value("bulk_vs_raw", median_ratio(bulk, raw))


async def _status(config: BenchConfig, stack: Stack, open_ids: list[str], report: Report) -> None:
    # The claims started last: still in the worker's cache, as the claims someone is polling
    # would be (a query of an evicted claim waits for the worker to replay its history).
    claim_ids = open_ids[-config.load_claims :]
    work = stack.settings.data_dir
    ids_file, workflows_file = work / "status-claims.txt", work / "status-workflows.txt"
    ids_file.write_text("\n".join(claim_ids) + "\n")
    workflows_file.write_text("\n".join(workflow_id_for(c) for c in claim_ids) + "\n")
    report.note(
        f"status reads: {config.rounds} rounds, {config.load_clients} clients, "
        f"{config.load_seconds:.0f} s each after {config.load_warmup:.0f} s warm-up, over "
        f"the {len(claim_ids)} open claims started last; the load client is a process of its own "
        "on the same cores"
    )
    kinds = {
        "status": ("http", stack.api_url, stack.insurer_key, ids_file),
        "floor": ("http", stack.floor_url, stack.insurer_key, ids_file),
        "query": ("query", "-", "-", workflows_file),
    }
    results: dict[str, list[LoadResult]] = {kind: [] for kind in kinds}
    order = list(kinds)
    for r in range(config.rounds):
        for kind in order[r % 3 :] + order[: r % 3]:
            mode, url, key, file = kinds[kind]
            result = await run_load(config, stack.env, mode, url, key, file)
            results[kind].append(result)
            report.note(
                f"round {r + 1} {kind}: {result.per_second:.0f}/s, p50 {result.p50_ms:.1f} ms, "
                f"p99 {result.p99_ms:.1f} ms, {result.errors} errors of {result.requests}"
            )
    rate = {kind: [x.per_second for x in xs] for kind, xs in results.items()}
    report.value("status_rps", median(rate["status"]))
    report.value("floor_rps", median(rate["floor"]))
    report.value(
        "status_vs_floor",
        median_ratio(rate["status"], rate["floor"]),
    )
    report.value("status_p99_ms", median([x.p99_ms for x in results["status"]]))
    report.value("query_rps", median(rate["query"]))
    report.value(
        "status_vs_query",
        median_ratio(rate["status"], rate["query"]),
    )
    report.value("floor_p99_ms", median([x.p99_ms for x in results["floor"]]))
    report.value("query_p99_ms", median([x.p99_ms for x in results["query"]]))
    errors = sum(x.errors for xs in results.values() for x in xs)
    report.value("status_errors", errors)


async def _stoppable(config: BenchConfig, report: Report) -> None:
    """`run`, cancelled by Ctrl-C or SIGTERM: the stack's processes (each in a session of its
    own, out of reach of the terminal's Ctrl-C) are then stopped on the way out."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    await run(config, report)


def main() -> int:
    config = BenchConfig.from_env()
    report = Report(config.out)
    try:
        asyncio.run(_stoppable(config, report))
    except asyncio.CancelledError:
        report.note("interrupted: the stack is stopped")
        report.save()
        return 130
    except Exception as err:
        report.note(f"bench failed: {type(err).__name__}: {err}")
        report.save()
        raise
    report.note(f"saved to {config.out}")
    report.finish()
    return 0
