"""Insurers' webhook endpoints for a caller: register (the signing secret returned once), list,
delete, rotate the secret, and read or retry an endpoint's deliveries. The one path the API
(`api.routes.webhooks`) and the console (`console.routes.webhooks`) share, so the URL's SSRF
check (`delivery.ssrf.check_url`, with the same settings) and the scope rules cannot drift apart.

Every method takes the `Caller` and requires `Capability.MANAGE_WEBHOOKS` (403 otherwise). An
insurer manages its own insurer's endpoints: another insurer's is "no such webhook" (404), as an
unknown id; ops manage any insurer's.
"""

from __future__ import annotations

import asyncpg

from codec import Sealer
from delivery.ssrf import UrlRefused, check_url, parse_networks
from domain.access import Capability, may
from domain.errors import Forbidden, InvalidInput, NotFound
from domain.models import Caller, WebhookIn
from domain.names import Role
from settings import Settings
from store import webhooks
from store.webhooks import DeliveryRecord, Webhook

# A retried delivery gets a fresh retry period of this many hours.
RETRY_HOURS = 24


class WebhookService:
    def __init__(self, pool: asyncpg.Pool, sealer: Sealer, settings: Settings) -> None:
        self._pool = pool
        self._sealer = sealer
        self._settings = settings

    @staticmethod
    def _require(caller: Caller) -> None:
        if not may(caller, Capability.MANAGE_WEBHOOKS):
            raise Forbidden(f"the {caller.role} role may not do this")

    async def register(self, caller: Caller, wanted: WebhookIn) -> tuple[Webhook, str]:
        """A new endpoint and its signing secret (`whsec_...`), which is never readable again.
        The URL is checked (https, public addresses only, or the allowed networks) and stored
        normalised; each send checks the address it connects to again."""
        self._require(caller)
        insurer_id = wanted.insurer_id or caller.insurer_id
        if caller.role is Role.INSURER and insurer_id != caller.insurer_id:
            raise Forbidden("an insurer key registers endpoints for its own insurer only")
        if insurer_id is None:
            raise InvalidInput(
                "the webhook is invalid",
                details=[{"field": "insurer_id", "message": "ops name the insurer"}],
            )
        try:
            # Stored as it is called: normalised (scheme and host in lower case, IDNA, no
            # default port), and checked once here; each send checks the address it connects to.
            url = await check_url(
                wanted.url,
                allow_http=self._settings.development,
                allowed=parse_networks(self._settings.webhook_allowed_networks),
            )
        except UrlRefused as refused:
            raise InvalidInput(
                "the webhook URL may not be called",
                details=[{"field": "url", "message": str(refused)}],
            ) from None
        return await webhooks.create(
            self._pool,
            self._sealer,
            insurer_id=insurer_id,
            url=url,
            event_types=list(wanted.event_types),
        )

    async def endpoints(self, caller: Caller, insurer_id: str | None = None) -> list[Webhook]:
        """An insurer's own endpoints (whatever `insurer_id` says); ops one insurer's, or all."""
        self._require(caller)
        scope = caller.insurer_id if caller.role is Role.INSURER else insurer_id
        return await webhooks.for_insurer(self._pool, scope)

    async def endpoint(self, caller: Caller, webhook_id: str) -> Webhook:
        self._require(caller)
        hook = await webhooks.find(self._pool, webhook_id)
        if hook is None or (caller.role is Role.INSURER and hook.insurer_id != caller.insurer_id):
            raise NotFound("no such webhook")
        return hook

    async def delete(self, caller: Caller, webhook_id: str) -> None:
        """Gone, with its undelivered messages."""
        hook = await self.endpoint(caller, webhook_id)
        async with self._pool.acquire() as conn:
            await webhooks.delete(conn, hook.id)

    async def rotate(self, caller: Caller, webhook_id: str) -> tuple[Webhook, str]:
        """A new signing secret, returned once; deliveries sign with it from now on."""
        hook = await self.endpoint(caller, webhook_id)
        return hook, await webhooks.rotate(self._pool, self._sealer, hook.id)

    async def deliveries(self, caller: Caller, webhook_id: str) -> list[DeliveryRecord]:
        """The endpoint's deliveries, newest first."""
        hook = await self.endpoint(caller, webhook_id)
        return await webhooks.deliveries(self._pool, hook.id)

    async def retry(self, caller: Caller, webhook_id: str, delivery_id: str) -> None:
        """Send a delivery of the endpoint again now (a dead one too); 404 when it is not one of
        the endpoint's or was delivered."""
        hook = await self.endpoint(caller, webhook_id)
        try:
            found = await webhooks.retry(self._pool, hook.id, delivery_id, retry_hours=RETRY_HOURS)
        except (ValueError, asyncpg.DataError):
            found = False  # not a delivery id at all
        if not found:
            raise NotFound("no such undelivered delivery")
