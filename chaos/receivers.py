"""What the chaos run's messages reach: an insurer's webhook endpoint on loopback that can be made
to fail for a while, and the dev stack's mail sink read back from its `.eml` files.

Both count per message id (`webhook-id`, `Message-ID`): the id is the same on every retry, so a
receiver keeps the first copy and drops a repeat, as Standard Webhooks receivers should.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chaos.stack import free_ports


@dataclass(frozen=True)
class Received:
    """One accepted webhook: the claim event it is about and its type."""

    event_id: str  # "<claim id>:<seq>:<webhook event type>"
    claim_id: str
    type: str


@dataclass
class WebhookReceiver:
    """Answers 503 while `failing`; otherwise verifies the signature and keeps the first copy of
    each `webhook-id` (a repeat is answered 200 and counted, not kept)."""

    secret: str = ""
    failing: bool = False
    accepted: dict[str, Received] = field(default_factory=dict)
    repeats: Counter[str] = field(default_factory=Counter)
    refused: int = 0  # answered 503 while failing
    bad_signatures: int = 0

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            if self.failing:
                self.refused += 1
                return JSONResponse({"error": "unavailable"}, status_code=503)
            payload = await request.body()
            headers = dict(request.headers)
            try:
                Webhook(self.secret).verify(payload, headers)
            except WebhookVerificationError:
                self.bad_signatures += 1
                return JSONResponse({"error": "bad signature"}, status_code=400)
            message_id = headers["webhook-id"]
            if message_id in self.accepted:
                self.repeats[message_id] += 1
                return JSONResponse({"ok": True, "repeat": True})
            body = json.loads(payload)
            event_id = body["data"]["event_id"]
            claim_id = event_id.split(":", 1)[0]
            self.accepted[message_id] = Received(event_id, claim_id, body["type"])
            return JSONResponse({"ok": True})

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])

    def for_claims(self, claim_ids: set[str]) -> dict[str, Received]:
        return {m: r for m, r in self.accepted.items() if r.claim_id in claim_ids}


@contextlib.asynccontextmanager
async def serving(app: Starlette) -> AsyncIterator[str]:
    """`app` on a free loopback port, in this process; yields its base URL."""
    [port] = free_ports(1)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
            await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@dataclass(frozen=True)
class Mail:
    message_id: str
    to: str
    subject: str


def read_mail(directory: Path) -> list[Mail]:
    """Every message the dev stack's mail sink kept (one `.eml` file each), repeats included."""
    found = []
    for path in sorted(directory.glob("*.eml")):
        parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        found.append(
            Mail(str(parsed["Message-ID"] or ""), str(parsed["To"]), str(parsed["Subject"]))
        )
    return found
