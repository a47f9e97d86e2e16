"""One log format for every process: each line one JSON object (`timestamp` in ISO UTC, `level`,
`logger`, `event`, then the bound context), or readable lines with `IME_LOG_FORMAT=console`.

structlog renders every line. Our own events (`get_logger(name).info("...", field=...)`) are
rendered and written directly; what goes through the standard `logging` module (uvicorn,
temporalio, asyncpg, our older `logging.getLogger(...)` calls) reaches the one handler on the
root logger, whose `structlog.stdlib.ProcessorFormatter` runs the same processors. Context comes
from `structlog.contextvars` (`request_id`, `claim_id`, `delivery_id`, ...), from the Temporal
SDK's own record extras (`workflow_id`, `run_id` on `workflow.logger` and `activity.logger`
lines) and from the current OpenTelemetry span (`trace_id`, `span_id`). Both paths run in the
thread and context of the call, so the context is that of the code that logged.

No line may carry PHI. Our log calls name ids and exception types only; three rules here hold
for whatever else logs: an exception is rendered as its type and its stack of code locations,
never its message or locals (a message can quote a submitted value); a crash is such a line too;
and the loggers that would print request URLs or payloads are kept at WARNING.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from types import TracebackType
from typing import Any, Literal, TextIO

import structlog
from opentelemetry import trace
from structlog.typing import EventDict, Processor, WrappedLogger

from domain.ids import WORKFLOW_ID_PREFIX, plausible_claim_id

LogFormat = Literal["json", "console"]

# Loggers whose INFO or DEBUG lines would carry what callers send: URLs with query strings
# (httpx), SMTP envelopes (aiosmtpd's `mail.log`), heartbeat details (temporalio at DEBUG).
_QUIETER = {"httpx": logging.WARNING, "httpcore": logging.WARNING, "mail.log": logging.WARNING}
_TEMPORALIO_FLOOR = logging.INFO
_STACK_FRAMES = 20
_FIRST_KEYS = ("timestamp", "level", "logger", "event")


def get_logger(name: str) -> Any:
    """A logger whose calls take fields: `log.info("delivery failed", delivery_id=...)`. Made
    at import time, it writes as the process is configured when it logs."""
    return structlog.get_logger(name)


def configure_logging(
    service: str,
    *,
    level: str = "INFO",
    fmt: LogFormat = "json",
    stream: TextIO | None = None,
) -> logging.Handler:
    """Render every log line of this process to `stream` (stderr as it is at each line when
    None). Idempotent: calling it again replaces what it configured. Returns the root handler."""
    processors: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
        _temporal_fields,
        _trace_ids,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        _exception_type_only,
        _service(service),
        _ordered,
    ]
    renderer: Processor
    if fmt == "console":
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    else:
        renderer = structlog.processors.JSONRenderer(default=str)
    numeric_level = logging.getLevelName(level)
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=_Writer.factory(stream),
        # Not cached: a logger made before this call writes as configured now.
        cache_logger_on_first_use=False,
    )
    handler = _Handler(stream)
    unmeta = structlog.stdlib.ProcessorFormatter.remove_processors_meta
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(processors=[*processors, unmeta, renderer])
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric_level)
    for name, floor in _QUIETER.items():
        logging.getLogger(name).setLevel(floor)
    temporalio = logging.getLogger("temporalio")
    temporalio.setLevel(max(numeric_level, _TEMPORALIO_FLOOR))
    _adopt_uvicorn()
    _temporal_adapters_without_message_suffix()
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread
    return handler


def _log_uncaught(
    kind: type[BaseException], error: BaseException, tb: TracebackType | None
) -> None:
    """A crash is a log line too (its type and where, as any exception here)."""
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, tb)
        return
    logging.getLogger("ime.uncaught").critical("uncaught exception", exc_info=(kind, error, tb))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is not None:
        _log_uncaught(args.exc_type, args.exc_value, args.exc_traceback)


def _adopt_uvicorn() -> None:
    """uvicorn configures its own handlers before it loads the app: its lines go through ours
    instead. Its access log is dropped (a logger without handlers is skipped by uvicorn): the
    API writes its own access line, with the route template and never a query string."""
    for name in ("uvicorn", "uvicorn.error", "uvicorn.asgi"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        # The level is ours too (IME_LOG_LEVEL at the root), not the one uvicorn was given.
        logger.setLevel(logging.NOTSET)
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False


def _temporal_adapters_without_message_suffix() -> None:
    """The SDK appends a dict of workflow or activity info to each message; the same info is
    rendered as fields here (`_temporal_fields`), so the message stays the message."""
    from temporalio import activity, workflow

    workflow.logger.workflow_info_on_message = False
    activity.logger.activity_info_on_message = False


class _Writer(structlog.WriteLogger):
    """Where our own events go: one line each, to the configured stream or the current stderr.
    Named, so that `add_logger_name` finds the name the logger was asked for."""

    def __init__(self, name: str, stream: TextIO) -> None:
        super().__init__(stream)
        self.name = name

    @classmethod
    def factory(cls, stream: TextIO | None) -> Any:
        def make(name: str = "", *_: Any) -> _Writer:
            return cls(name, stream if stream is not None else sys.stderr)

        return make


class _Handler(logging.StreamHandler[TextIO]):
    """stderr as it is when a line is written (not when the handler was made), so a process that
    swaps stderr (a test capturing output) still gets its lines."""

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__(stream)
        self._fixed = stream

    @property
    def stream(self) -> TextIO:
        return self._fixed if self._fixed is not None else sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass  # StreamHandler.__init__ assigns it; the property decides


# Until a process configures its output (tests, tools), our events go to the standard logger of
# their name, as any library's would.
structlog.configure(
    processors=[structlog.stdlib.filter_by_level, structlog.stdlib.render_to_log_kwargs],
    logger_factory=structlog.stdlib.LoggerFactory(),
    wrapper_class=structlog.stdlib.BoundLogger,
    cache_logger_on_first_use=False,
)


# ---- processors -------------------------------------------------------------------------------


def _service(service: str) -> Processor:
    def add_service(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
        event_dict.setdefault("service", service)
        return event_dict

    return add_service


def _temporal_fields(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """`workflow.logger` and `activity.logger` (and the SDK's own lines about a workflow) carry
    the run they are about as a record extra: rendered as fields."""
    record = event_dict.get("_record")
    if record is None:
        return event_dict
    details = getattr(record, "temporal_workflow", None) or getattr(
        record, "temporal_activity", None
    )
    if isinstance(details, dict):
        workflow_id = details.get("workflow_id")
        event_dict.setdefault("workflow_id", workflow_id)
        event_dict.setdefault("run_id", details.get("run_id") or details.get("workflow_run_id"))
        for key in ("workflow_type", "activity_type", "activity_id", "update_name"):
            if details.get(key) is not None:
                event_dict.setdefault(key, details[key])
        claim_id = claim_id_of(workflow_id)
        if claim_id is not None:
            event_dict.setdefault("claim_id", claim_id)
    return event_dict


def claim_id_of(workflow_id: object) -> str | None:
    """The claim a workflow is about (`ime-claim-<id>`, or its safety case
    `ime-claim-<id>-safety-<n>`)."""
    if not isinstance(workflow_id, str) or not workflow_id.startswith(WORKFLOW_ID_PREFIX):
        return None
    candidate = workflow_id.removeprefix(WORKFLOW_ID_PREFIX).split("-", 1)[0]
    return candidate if plausible_claim_id(candidate) else None


def _trace_ids(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict.setdefault("trace_id", format(context.trace_id, "032x"))
        event_dict.setdefault("span_id", format(context.span_id, "016x"))
    return event_dict


def _exception_type_only(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """An exception as its type (and its causes' types) and where it was raised: never its
    message nor locals, which can quote the data that caused it."""
    exc_info = event_dict.pop("exc_info", None)
    error = _exception_of(exc_info)
    if error is None:
        return event_dict
    chain: list[str] = []
    seen: BaseException | None = error
    while seen is not None and len(chain) < 5:
        chain.append(_type_name(seen))
        seen = seen.__cause__ or seen.__context__
    event_dict["exception"] = chain[0]
    if len(chain) > 1:
        event_dict["exception_causes"] = chain[1:]
    event_dict["exception_stack"] = _locations(error.__traceback__)
    return event_dict


def _exception_of(exc_info: Any) -> BaseException | None:
    if exc_info is None or exc_info is False:
        return None
    if isinstance(exc_info, BaseException):
        return exc_info
    if exc_info is True:
        return sys.exc_info()[1]
    if isinstance(exc_info, tuple) and len(exc_info) == 3:
        value = exc_info[1]
        return value if isinstance(value, BaseException) else None
    return None


def _type_name(error: BaseException) -> str:
    kind = type(error)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


def _locations(tb: TracebackType | None) -> list[str]:
    frames = traceback.extract_tb(tb)[-_STACK_FRAMES:]
    return [f"{frame.filename}:{frame.lineno} in {frame.name}" for frame in frames]


def _ordered(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """The four keys every line has first, then the context, for people reading raw lines."""
    first = {key: event_dict.pop(key) for key in _FIRST_KEYS if key in event_dict}
    first.update(event_dict)
    return first
