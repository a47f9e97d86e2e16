"""What each entry point (API, worker, dispatcher, dev stack) calls first: its logs, its Temporal
SDK core's logs and its traces, configured from the settings."""

from __future__ import annotations

from temporalio.runtime import Runtime, TelemetryConfig

from observability.logs import configure_logging
from observability.temporal import core_logging
from observability.tracing import configure_tracing
from settings import Settings


def setup(settings: Settings, service: str, *, temporal: bool) -> None:
    """`temporal`: the process talks to Temporal, so the SDK core's own log lines are routed
    through ours (set before any client exists; the runtime costs threads, hence not always)."""
    configure_logging(service, level=settings.log_level, fmt=settings.log_format)
    if temporal:
        Runtime.set_default(
            Runtime(telemetry=TelemetryConfig(logging=core_logging())), error_if_already_set=False
        )
    configure_tracing(settings, service)
