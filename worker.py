"""Runs the claim worker until SIGINT/SIGTERM, then drains in-flight tasks and exits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import RPCError
from temporalio.worker import Interceptor, Worker

from activities import ClaimActivities
from activities.retention import RetentionActivities
from codec import worker_converter
from connections import connect_temporal, open_pool, sealer, signing_keys
from domain.retention import SweepInput
from observability.process import setup
from observability.temporal import ActivityLogContext, core_logging
from reconciler import Reconciler
from settings import Settings, get_settings
from workflows import WORKFLOWS
from workflows.action_guard import ActionGuard
from workflows.retention import RETENTION_SWEEP

# The Temporal Schedule that starts the retention sweep, and the id of the runs it starts
# (Temporal adds the scheduled time to it).
RETENTION_SCHEDULE_ID = "retention-sweep"

log = logging.getLogger("ime.worker")


def build_worker(
    client: Client,
    settings: Settings,
    activities: ClaimActivities,
    interceptors: Sequence[Interceptor] = (),
) -> Worker:
    return Worker(
        worker_client(client),
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        # The claim's activities, and the retention sweep's on the same pool.
        activities=[*activities.all(), *RetentionActivities(activities.pool).all()],
        # An Update reaches a claim only with the envelope the API signed for it; lines logged
        # while an activity runs carry its workflow run and claim.
        interceptors=[ActionGuard(signing_keys(settings)), ActivityLogContext(), *interceptors],
        # On SIGTERM running activities get this long to finish before they are cancelled
        # (and retried elsewhere: every side effect is idempotent).
        graceful_shutdown_timeout=timedelta(seconds=10),
        # A claim whose worker died moves to another after this long (the SDK waits 10 s by
        # default): failover within seconds, as the DEMO profile's waits are seconds long.
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=3),
    )


def worker_client(client: Client) -> Client:
    """The client as its workers use it: actions that arrive in plaintext (not sealed by the
    payload codec) are refused (`codec.worker_converter`)."""
    config = client.config()
    config["data_converter"] = worker_converter(config["data_converter"])
    return Client(**config)


def retention_schedule(settings: Settings) -> Schedule:
    """The sweep every `retention_sweep_every` seconds; a run still going when the next is due
    makes that one skipped (overlap SKIP), so two sweeps never run at once."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            RETENTION_SWEEP, SweepInput(), id=RETENTION_SCHEDULE_ID, task_queue=settings.task_queue
        ),
        spec=ScheduleSpec(
            intervals=[
                ScheduleIntervalSpec(every=timedelta(seconds=settings.retention_sweep_every))
            ]
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_retention_schedule(client: Client, settings: Settings) -> None:
    """Create the `retention-sweep` schedule, or bring the existing one to this configuration
    (never a second one: the schedule id is unique in the namespace). Every worker calls it at
    start; workers started together race harmlessly, each leaving the same schedule."""
    if settings.retention_sweep_every <= 0:
        return
    schedule = retention_schedule(settings)

    def update(_: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=schedule)

    try:
        try:
            await client.create_schedule(RETENTION_SCHEDULE_ID, schedule)
            log.info("retention schedule created")
        except ScheduleAlreadyRunningError:
            await client.get_schedule_handle(RETENTION_SCHEDULE_ID).update(update)
            log.info("retention schedule updated")
    except RPCError as err:
        # The worker still serves its claims; no sweep runs until a worker sets the schedule.
        log.error("retention schedule not set: %s (%s)", err.status.name, err.message)


def metrics_runtime(settings: Settings) -> Runtime | None:
    """A runtime serving the SDK's worker metrics to Prometheus, when an address is set."""
    if not settings.worker_metrics_address:
        return None
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(bind_address=settings.worker_metrics_address),
            global_tags={"service": "ime-worker"},
            logging=core_logging(),
        )
    )


async def main() -> None:
    settings = get_settings()
    client = await connect_temporal(settings, metrics_runtime(settings))
    pool = await open_pool(settings)
    payload_sealer = sealer(settings)
    activities = ClaimActivities(pool, settings.id_secret, payload_sealer)
    worker = build_worker(client, settings, activities)
    await ensure_retention_schedule(client, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("worker polling task queue %s", settings.task_queue)
    async with worker:
        reconciling = None
        if settings.reconcile_interval_seconds > 0:
            reconciler = Reconciler(client, pool, payload_sealer)
            reconciling = asyncio.create_task(
                reconciler.run(settings.reconcile_interval_seconds, stop)
            )
        await stop.wait()
        log.info("worker draining")
        if reconciling is not None:
            # Stops at its next wait; a sweep cut short commits nothing half-done (one
            # transaction per claim) and the next process sweeps again.
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(reconciling, timeout=5)
    await pool.close()


if __name__ == "__main__":
    setup(get_settings(), "ime-worker", temporal=True)
    asyncio.run(main())
