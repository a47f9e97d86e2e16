"""Tracing: off by default (nothing installed, nothing run); on, a claim started through the API
is one trace from the HTTP request through the Temporal client to the worker's workflow run and
activities, with no PHI in any span, and the request's log lines carry its trace id.

The API and the worker run as processes exporting over OTLP/HTTP to a collector on loopback
that decodes what they send.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from dataclasses import dataclass, field

import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import ProxyTracerProvider, Status, StatusCode
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.app import create_app
from domain.names import Role
from observability.http import RequestSpans
from observability.temporal import client_interceptors
from observability.tracing import ScrubbedExporter, configure_tracing
from settings import Settings
from tests.helpers.phi import distinctive_referral, leaked
from tests.helpers.processes import api_process, keyed_client, service_env, worker_process
from tests.helpers.receivers import serving
from tests.helpers.stack import dev_address
from tests.helpers.walk import wait_until


def test_with_tracing_off_nothing_is_installed():
    settings = Settings(otel_exporter_otlp_endpoint="")
    assert configure_tracing(settings, "ime-test") is None
    assert isinstance(trace.get_tracer_provider(), ProxyTracerProvider)
    assert client_interceptors(settings) == []
    app = create_app(settings)
    middleware: list[object] = [m.cls for m in app.user_middleware]
    assert RequestSpans not in middleware
    traced = create_app(Settings(otel_exporter_otlp_endpoint="http://127.0.0.1:9"))
    outermost: object = traced.user_middleware[0].cls
    assert outermost is RequestSpans  # outermost when on


def test_an_exported_span_keeps_an_exceptions_type_never_its_message():
    exported = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(ScrubbedExporter(exported)))
    with provider.get_tracer("test").start_as_current_span("work") as span:
        error = ValueError("claimant Jane Roe, born 1980-04-02")
        span.record_exception(error)
        # As the Temporal interceptor describes a failure:
        span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))

    [sent] = exported.get_finished_spans()
    assert sent.status.description == "ValueError"
    [event] = sent.events
    assert dict(event.attributes or {}) == {
        "exception.type": "ValueError",
        "exception.escaped": "False",
    }


@dataclass
class Span:
    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict[str, object]


@dataclass
class Collector:
    """An OTLP/HTTP trace receiver: keeps every request as sent and the spans decoded."""

    raw: list[bytes] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)

    def app(self) -> Starlette:
        async def traces(request: Request) -> Response:
            body = await request.body()
            if request.headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            self.raw.append(body)
            export = ExportTraceServiceRequest()
            export.ParseFromString(body)
            for resource in export.resource_spans:
                service = next(
                    a.value.string_value
                    for a in resource.resource.attributes
                    if a.key == "service.name"
                )
                for scope in resource.scope_spans:
                    self.spans += [
                        Span(
                            service=service,
                            name=s.name,
                            kind=s.kind,
                            trace_id=s.trace_id.hex(),
                            span_id=s.span_id.hex(),
                            parent_id=s.parent_span_id.hex(),
                            attributes={a.key: _value(a.value) for a in s.attributes},
                        )
                        for s in scope.spans
                    ]
            answer = ExportTraceServiceResponse().SerializeToString()
            return Response(answer, media_type="application/x-protobuf")

        return Starlette(routes=[Route("/v1/traces", traces, methods=["POST"])])

    def named(self, name: str) -> list[Span]:
        return [s for s in self.spans if s.name == name]


def _value(value: AnyValue) -> object:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


@pytest.mark.slow
async def test_a_claim_is_one_trace_from_the_request_to_the_workers_activities(
    dev_env, database_url, task_queue, pool, tmp_path
):
    collector = Collector()
    api_log = tmp_path / "api.log"
    async with serving(collector.app()) as endpoint:
        env = service_env(
            dev_address(dev_env), database_url, task_queue,
            IME_OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
            OTEL_BSP_SCHEDULE_DELAY="100",  # export within a tenth of a second
        )  # fmt: skip
        async with worker_process(env), api_process(env, api_log) as url:
            insurer = await keyed_client(pool, url, Role.INSURER, insurer_id="acme-ins")
            async with insurer:
                created = await insurer.post(
                    "/v1/claims",
                    json=distinctive_referral(),
                    headers={"X-Request-ID": "74acedc4ea7e0001"},
                )
                assert created.status_code == 201, created.text
                claim_id = created.json()["claim_id"]
                await wait_until(insurer, claim_id, lambda c: c["appointment"] is not None)

            [request] = [s for s in collector.named("POST /v1/claims") if s.service == "ime-api"]
            expected = {
                ("ime-api", "StartWorkflow:ClaimWorkflow"),
                ("ime-worker", "RunWorkflow:ClaimWorkflow"),
                ("ime-worker", "StartActivity:record_transition"),
                ("ime-worker", "RunActivity:record_transition"),
                ("ime-worker", "RunActivity:schedule_exam"),
            }

            def in_trace() -> set[tuple[str, str]]:
                return {
                    (s.service, s.name) for s in collector.spans if s.trace_id == request.trace_id
                }

            async with asyncio.timeout(20):
                while not expected <= in_trace():
                    await asyncio.sleep(0.1)

    # The request's span is the root of the trace, a server span named by its route.
    assert request.parent_id == ""
    assert request.kind == 2  # SPAN_KIND_SERVER
    assert request.attributes == {
        "http.request.method": "POST",
        "http.route": "/v1/claims",
        "http.response.status_code": 201,
    }
    [start] = [
        s for s in collector.named("StartWorkflow:ClaimWorkflow") if s.trace_id == request.trace_id
    ]
    assert start.parent_id == request.span_id
    # Request spans name no claim (routes are templates), and no span anything of the claimant.
    for span in collector.spans:
        if (span.service, span.kind) == ("ime-api", 2):
            assert claim_id not in span.name + json.dumps(span.attributes), span
    assert leaked(b"".join(collector.raw).decode("latin-1")) == []
    # The request's log lines carry its trace.
    lines = [json.loads(line) for line in api_log.read_text().splitlines()]
    [access] = [line for line in lines if line.get("request_id") == "74acedc4ea7e0001"]
    assert access["trace_id"] == request.trace_id
