"""The API's boundary, before any route runs: who is calling, what they send, how long it may take,
and the access log of what they read and did.

In order: the caller is authenticated (401; 429 for an address that failed too often), the body
must be JSON (415), no larger than the limit (413) and arrive within its deadline (408), the
request gets a deadline (503 when it passes), and every request on a claim is written to the
access log before its answer leaves. Routes then check scope and role (404/403)
before they look at the body (422).

One route is let through unbuffered: a document upload (`POST /v1/claims/{id}/documents`,
multipart), which streams up to 100 MB into sealed storage; it is refused here only when it is not
multipart (415) or announces a length over the document limit (413), and is held to a deadline per
piece and one for the whole body (408). The route enforces the size as the body streams.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import CODEC_SESSION_COOKIE, Authenticator
from api.errors import RequestTimeout, error_response
from domain.documents import plausible_document_id
from domain.errors import ClaimError, PayloadTooLarge, Unavailable, UnsupportedMediaType
from domain.ids import plausible_claim_id
from domain.models import Caller
from store.access_log import AccessEntry, AccessLog
from store.db import POSTGRES_DOWN

log = logging.getLogger("ime.api")

PUBLIC = frozenset({"/healthz", "/readyz", "/docs", "/docs/oauth2-redirect", "/openapi.json"})
CODEC_SIGN_IN = "/codec/sign-in"
# The console's forms: its own routes check the session and the CSRF token (`console.session`).
CONSOLE = "/console/"
_FORMS = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The routes whose body streams through: a document upload, from the API
# (`api.routes.documents`) or from the console (`console.routes.report`, which checks the
# session and the form's CSRF token before the file is read).
_DOCUMENT_UPLOAD = re.compile(r"^(/v1|/console)/claims/[^/]+/documents$")
# What a document upload's body may hold beyond the file (boundaries, part headers, fields).
_FORM_OVERHEAD = 64 * 1024
# The access log's `action` of the document routes (templates as the router names them).
_DOCUMENT_ACTIONS = {
    ("POST", "/v1/claims/{claim_id}/documents"): "document_upload",
    ("GET", "/v1/claims/{claim_id}/documents/{doc_id}"): "document_download",
}


class Boundary:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_form_bytes: int | None = None,
        read_deadline_seconds: float,
        action_deadline_seconds: float,
        body_deadline_seconds: float = 30.0,
        max_document_bytes: int | None = None,
        document_deadline_seconds: float | None = None,
    ) -> None:
        self.app = app
        self._max_body = max_body_bytes
        self._max_form = max_form_bytes or max_body_bytes
        self._body_deadline = body_deadline_seconds
        self._max_document = max_document_bytes or max_body_bytes
        self._document_deadline = document_deadline_seconds or body_deadline_seconds
        self._read_deadline = read_deadline_seconds
        self._action_deadline = action_deadline_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        request_id: str = scope["state"]["request_id"]  # given by api.access_line, outside
        state = scope["app"].state
        try:
            caller = await self._authenticate(state.authenticator, request)
            if caller is not None:
                scope["state"]["caller"] = caller
            receive = await self._checked_body(request, receive)
        except ClaimError as err:
            await _answer(err, scope, receive, send)
            return
        except POSTGRES_DOWN as err:  # the key store did not answer
            log.warning("authentication unavailable: %s", type(err).__name__)
            unavailable = Unavailable("authentication is unavailable; retry shortly")
            await _answer(unavailable, scope, receive, send)
            return
        if caller is not None:
            send = _logged(state.access_log, scope, send, caller, request_id)
        await self._within_deadline(scope, receive, send)

    @staticmethod
    async def _authenticate(authenticator: Authenticator, request: Request) -> Caller | None:
        path = request.scope["path"]  # (`request.url` parses the whole URL for it)
        if request.method == "OPTIONS" or path in PUBLIC or path == CODEC_SIGN_IN:
            return None
        if not (path.startswith(("/v1/", "/codec/")) or path in ("/v1", "/metrics")):
            return None  # not a route of ours: the router answers 404
        authorization = request.headers.get("authorization")
        client = request.client.host if request.client else None
        if path.startswith("/codec/") and authorization is None:
            cookie = request.cookies.get(CODEC_SESSION_COOKIE)
            return await authenticator.from_session(cookie, client)
        return await authenticator.from_bearer(authorization, client)

    async def _checked_body(self, request: Request, receive: Receive) -> Receive:
        """Refuse a body that is not JSON (415), too large (413, announced or streamed) or slower
        to arrive than the body deadline (408: a slow client is cut off; the request deadline
        starts only once the body is in). The body is read here, bounded in size and time, and
        handed to the route as if it were being received."""
        length = request.headers.get("content-length")
        has_body = (length is not None and length != "0") or "transfer-encoding" in request.headers
        if request.method not in _BODY_METHODS or not has_body:
            return receive
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if _DOCUMENT_UPLOAD.match(request.scope["path"]):
            if request.method != "POST":
                return receive  # no route takes it: the router answers 405, reading nothing
            return self._streamed_upload(media_type, length, receive)
        limit = self._max_body
        if request.scope["path"].startswith(CONSOLE):
            # A console page posts a form (a file upload for bulk start), never JSON.
            if media_type not in _FORMS:
                raise UnsupportedMediaType("send the form as the console page does")
            limit = self._max_form
        elif media_type != "application/json":
            raise UnsupportedMediaType("send the body as application/json")
        too_large = PayloadTooLarge(f"the body is larger than {limit} bytes")
        if length is not None and (not length.isdigit() or int(length) > limit):
            raise too_large
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self._body_deadline):
                while True:
                    message = await receive()
                    if message["type"] != "http.request":
                        return receive  # the client went away: let the route notice
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > limit:
                        raise too_large
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            raise RequestTimeout("the body did not arrive in time") from None
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        return replay

    def _streamed_upload(self, media_type: str, length: str | None, receive: Receive) -> Receive:
        """A document upload's body, passed on as it arrives (never held here): multipart only
        (415), an announced length within the document limit (413; the route counts the rest),
        each piece within the body deadline of the previous one and the whole within the
        upload deadline (408)."""
        if media_type != "multipart/form-data":
            raise UnsupportedMediaType("send the document as multipart/form-data")
        limit = self._max_document + _FORM_OVERHEAD
        if length is not None and (not length.isdigit() or int(length) > limit):
            raise PayloadTooLarge(f"the file is larger than {self._max_document} bytes")
        ends_at = time.monotonic() + self._document_deadline
        done = False

        async def paced() -> Message:
            nonlocal done
            if done:
                return await receive()  # after the body: waiting for a disconnect, unbounded
            left = ends_at - time.monotonic()
            try:
                async with asyncio.timeout(min(self._body_deadline, max(left, 0.0))):
                    message = await receive()
            except TimeoutError:
                raise RequestTimeout("the document did not arrive in time") from None
            done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        return paced

    async def _within_deadline(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        # An action waits for its workflow (bounded by the action timeout); anything else only
        # for Postgres (bounded by the pool's acquire and statement timeouts).
        action = scope["method"] == "POST" and "/actions/" in scope["path"]
        deadline = self._action_deadline if action else self._read_deadline
        if scope["method"] == "POST" and _DOCUMENT_UPLOAD.match(scope["path"]):
            # The body streams into the route: its own deadline (408 inside), then the checks
            # and the commit within a read's.
            deadline = self._document_deadline + self._read_deadline
        try:
            async with asyncio.timeout(deadline):
                await self.app(scope, receive, tracked)
        except TimeoutError:
            if not started:
                late = Unavailable("the request took too long; retry shortly")
                await _answer(late, scope, _no_body, send)


def _logged(
    access_log: AccessLog, scope: Scope, send: Send, caller: Caller, request_id: str
) -> Send:
    """Write the access log entry of a request on a claim before its answer leaves; if it cannot
    be written, the answer is a 503 instead (nothing is served unlogged)."""
    blocked = False

    async def logging_send(message: Message) -> None:
        nonlocal blocked
        if blocked:
            return
        if message["type"] == "http.response.start":
            entry = _entry(scope, caller, request_id, message["status"])
            if entry is not None:
                try:
                    await access_log.record(entry)
                except Exception as err:
                    log.warning("access log unavailable: %s", type(err).__name__)
                    blocked = True
                    unavailable = Unavailable("the access log is unavailable; retry shortly")
                    await _answer(unavailable, scope, _no_body, send)
                    return
        await send(message)

    return logging_send


def _entry(scope: Scope, caller: Caller, request_id: str, status: int) -> AccessEntry | None:
    route = getattr(scope.get("route"), "path", None)
    if route is None or not route.startswith("/v1/claims"):
        return None
    params: dict[str, Any] = scope.get("path_params", {})
    action = route.rsplit("/", 1)[1] if "/actions/" in route else None
    action = _DOCUMENT_ACTIONS.get((scope["method"], route), action)
    claim_id = params.get("claim_id")
    if claim_id is not None and not plausible_claim_id(claim_id):
        claim_id = None  # not an id of ours: nothing to log it under (nor to echo)
    # The document downloaded (asked for, even when refused), or the one an upload stored.
    document_id = params.get("doc_id") or scope.get("state", {}).get("document_id")
    if document_id is not None and not plausible_document_id(document_id):
        document_id = None
    return AccessEntry(
        key_id=caller.key_id,
        role=caller.role.value,
        insurer_id=caller.insurer_id,
        examiner_id=caller.examiner_id,
        method=scope["method"],
        route=route,
        claim_id=claim_id,
        action=action,
        status=status,
        request_id=request_id,
        document_id=document_id,
    )


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _answer(err: ClaimError, scope: Scope, receive: Receive, send: Send) -> None:
    await error_response(err)(scope, receive, send)
