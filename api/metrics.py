"""Prometheus metrics of the API: requests by route template (never by claim id) and status.
Scraped with an `sre` (or `ops`) key."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

from api.deps import capability
from api.openapi import errors, who
from domain.access import CAPABILITY_ROLES, Capability
from domain.models import Caller


def install(app: FastAPI) -> None:
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

    @app.middleware("http")
    async def _measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        # The route template keeps ids (and so cardinality and any identifier) out of labels.
        name = getattr(route, "path", "unmatched")
        latency.labels(request.method, name).observe(time.perf_counter() - started)
        requests.labels(request.method, name, str(response.status_code)).inc()
        return response

    @app.get(
        "/metrics",
        operation_id="metrics",
        description=who(r.value for r in CAPABILITY_ROLES[Capability.READ_METRICS]),
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}}, **errors(401, 403)},
    )
    async def metrics(
        caller: Annotated[Caller, capability(Capability.READ_METRICS)],
    ) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
