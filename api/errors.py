"""One error shape for every failure: {"error": {"code", "message", "details"}}.

No handler echoes submitted values or a stack trace, so neither PHI nor internals can leak. Client
mistakes are 4xx, whatever layer notices them; 503 is only for a dependency that did not answer.
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.service import RPCError

from domain.errors import ClaimError, InvalidInput, Unavailable, describe_errors
from store.db import POSTGRES_DOWN

# Failures of a dependency rather than of the request: the caller should retry.
_DEPENDENCY_ERRORS: tuple[type[Exception], ...] = (*POSTGRES_DOWN, RPCError)
# What Postgres says about the data it was given: the request's fault, not an outage.
_DATA_ERRORS: tuple[type[Exception], ...] = (asyncpg.DataError,)

log = logging.getLogger("ime.api")


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorResponse(BaseModel):
    """What every error answer looks like (declared for each status in the OpenAPI document)."""

    error: ErrorBody


class RequestTimeout(ClaimError):
    """The request's body did not arrive in time (a slow client is cut off)."""

    status_code = 408
    code = "request_timeout"


class TooManyFailures(ClaimError):
    """Too many failed authentications from the caller's address: retry after `retry_after`."""

    status_code = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def error_json(status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        status_code=status,
        content={"error": {"code": code, "message": message, "details": details}},
        headers=headers,
    )


def error_response(err: ClaimError) -> JSONResponse:
    answer = error_json(err.status_code, err.code, err.message, err.details)
    if isinstance(err, TooManyFailures):
        answer.headers["Retry-After"] = str(err.retry_after)
    if isinstance(err, RequestTimeout):
        answer.headers["Connection"] = "close"  # what is left of the body is not awaited
    return answer


def install(app: FastAPI) -> None:
    @app.exception_handler(ClaimError)
    async def _claim_error(_: Request, err: ClaimError) -> JSONResponse:
        return error_response(err)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, err: RequestValidationError) -> JSONResponse:
        details = describe_errors(err.errors())
        return error_json(422, InvalidInput.code, "the request is invalid", details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, err: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(err.status_code, "http_error")
        message = {404: "not found", 405: "method not allowed"}.get(err.status_code, "error")
        answer = error_json(err.status_code, code, message)
        answer.headers.update(err.headers or {})  # e.g. `Allow` on a 405 (RFC 9110)
        return answer

    async def _bad_data(request: Request, err: Exception) -> JSONResponse:
        log.info("data refused by Postgres on %s: %s", _route(request.scope), type(err).__name__)
        return error_json(422, InvalidInput.code, "the request holds a value that cannot be stored")

    for kind in _DATA_ERRORS:
        app.add_exception_handler(kind, _bad_data)

    async def _dependency(request: Request, err: Exception) -> JSONResponse:
        log.warning("dependency failure %s on %s", type(err).__name__, _route(request.scope))
        return error_response(Unavailable("a dependency is unavailable; retry shortly"))

    for kind in _DEPENDENCY_ERRORS:
        app.add_exception_handler(kind, _dependency)

    app.add_middleware(_Unexpected)


class _Unexpected:
    """Catch-all kept out of Starlette's server-error path, which would re-raise and have the
    server log the exception text (it can carry payload values). Plain ASGI rather than
    `@app.middleware("http")`: that wrapper costs a task and a stream pair per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as err:
            log.error("unhandled %s on %s %s", type(err).__name__, scope["method"], _route(scope))
            if not started:  # else the answer is under way: it can only be cut short
                await error_json(500, "internal_error", "an internal error occurred")(
                    scope, receive, send
                )


def _route(scope: Scope) -> str:
    """The route template: the path itself can hold whatever a caller typed (PHI included)."""
    return getattr(scope.get("route"), "path", "unmatched")
