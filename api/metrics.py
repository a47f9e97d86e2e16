"""Prometheus metrics of the API: requests by route template (never by claim id) and status,
and the business figures read from Postgres at scrape time (claims by stage and outcome, overdue
claims, safety holds and pages, deliveries, deadline breaches). Scraped with an `sre` (or `ops`)
key. Labels never carry a claim id, an insurer id or PHI.

The names below are what dashboards and alert rules refer to: change one, change them too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from typing import Annotated

import asyncpg
from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from api.deps import capability
from api.openapi import errors, who
from domain.access import CAPABILITY_ROLES, Capability
from domain.models import Caller
from store.metrics import BusinessCounts, business_counts

log = logging.getLogger("ime.api")

# Business metrics, as scraped (all gauges but the breaches counter).
BUSINESS_METRICS = (
    "ime_claims_open",  # {stage}: every open stage, 0 included
    "ime_claims_closed",  # {outcome}: every outcome, 0 included
    "ime_claims_overdue",  # open claims with a breached deadline whose step is undone
    "ime_safety_holds_open",  # claims on safety hold (a hold can outlast its claim's closing)
    "ime_safety_pages_unacknowledged",  # safety cases paged and not acknowledged
    "ime_safety_page_oldest_unacknowledged_seconds",  # age of the oldest such page; 0: none
    "ime_deliveries",  # {channel=webhook|email|page, state=pending|failed|dead}
    "ime_deadline_breaches_total",  # {owner=examiner|ops|reviewer|insurer}: counter
    "ime_business_metrics_up",  # 1: the figures above were read; 0: Postgres did not answer
)

# What the worker serves on IME_WORKER_METRICS_ADDRESS (the Temporal SDK's Prometheus metrics,
# label `service="ime-worker"`, plus namespace and task_queue). Histograms are in milliseconds
# (buckets 100, 500, 1000, 5000, ...; query `<name>_bucket`); counters are served without a
# `_total` suffix. More appear once they happen (`temporal_sticky_cache_miss`,
# `temporal_sticky_cache_total_forced_eviction`, `temporal_workflow_task_execution_failed`, ...).
WORKER_SDK_METRICS = (
    "temporal_workflow_task_schedule_to_start_latency",  # histogram, ms
    "temporal_activity_schedule_to_start_latency",  # histogram, ms (remote activities only)
    "temporal_workflow_task_execution_latency",  # histogram, ms
    "temporal_activity_execution_latency",  # histogram, ms; {activity_type}
    "temporal_local_activity_execution_latency",  # histogram, ms; {activity_type}
    "temporal_worker_task_slots_available",  # gauge; {worker_type}
    "temporal_worker_task_slots_used",  # gauge; {worker_type}
    "temporal_sticky_cache_size",  # gauge: workflows cached
    "temporal_sticky_cache_hit",  # counter; {workflow_type}
    "temporal_num_pollers",  # gauge; {poller_type}
    "temporal_request",  # counter: calls to the Temporal frontend; {operation}
)

# A scrape waits this long for Postgres at most (well inside Prometheus's scrape timeout), and
# never longer than a statement may run.
BUSINESS_SCRAPE_SECONDS = 2.0


def install(app: FastAPI) -> Callable[[str, str, int, float], None]:
    """The /metrics route; returns what counts and times an answer (method, route template,
    status, seconds), which the access line calls for every request it logs."""
    registry = CollectorRegistry()
    requests = Counter(
        "ime_http_requests",
        "HTTP requests answered",
        ["method", "route", "status"],
        registry=registry,
    )
    latency = Histogram(
        "ime_http_request_seconds",
        "HTTP request latency",
        ["method", "route"],
        registry=registry,
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    )

    def answered(method: str, route: str, status: int, seconds: float) -> None:
        # The route template keeps ids (and so cardinality and any identifier) out of labels.
        latency.labels(method, route).observe(seconds)
        requests.labels(method, route, str(status)).inc()

    @app.get(
        "/metrics",
        operation_id="metrics",
        description=who(r.value for r in CAPABILITY_ROLES[Capability.READ_METRICS]),
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}}, **errors(401, 403)},
    )
    async def metrics(
        request: Request,
        caller: Annotated[Caller, capability(Capability.READ_METRICS)],
    ) -> Response:
        state = request.app.state
        budget = min(BUSINESS_SCRAPE_SECONDS, state.settings.database_statement_timeout_seconds)
        # A registry per scrape: the figures are this scrape's own, never a previous one's.
        business = CollectorRegistry(auto_describe=False)
        business.register(_Business(await _read_business(state.pool, budget)))
        body = generate_latest(registry) + generate_latest(business)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return answered


async def _read_business(pool: asyncpg.Pool, budget: float) -> BusinessCounts | None:
    """The figures, or None when Postgres does not answer within `budget` (down, frozen, slow):
    the scrape still answers, with the HTTP metrics and `ime_business_metrics_up 0`."""

    async def read() -> BusinessCounts:
        async with pool.acquire(timeout=budget) as conn:
            return await business_counts(conn, timeout_seconds=budget)

    task = asyncio.ensure_future(read())
    await asyncio.wait({task}, timeout=budget)
    if not task.done():
        # Not awaited: a frozen server may hold up the cancellation itself.
        task.cancel()
        task.add_done_callback(_consume)
        log.warning("business metrics: Postgres did not answer within %.1f s", budget)
        return None
    error = task.exception()
    if error is not None:
        log.warning("business metrics unavailable: %s", type(error).__name__)
        return None
    return task.result()


def _consume(task: asyncio.Future[BusinessCounts]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log it as never retrieved


class _Business:
    """The business figures of one scrape as Prometheus metric families."""

    def __init__(self, counts: BusinessCounts | None) -> None:
        self._counts = counts

    def collect(self) -> Iterator[Metric]:
        counts = self._counts
        yield GaugeMetricFamily(
            "ime_business_metrics_up",
            "1 when the business metrics were read from Postgres in this scrape, else 0",
            value=0 if counts is None else 1,
        )
        if counts is None:
            return  # no figure rather than a stale or made-up one
        opened = GaugeMetricFamily("ime_claims_open", "Open claims by stage", labels=["stage"])
        for stage, n in counts.open_by_stage.items():
            opened.add_metric([stage.value], n)
        closed = GaugeMetricFamily(
            "ime_claims_closed", "Closed claims by outcome", labels=["outcome"]
        )
        for outcome, n in counts.closed_by_outcome.items():
            closed.add_metric([outcome.value], n)
        deliveries = GaugeMetricFamily(
            "ime_deliveries",
            "Deliveries not delivered: pending, failed (retrying after an error) or dead",
            labels=["channel", "state"],
        )
        for (channel, state), n in counts.deliveries.items():
            deliveries.add_metric([channel.value, state.value], n)
        breaches = CounterMetricFamily(
            "ime_deadline_breaches",
            "Deadline breaches recorded in the audit log, by the deadline's owner",
            labels=["owner"],
        )
        for owner, n in counts.breaches_by_owner.items():
            breaches.add_metric([owner], n)
        yield from (opened, closed, deliveries, breaches)
        yield GaugeMetricFamily(
            "ime_claims_overdue",
            "Open claims with a breached deadline whose step is still undone",
            value=counts.overdue,
        )
        yield GaugeMetricFamily(
            "ime_safety_holds_open", "Claims on safety hold", value=counts.safety_holds
        )
        yield GaugeMetricFamily(
            "ime_safety_pages_unacknowledged",
            "Safety cases paged and not yet acknowledged",
            value=counts.pages_unacknowledged,
        )
        yield GaugeMetricFamily(
            "ime_safety_page_oldest_unacknowledged_seconds",
            "Age of the first page of the oldest unacknowledged safety case (0: none)",
            value=counts.oldest_unacknowledged_page_seconds,
        )
