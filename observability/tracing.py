"""OpenTelemetry tracing: off unless `IME_OTEL_EXPORTER_OTLP_ENDPOINT` names a collector; then
each process exports its spans there over OTLP/HTTP under its own service name (ime-api,
ime-worker, ime-dispatcher).

What leaves the process carries no PHI: span names are route templates, workflow, update and
activity names; attributes are ids and statuses; and every span passes `ScrubbedExporter` on its way
out, which keeps of a recorded exception only its type (the Temporal interceptor puts an
exception's message in the span status, and a message can quote a submitted value).
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Status

from settings import Settings

_KEPT_EXCEPTION_ATTRIBUTES = frozenset({"exception.type", "exception.escaped"})


def tracing_enabled(settings: Settings) -> bool:
    return bool(settings.otel_exporter_otlp_endpoint)


def configure_tracing(settings: Settings, service: str) -> TracerProvider | None:
    """Install this process's tracer provider when tracing is on; None (and nothing installed,
    every span a no-op) when it is off. The provider flushes what it holds at exit."""
    if not tracing_enabled(settings):
        return None
    endpoint = settings.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
    provider.add_span_processor(
        BatchSpanProcessor(ScrubbedExporter(OTLPSpanExporter(endpoint=endpoint)))
    )
    trace.set_tracer_provider(provider)
    return provider


class ScrubbedExporter(SpanExporter):
    """Hands the exporter copies of the spans without exception messages or stack traces."""

    def __init__(self, inner: SpanExporter) -> None:
        self._inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._inner.export([scrubbed(span) for span in spans])

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._inner.force_flush(timeout_millis)


def scrubbed(span: ReadableSpan) -> ReadableSpan:
    status = span.status
    if status.description:
        # "<Type>: <message>" as the interceptor writes it: the type is enough to go on.
        status = Status(status.status_code, status.description.split(":", 1)[0])
    events = [
        Event(
            event.name,
            {k: v for k, v in (event.attributes or {}).items() if k in _KEPT_EXCEPTION_ATTRIBUTES},
            event.timestamp,
        )
        if event.name == "exception"
        else event
        for event in span.events
    ]
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=span.attributes,
        events=events,
        links=span.links,
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )
