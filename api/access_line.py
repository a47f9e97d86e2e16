"""Every request's identity and its one log line, outermost of the app's own middleware.

The request id is the caller's `X-Request-ID` when it is a UUID or up to 64 hex digits, else a
new one (32 hex digits): anything else a caller sends is neither logged nor echoed. It is
echoed in the answer, kept in `scope["state"]["request_id"]` (the access log table records it)
and bound to every log line written while the request runs. When the answer is done, one line:
method, route template, status, duration, and the claim when the route names one. Never the
path nor the query string: either can hold whatever a caller typed. (This line replaces
uvicorn's access log, which prints both.)
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.ids import plausible_claim_id
from observability.logs import get_logger

log = get_logger("ime.api.access")

# A UUID (any case, with its hyphens) or 1 to 64 hex digits: an id, and nothing else.
_REQUEST_ID = re.compile(
    r"^(?:[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
    r"|[0-9A-Fa-f]{1,64})$"
)


class AccessLine:
    """`answered(method, route, status, seconds)`: what else is told of each answer (the HTTP
    metrics), from the same measurement."""

    def __init__(self, app: ASGIApp, *, answered: Callable[[str, str, int, float], None]) -> None:
        self.app = app
        self._answered = answered

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _inbound_request_id(scope) or secrets.token_hex(16)
        scope.setdefault("state", {})["request_id"] = request_id
        echoed = (b"x-request-id", request_id.encode())
        status = 500  # if no answer starts (the catch-all inside answers 500 then)

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), echoed]}
            await send(message)

        # Bound for this task only (each request runs in its own), reset when it is answered.
        bound = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, sending)
        finally:
            seconds = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            self._answered(scope["method"], route, status, seconds)
            log.info("request", **_fields(scope, route, status, seconds))
            structlog.contextvars.reset_contextvars(**bound)


def _fields(scope: Scope, route: str, status: int, seconds: float) -> dict[str, object]:
    fields: dict[str, object] = {
        "method": scope["method"],
        "route": route,
        "status": status,
        "duration_ms": round(seconds * 1000, 2),
    }
    claim_id = scope.get("path_params", {}).get("claim_id")
    if isinstance(claim_id, str) and plausible_claim_id(claim_id):
        fields["claim_id"] = claim_id
    return fields


def _inbound_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            return candidate if _REQUEST_ID.fullmatch(candidate) else None
    return None
