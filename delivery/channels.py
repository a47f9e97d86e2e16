"""Sending one delivery on its channel: a signed webhook, an email, a page. Each raises
`NotDelivered` with a reason fit for the delivery record: a fixed category ("connection failed",
"timeout", "TLS error", "HTTP 503", ...), never a response body, an address or an exception's
text (which would tell a caller what lies behind a name: a port scanner)."""

from __future__ import annotations

import asyncio
import json
import ssl
from datetime import UTC, datetime
from typing import Any

import aiosmtplib
import httpx
from standardwebhooks.webhooks import Webhook

from delivery.ssrf import UrlRefused, guarded_client, normalise_url, parse_networks
from settings import Settings

SEND_TIMEOUT = 10.0
REFUSED = "refused: not a public address (SSRF guard)"


class NotDelivered(Exception):
    """The attempt failed; `permanent` when retrying cannot help (dead-letter at once)."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class Channels:
    """`http` sends pages (to the endpoint ops configured); webhooks, to URLs callers registered,
    go through `webhooks` (default: a `guarded_client` of its own, closed by `aclose`)."""

    def __init__(
        self,
        settings: Settings,
        http: httpx.AsyncClient,
        *,
        webhooks: httpx.AsyncClient | None = None,
    ) -> None:
        self._settings = settings
        self._http = http
        self._own_webhooks = webhooks is None
        if webhooks is None:
            allowed = parse_networks(settings.webhook_allowed_networks)
            webhooks = guarded_client(allowed, timeout=SEND_TIMEOUT)
        self._webhooks = webhooks

    async def aclose(self) -> None:
        if self._own_webhooks:
            await self._webhooks.aclose()

    async def webhook(self, url: str, secret: str, body: dict[str, Any]) -> None:
        """POST `body` to `url`, signed per the Standard Webhooks spec (with the
        `standardwebhooks` library): `webhook-id` (the same on every retry),
        `webhook-timestamp` and `webhook-signature`."""
        try:
            url = normalise_url(url, allow_http=self._settings.development)
        except UrlRefused:  # a URL stored before it was normalised: it will not get better
            raise NotDelivered(REFUSED, permanent=True) from None
        payload = json.dumps(body, separators=(",", ":"))
        sent_at = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "webhook-id": body["id"],
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": Webhook(secret).sign(body["id"], sent_at, payload),
        }
        # The guarded client resolves the name once, checks every address and connects to a
        # checked one (no second look for a rebinding name to change).
        await _post(self._webhooks, url, payload, headers)

    async def page(self, recipient: str, event: dict[str, Any]) -> None:
        """A PagerDuty Events API v2 trigger to the configured paging endpoint. Its `links` name
        console pages by path (`store.outbox.page_event`): here they become the console's
        address as people reach it, so the on-call clinician opens the case from the page."""
        if not self._settings.paging_url:
            raise NotDelivered("no paging endpoint is configured (IME_PAGING_URL)")
        routing_key = self._settings.paging_routing_keys.get(recipient, recipient)
        console = self._settings.console_url()
        links = [
            {**link, "href": console + link["href"]} if link["href"].startswith("/") else link
            for link in event.get("links", [])
        ]
        sent = {"routing_key": routing_key, **event, **({"links": links} if links else {})}
        payload = json.dumps(sent, separators=(",", ":"))
        await _post(
            self._http, self._settings.paging_url, payload, {"content-type": "application/json"}
        )

    async def email(self, message: Any) -> None:
        settings = self._settings
        try:
            await aiosmtplib.send(
                message,
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                start_tls=settings.smtp_starttls,
                username=settings.smtp_username or None,
                password=settings.smtp_password or None,
                timeout=SEND_TIMEOUT,
            )
        except aiosmtplib.SMTPRecipientsRefused:
            raise NotDelivered("smtp: recipient refused", permanent=True) from None
        except aiosmtplib.SMTPResponseException as err:
            raise NotDelivered(f"smtp: {err.code}") from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as err:
            raise NotDelivered(f"smtp: {type(err).__name__}") from None


async def _post(http: httpx.AsyncClient, url: str, payload: str, headers: dict[str, str]) -> None:
    """POST and look at the status only: the answer's body is never read (nor kept)."""
    try:
        async with (
            asyncio.timeout(SEND_TIMEOUT),
            http.stream("POST", url, content=payload, headers=headers) as answer,
        ):
            status = answer.status_code
    except UrlRefused:
        raise NotDelivered(REFUSED) from None
    except (httpx.HTTPError, TimeoutError, OSError) as err:
        raise NotDelivered(failure_category(err)) from None
    if not 200 <= status < 300:
        raise NotDelivered(f"HTTP {status}")


def failure_category(err: BaseException) -> str:
    """What is recorded of a failed send: a fixed category, nothing of the error's text."""
    if isinstance(err, httpx.TimeoutException | TimeoutError):
        return "timeout"
    cause: BaseException | None = err
    while cause is not None:
        if isinstance(cause, ssl.SSLError | ssl.CertificateError):
            return "TLS error"
        cause = cause.__cause__ or cause.__context__
    return "connection failed"
