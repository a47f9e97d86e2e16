"""CORS for the codec endpoints only: the Temporal UI calls `/codec/...` from the browser (with
credentials), and nothing else of the API is called cross-origin. Every other request skips the
CORS middleware altogether (a status read is the API's most frequent request; the middleware's
header checks and wrapping cost it about 25 µs each, for nothing)."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

CODEC_PREFIX = "/codec"


class CodecCors:
    def __init__(self, app: ASGIApp, *, allow_origins: Sequence[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=allow_origins,
            allow_credentials=True,
            allow_methods=["POST", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-Namespace"],
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        codec = path == CODEC_PREFIX or path.startswith(CODEC_PREFIX + "/")
        if scope["type"] == "http" and codec:
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
