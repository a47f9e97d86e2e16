"""Runs the claim worker until SIGINT/SIGTERM, then drains in-flight tasks and exits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence
from datetime import timedelta

from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Interceptor, Worker

from activities import ClaimActivities
from codec import worker_converter
from connections import connect_temporal, open_pool, sealer, signing_keys
from observability.process import setup
from observability.temporal import ActivityLogContext, core_logging
from reconciler import Reconciler
from settings import Settings, get_settings
from workflows import WORKFLOWS
from workflows.action_guard import ActionGuard

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
        activities=activities.all(),
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
