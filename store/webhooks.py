"""Insurers' webhook endpoints, and the webhook events each claim transition becomes.

An event is queued, in the transition's own transaction, for every endpoint of the claim's
insurer that subscribes to its type; its body is the insurer-visible status with its `version`
(so receivers can drop stale events), never clinical detail.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from codec import Sealer
from domain.delivery import WEBHOOK_EVENTS, Channel, WebhookEvent
from domain.models import ClaimEvent, ClaimStatus
from store.db import Connection, Executor
from store.outbox import insert_delivery, retry_period

SECRET_PREFIX = "whsec_"


@dataclass(frozen=True)
class Webhook:
    id: str
    insurer_id: str
    url: str
    event_types: list[str]
    created_at: datetime
    rotated_at: datetime | None


@dataclass(frozen=True)
class DeliveryRecord:
    id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


async def create(
    conn: Executor, sealer: Sealer, *, insurer_id: str, url: str, event_types: list[str]
) -> tuple[Webhook, str]:
    """A new endpoint and its signing secret (shown once; stored sealed)."""
    secret = new_secret()
    row = await conn.fetchrow(
        """INSERT INTO webhooks (id, insurer_id, url, event_types, sealed_secret)
           VALUES ($1, $2, $3, $4, $5)
           RETURNING id, insurer_id, url, event_types, created_at, rotated_at""",
        "wh_" + secrets.token_hex(8),
        insurer_id,
        url,
        event_types,
        sealer.seal(secret.encode()),
    )
    assert row is not None  # INSERT ... RETURNING
    return Webhook(**dict(row.items())), secret


async def rotate(conn: Executor, sealer: Sealer, webhook_id: str) -> str:
    """A new signing secret for the endpoint, shown once; deliveries sign with it from now on."""
    secret = new_secret()
    await conn.execute(
        "UPDATE webhooks SET sealed_secret = $2, rotated_at = now() WHERE id = $1",
        webhook_id,
        sealer.seal(secret.encode()),
    )
    return secret


async def find(conn: Executor, webhook_id: str) -> Webhook | None:
    row = await conn.fetchrow(
        """SELECT id, insurer_id, url, event_types, created_at, rotated_at FROM webhooks
           WHERE id = $1 AND deleted_at IS NULL""",
        webhook_id,
    )
    return Webhook(**dict(row.items())) if row is not None else None


async def for_insurer(conn: Executor, insurer_id: str | None) -> list[Webhook]:
    rows = await conn.fetch(
        """SELECT id, insurer_id, url, event_types, created_at, rotated_at FROM webhooks
           WHERE deleted_at IS NULL AND ($1::text IS NULL OR insurer_id = $1)
           ORDER BY created_at, id""",
        insurer_id,
    )
    return [Webhook(**dict(r.items())) for r in rows]


async def delete(conn: Connection, webhook_id: str) -> None:
    """Stop sending to the endpoint: it is gone, and so are its undelivered messages."""
    async with conn.transaction():
        await conn.execute("UPDATE webhooks SET deleted_at = now() WHERE id = $1", webhook_id)
        await conn.execute(
            """UPDATE deliveries SET status = 'dead', last_error = 'endpoint deleted'
               WHERE webhook_id = $1 AND status IN ('pending', 'failed', 'held')""",
            webhook_id,
        )


async def endpoint(conn: Executor, sealer: Sealer, webhook_id: str) -> tuple[str, str] | None:
    """Where to send and what to sign with: (URL, signing secret); None once deleted."""
    row = await conn.fetchrow(
        "SELECT url, sealed_secret FROM webhooks WHERE id = $1 AND deleted_at IS NULL", webhook_id
    )
    if row is None:
        return None
    return row["url"], sealer.open(bytes(row["sealed_secret"])).decode()


async def deliveries(conn: Executor, webhook_id: str, limit: int = 100) -> list[DeliveryRecord]:
    rows = await conn.fetch(
        """SELECT id::text, event_type, status, attempts, next_attempt_at, last_error,
                  delivered_at, created_at
           FROM deliveries WHERE webhook_id = $1 ORDER BY created_at DESC, id LIMIT $2""",
        webhook_id,
        limit,
    )
    return [DeliveryRecord(**dict(r.items())) for r in rows]


async def retry(conn: Executor, webhook_id: str, delivery_id: str, *, retry_hours: float) -> bool:
    """Send a delivery again now (also a dead one), with a fresh retry period."""
    status = await conn.execute(
        """UPDATE deliveries SET status = 'pending', next_attempt_at = now(), lease_until = NULL,
               give_up_at = now() + make_interval(secs => $3)
           WHERE id = $2::uuid AND webhook_id = $1 AND status <> 'delivered'""",
        webhook_id,
        delivery_id,
        retry_hours * 3600,
    )
    if status.endswith(" 1"):
        await conn.execute("SELECT pg_notify('deliveries', '')")
        return True
    return False


async def queue_events(
    conn: Connection, sealer: Sealer, status: ClaimStatus, event: ClaimEvent
) -> None:
    """The webhook events of a new claim event, for every subscribed endpoint of its insurer."""
    hooks = await conn.fetch(
        "SELECT id, event_types FROM webhooks WHERE insurer_id = $1 AND deleted_at IS NULL",
        status.insurer_id,
    )
    if not hooks:
        return  # most transitions: nobody to tell, and nothing more to read
    types = [WEBHOOK_EVENTS[event.type]] if event.type in WEBHOOK_EVENTS else []
    before = await conn.fetchval(
        "SELECT stage FROM claim_events WHERE claim_id = $1 AND seq = $2",
        event.claim_id,
        event.seq - 1,
    )
    if before is not None and before != event.stage.value:
        types.append(WebhookEvent.CLAIM_STAGE_CHANGED)
    claim = status.model_dump(mode="json")
    retry = retry_period(status.jurisdiction)
    for hook in hooks:
        for kind in types:
            if hook["event_types"] and kind.value not in hook["event_types"]:
                continue
            event_id = f"{event.claim_id}:{event.seq}:{kind.value}"
            body = {
                "id": "msg_" + hashlib.sha256(f"{hook['id']}|{event_id}".encode()).hexdigest()[:24],
                "type": kind.value,
                "timestamp": event.at.astimezone(UTC).isoformat(),
                "data": {"event_id": event_id, "claim": claim},
            }
            await insert_delivery(
                conn,
                sealer,
                dedup=f"webhook:{hook['id']}:{event_id}",
                channel=Channel.WEBHOOK,
                claim_id=event.claim_id,
                event_type=kind.value,
                body=body,
                retry=retry,
                webhook_id=hook["id"],
            )
    await conn.execute("SELECT pg_notify('deliveries', '')")
