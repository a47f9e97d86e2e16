"""The console's response headers: a Content-Security-Policy that admits no inline script and
nothing from elsewhere, no framing, no referrer, and no caching of any page (a page may show a
claim; a shared computer's back button must not bring it back after sign-out)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# `img-src data:` for the authenticator's QR code (an SVG data URI); `style-src 'self'` only: the
# vendored htmx is told not to add its indicator styles (`htmx-config` in the page's head).
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
_REPLACED = {name for name, _ in PAGE_HEADERS} | {b"content-security-policy"}


def _kept(name: bytes, value: bytes) -> bool:
    """Whether a header the route set stays. A sandboxing policy stays beside the console's (a
    document download's, as the API serves it: both are enforced, so the stricter holds); any
    other policy (the anti-framing one of every HTML answer) gives way to the console's."""
    if name.lower() == b"content-security-policy":
        return b"sandbox" in value
    return name.lower() not in _REPLACED


class ConsoleHeaders:
    def __init__(self, app: ASGIApp, *, prefix: str) -> None:
        self.app = app
        self._prefix = prefix
        self._static = f"{prefix}/static/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(self._prefix) or path.startswith(self._static):
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", ()) if _kept(k, v)]
                message = {**message, "headers": [*kept, *PAGE_HEADERS]}
            await send(message)

        await self.app(scope, receive, sending)
