"""Every HTML answer refuses to be framed: `Content-Security-Policy: frame-ancestors 'none'` and
`X-Frame-Options: DENY` (for browsers that know only the older header). The pages (`/docs`, the
codec sign-in page, whatever else answers HTML) cannot be laid under another site's page, so no
click on them can be stolen."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

FRAME_ANCESTORS = b"frame-ancestors 'none'"


class AntiFraming:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": guarded(list(message.get("headers", ())))}
            await send(message)

        await self.app(scope, receive, sending)


def guarded(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """`headers` with the anti-framing headers when they are those of an HTML answer. A policy the
    answer has already stays: every policy sent is enforced, so `'none'` holds whatever it says."""
    content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
    if content_type.split(b";")[0].strip().lower() != b"text/html":
        return headers
    kept = [(k, v) for k, v in headers if k.lower() != b"x-frame-options"]
    return [*kept, (b"content-security-policy", FRAME_ANCESTORS), (b"x-frame-options", b"DENY")]
