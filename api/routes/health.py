"""Liveness and readiness (open to everyone: load balancers and orchestrators probe them)."""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from store import health

router = APIRouter(tags=["health"])

# /readyz answers within this, whatever its dependencies do (a frozen Postgres included).
READY_PROBE_SECONDS = 1.5


@router.get("/healthz", operation_id="healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    operation_id="readyz",
    responses={503: {"description": "a dependency is failing (named in `checks`)"}},
)
async def readyz(request: Request) -> JSONResponse:
    probes = {
        "postgres": asyncio.ensure_future(_postgres(request)),
        "temporal": asyncio.ensure_future(_temporal(request)),
    }
    await asyncio.wait(probes.values(), timeout=READY_PROBE_SECONDS)
    checks = {name: _outcome(task) for name, task in probes.items()}
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        status_code=200 if ready else 503,
        content={"status": "ready" if ready else "not_ready", "checks": checks},
    )


async def _postgres(request: Request) -> None:
    await health.ping(request.app.state.pool)


async def _temporal(request: Request) -> None:
    await request.app.state.temporal.service_client.check_health()


def _outcome(task: asyncio.Future[None]) -> str:
    if not task.done():
        # Not awaited: a frozen server may hold up the cancellation itself.
        task.cancel()
        task.add_done_callback(_consume)
        return "failing: no answer in time"
    error = task.exception()
    return "ok" if error is None else f"failing: {type(error).__name__}"


def _consume(task: asyncio.Future[None]) -> None:
    with contextlib.suppress(asyncio.CancelledError, Exception):
        task.exception()
