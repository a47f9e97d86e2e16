"""Sending one delivery on its channel: a signed webhook, an email, a page. Each raises
`NotDelivered` with a reason fit for the delivery record (no PHI, no response body)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import aiosmtplib
import httpx
from standardwebhooks.webhooks import Webhook

from delivery.ssrf import UrlRefused, check_url, parse_networks
from settings import Settings

SEND_TIMEOUT = 10.0


class NotDelivered(Exception):
    """The attempt failed; `permanent` when retrying cannot help (dead-letter at once)."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class Channels:
    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        self._settings = settings
        self._http = http
        self._allowed = parse_networks(settings.webhook_allowed_networks)

    async def webhook(self, url: str, secret: str, body: dict[str, Any]) -> None:
        """POST `body` to `url`, signed per the Standard Webhooks spec (with the
        `standardwebhooks` library): `webhook-id` (the same on every retry),
        `webhook-timestamp` and `webhook-signature`."""
        try:
            await check_url(url, allow_http=self._settings.development, allowed=self._allowed)
        except UrlRefused as refused:
            raise NotDelivered(f"refused: {refused}") from None
        payload = json.dumps(body, separators=(",", ":"))
        sent_at = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "webhook-id": body["id"],
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": Webhook(secret).sign(body["id"], sent_at, payload),
        }
        await self._post(url, payload, headers)

    async def page(self, recipient: str, event: dict[str, Any]) -> None:
        """A PagerDuty Events API v2 trigger to the configured paging endpoint."""
        if not self._settings.paging_url:
            raise NotDelivered("no paging endpoint is configured (IME_PAGING_URL)")
        routing_key = self._settings.paging_routing_keys.get(recipient, recipient)
        payload = json.dumps({"routing_key": routing_key, **event}, separators=(",", ":"))
        await self._post(self._settings.paging_url, payload, {"content-type": "application/json"})

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

    async def _post(self, url: str, payload: str, headers: dict[str, str]) -> None:
        try:
            answer = await self._http.post(url, content=payload, headers=headers)
        except httpx.HTTPError as err:
            raise NotDelivered(f"http: {type(err).__name__}") from None
        if not answer.is_success:
            raise NotDelivered(f"http: {answer.status_code}")
