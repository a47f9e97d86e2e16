"""Outside callees, on loopback: a webhook receiver (that can fail for a while, or answer slowly),
a paging receiver and an SMTP sink. They are the only fakes of the suite: real HTTP and SMTP
servers standing in for an insurer's endpoint, an on-call tool and a mail relay."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from typing import Any

from aiosmtpd.controller import Controller
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chaos.receivers import serving
from tests.helpers.processes import free_port

__all__ = ["MailSink", "PagingReceiver", "WebhookReceiver", "serving", "text_of"]


@dataclass
class WebhookReceiver:
    """Answers 503 to its first `fail_first` requests (or to all, `always_fail`), then 200;
    drops a repeat of a `webhook-id` it accepted, as Standard Webhooks receivers should."""

    fail_first: int = 0
    always_fail: bool = False
    delay: float = 0.0
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    accepted: Counter[str] = field(default_factory=Counter)
    seen: Counter[str] = field(default_factory=Counter)

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            body = await request.body()
            headers = dict(request.headers)
            self.requests.append((headers, body))
            message_id = headers.get("webhook-id", "")
            self.seen[message_id] += 1
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.always_fail or len(self.requests) <= self.fail_first:
                return JSONResponse({"error": "unavailable"}, status_code=503)
            if self.accepted[message_id] == 0:
                self.accepted[message_id] += 1
            return JSONResponse({"ok": True})

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.requests]


@dataclass
class PagingReceiver:
    events: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> Starlette:
        async def enqueue(request: Request) -> JSONResponse:
            self.events.append(await request.json())
            return JSONResponse({"status": "success"}, status_code=202)

        return Starlette(routes=[Route("/v2/enqueue", enqueue, methods=["POST"])])


class MailSink:
    """An SMTP server on loopback keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.messages.append(message)
        return "250 OK"

    def __enter__(self) -> MailSink:
        self._controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._controller.stop()

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]


def text_of(message: Message) -> str:
    """The plain-text part of a received notice."""
    assert isinstance(message, EmailMessage)
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())
