"""The dev stack's paging receiver: accepts PagerDuty Events API v2 calls on loopback and keeps
each as a JSON line in `<data_dir>/pages.jsonl` (what an on-call tool would have rung).

`python -m devstack.pager` (the supervisor runs it).
"""

from __future__ import annotations

import json
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from observability.logs import configure_logging
from settings import get_settings


def receiver(log: Path) -> Starlette:
    async def enqueue(request: Request) -> JSONResponse:
        event = await request.json()
        with log.open("a") as out:
            out.write(json.dumps(event) + "\n")
        return JSONResponse(
            {"status": "success", "dedup_key": event.get("dedup_key")}, status_code=202
        )

    return Starlette(routes=[Route("/v2/enqueue", enqueue, methods=["POST"])])


if __name__ == "__main__":
    settings = get_settings()
    configure_logging("ime-pager", level=settings.log_level, fmt=settings.log_format)
    uvicorn.run(
        receiver(settings.data_dir / "pages.jsonl"),
        host="127.0.0.1",
        port=settings.dev_pager_port,
        log_level="warning",
        log_config=None,  # uvicorn's lines go through ours
    )
