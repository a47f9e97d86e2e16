"""The baseline of `status_vs_floor`: the status route's one SELECT and nothing else (no
authentication, no access log, no validation), on the same pool settings, served by uvicorn
exactly as the API is (`uvicorn bench.floor:create_app --factory`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from connections import open_pool
from settings import get_settings
from store import inspection


def create_app() -> Starlette:
    settings = get_settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.pool = await open_pool(settings)
        try:
            yield
        finally:
            await app.state.pool.close()

    async def claim(request: Request) -> Response:
        body = await inspection.status_body(request.app.state.pool, request.path_params["claim_id"])
        if body is None:
            return JSONResponse({"error": {"code": "not_found"}}, status_code=404)
        return JSONResponse(body)

    async def ready(request: Request) -> Response:
        return PlainTextResponse("ready")

    return Starlette(
        routes=[Route("/v1/claims/{claim_id}", claim), Route("/readyz", ready)],
        lifespan=lifespan,
    )
