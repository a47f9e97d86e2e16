"""Prometheus metrics of the API: requests by route template (never by claim id) and status.
Scraped with an `sre` (or `ops`) key."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import FastAPI, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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

    app.add_middleware(_Measure, requests=requests, latency=latency)

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


class _Measure:
    """Counts and times every answer. Plain ASGI rather than `@app.middleware("http")`: that
    wrapper costs a task and a stream pair per request."""

    def __init__(self, app: ASGIApp, *, requests: Counter, latency: Histogram) -> None:
        self.app = app
        self._requests = requests
        self._latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # if no answer starts (the catch-all inside answers 500 then)

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            # The route template keeps ids (and so cardinality and any identifier) out of labels.
            name = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            self._latency.labels(method, name).observe(time.perf_counter() - started)
            self._requests.labels(method, name, str(status)).inc()
