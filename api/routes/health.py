"""Liveness and readiness."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    checks = {
        "postgres": await _check(_postgres(request)),
        "temporal": await _check(request.app.state.temporal.service_client.check_health()),
    }
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        status_code=200 if ready else 503,
        content={"status": "ready" if ready else "not_ready", "checks": checks},
    )


async def _postgres(request: Request) -> None:
    await request.app.state.pool.fetchval("SELECT 1")


async def _check(probe: Awaitable[object]) -> str:
    try:
        async with asyncio.timeout(2):
            await probe
        return "ok"
    except Exception as err:
        return f"failing: {type(err).__name__}"
