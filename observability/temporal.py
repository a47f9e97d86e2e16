"""Logs and traces of the Temporal SDK: the claim an activity works on bound to its log lines,
the SDK core's own lines in our log format, the tracing interceptor when tracing is on."""

from __future__ import annotations

import logging
from typing import Any

import structlog
from temporalio import activity
from temporalio.client import Interceptor as ClientInterceptor
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.runtime import LogForwardingConfig, LoggingConfig, TelemetryFilter
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from observability.logs import claim_id_of
from observability.tracing import tracing_enabled
from settings import Settings


class ActivityLogContext(Interceptor):
    """Every line logged while an activity runs (by the activity, the store, asyncpg) carries
    the workflow run it works for and its claim. Workflow code logs through `workflow.logger`,
    whose lines the SDK already marks with the run (rendered by `observability.logs`)."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _BindActivity(next)


class _BindActivity(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        context: dict[str, Any] = {
            "workflow_id": info.workflow_id,
            "run_id": info.workflow_run_id,
            "activity_type": info.activity_type,
        }
        claim_id = claim_id_of(info.workflow_id)
        if claim_id is not None:
            context["claim_id"] = claim_id
        # Each activity runs in a task of its own: the binding ends with it.
        with structlog.contextvars.bound_contextvars(**context):
            return await super().execute_activity(input)


def core_logging() -> LoggingConfig:
    """The SDK core (Rust) writes its warnings to stderr in a format of its own; forwarded to
    Python logging instead, they come out as our JSON lines. Its structured fields are left
    out: they can quote a failure's message."""
    return LoggingConfig(
        filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
        forwarding=LogForwardingConfig(
            logger=logging.getLogger("temporalio.core"), append_log_fields_to_message=False
        ),
    )


def client_interceptors(settings: Settings) -> list[ClientInterceptor]:
    """On the client, so that workers built from it trace too: a span per start, update and
    query, and per workflow run and activity on the worker, in the caller's trace. Nothing
    when tracing is off (the interceptor would still rewrite every call's headers)."""
    return [TracingInterceptor()] if tracing_enabled(settings) else []
