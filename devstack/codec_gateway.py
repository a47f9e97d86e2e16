"""The dev stack's codec gateway: the Temporal UI of `make run` decodes payloads through it.

The API's codec answers only `sre` and `ops` keys, and the dev server's UI cannot be told to send
one. This gateway (loopback only, dev stack only) forwards the UI's encode/decode calls to the API
with the dev stack's SRE key. In production an SRE signs in at `/codec/sign-in` instead and the UI
sends the session cookie (see docs/operations.md, Viewing payloads).

Holding a key, it must not decrypt for whoever can reach it: it serves only under a secret path
(`/<secret>/codec/...`, random, kept in the data dir, handed to the Temporal UI as its codec
endpoint and printed in the banner), so another local process or a web page cannot guess where to
ask; and it answers only requests whose `Host` is loopback (`localhost`, `127.0.0.1`, `[::1]`,
any port), so a page whose own name was rebound to 127.0.0.1 (DNS rebinding) is refused.

`python -m devstack.codec_gateway` (the supervisor runs it).
"""

from __future__ import annotations

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from api.serving import CLIENT_IDLE_SECONDS
from devstack.commands import api_url
from devstack.dev_keys import gateway_secret, load_dev_keys
from observability.logs import configure_logging
from settings import Settings, get_settings

_FORWARDED = ("content-type", "x-namespace")
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})


def loopback_host(host: str | None) -> bool:
    """Whether a `Host` header names this machine by a loopback name (with any port)."""
    if not host:
        return False
    name, colon, port = host.lower().rpartition(":")
    if not colon or not port.isdigit():  # no port (`[::1]` splits inside its brackets)
        name = host.lower()
    return name in LOOPBACK_HOSTS


class LoopbackHostOnly:
    """Refuses (403) every request whose `Host` is not a loopback name: a browser page on another
    name rebound to 127.0.0.1 sends its own name."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not loopback_host(Headers(scope=scope).get("host")):
            await PlainTextResponse("host not allowed", status_code=403)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def create_gateway(settings: Settings) -> Starlette:
    api = api_url(settings)
    sre_key = load_dev_keys(settings.data_dir).get("SRE_KEY", "")
    secret = gateway_secret(settings.data_dir)
    limits = httpx.Limits(keepalive_expiry=CLIENT_IDLE_SECONDS)
    client = httpx.AsyncClient(base_url=api, timeout=30, limits=limits)

    async def forward(request: Request) -> Response:
        operation = request.path_params["operation"]
        if operation not in ("encode", "decode"):
            return PlainTextResponse("not found", status_code=404)
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
        routes=[Route(f"/{secret}/codec/{{operation:str}}", forward, methods=["POST"])],
        middleware=[
            Middleware(LoopbackHostOnly),
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins(),
                allow_methods=["POST"],
                allow_headers=["Content-Type", "X-Namespace"],
            ),
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
