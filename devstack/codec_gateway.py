"""The dev stack's codec gateway: the Temporal UI of `make run` decodes payloads through it.

The API's codec answers only `sre` and `ops` keys, and the dev server's UI cannot be told to send
one. This gateway (loopback only, dev stack only) forwards the UI's encode/decode calls to the API
with the dev stack's SRE key. In production an SRE signs in at `/codec/sign-in` instead and the UI
sends the session cookie (see docs/operations.md, Viewing payloads).

`python -m devstack.codec_gateway` (the supervisor runs it).
"""

from __future__ import annotations

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from devstack.commands import api_url
from devstack.dev_keys import load_dev_keys
from observability.logs import configure_logging
from settings import Settings, get_settings

_FORWARDED = ("content-type", "x-namespace")


def create_gateway(settings: Settings) -> Starlette:
    api = api_url(settings)
    sre_key = load_dev_keys(settings.data_dir).get("SRE_KEY", "")
    client = httpx.AsyncClient(base_url=api, timeout=30)

    async def forward(request: Request) -> Response:
        operation = request.path_params["operation"]
        headers = {k: v for k, v in request.headers.items() if k.lower() in _FORWARDED}
        headers["authorization"] = f"Bearer {sre_key}"
        answer = await client.post(
            f"/codec/{operation}", content=await request.body(), headers=headers
        )
        return Response(
            answer.content,
            status_code=answer.status_code,
            media_type=answer.headers.get("content-type"),
        )

    return Starlette(
        routes=[Route("/codec/{operation:str}", forward, methods=["POST"])],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins(),
                allow_methods=["POST"],
                allow_headers=["Content-Type", "X-Namespace"],
            )
        ],
    )


if __name__ == "__main__":
    config = get_settings()
    configure_logging("ime-codec-gateway", level=config.log_level, fmt=config.log_format)
    uvicorn.run(
        create_gateway(config),
        host="127.0.0.1",
        port=config.gateway_port,
        log_level="warning",
        log_config=None,  # uvicorn's lines go through ours
    )
