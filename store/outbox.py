"""Notification outbox: each notification once (its key), and in the same transaction what it
becomes — deliveries for the dispatcher (email, page) and an item in the inbox of whoever must
act (`domain.delivery`). Details are sealed at rest: they can hold clinical notes.

Details Postgres cannot store are cleaned rather than refused, so a page always goes out; ops are
told it was cleaned.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from asyncpg import Record

from codec import Sealer
from domain.delivery import (
    EMAIL_RECIPIENTS,
    INBOX,
    PAGE_RECIPIENTS,
    PAGE_TEMPLATES,
    Channel,
    DeliveryStatus,
    safety_case_page,
)
from domain.models import Notification
from domain.names import Recipient, Role, Template
from domain.profiles import PROFILES
from domain.work_queue import DUE_WHEN_OPENED
from store.db import Connection, Executor
from store.storable import storable

DEFAULT_RETRY = timedelta(hours=24)


async def enqueue(conn: Connection, note: Notification, sealer: Sealer) -> bool:
    """Queue one notification in its own transaction; False when its key was queued already."""
    async with conn.transaction():
        return (await enqueue_in(conn, [note], sealer))[0]


async def enqueue_in(conn: Connection, notes: Sequence[Notification], sealer: Sealer) -> list[bool]:
    """Queue `notes` within the caller's transaction; for each, whether it was new."""
    created: list[bool] = []
    fanned_out = False
    claims: dict[str, Record | None] = {}  # a transition's notes are of one claim: read it once
    for note in notes:
        details, cleaned = storable(note.details)
        inserted = await conn.fetchval(
            """INSERT INTO notification_outbox
                   (key, claim_id, recipient, template, details, sealed_details)
               VALUES ($1, $2, $3, $4, '{}'::jsonb, $5)
               ON CONFLICT (key) DO NOTHING RETURNING key""",
            note.key,
            note.claim_id,
            note.recipient,
            note.template,
            sealer.seal_json(details),
        )
        created.append(inserted is not None)
        if inserted is None:
            continue
        if note.claim_id not in claims:
            claims[note.claim_id] = await conn.fetchrow(
                "SELECT insurer_id, examiner_id, jurisdiction FROM claims WHERE claim_id = $1",
                note.claim_id,
            )
        clean = note.model_copy(update={"details": details})
        fanned_out = await _fan_out(conn, clean, claims[note.claim_id], sealer) or fanned_out
        if cleaned:
            told = Notification(
                key=f"{note.key}:cleaned",
                claim_id=note.claim_id,
                recipient=Recipient.OPS,
                template=Template.NOTIFICATION_DATA_CLEANED,
                details={"template": note.template, "recipient": note.recipient},
            )
            await enqueue_in(conn, [told], sealer)
    if fanned_out:
        await conn.execute("SELECT pg_notify('deliveries', '')")
    return created


async def _fan_out(
    conn: Connection, note: Notification, claim: Record | None, sealer: Sealer
) -> bool:
    """The inbox item and deliveries of a new notification; True when a delivery was made."""
    insurer_id = claim["insurer_id"] if claim else None
    examiner_id = note.details.get("examiner_id") or (claim["examiner_id"] if claim else None)
    role = INBOX.get((note.recipient, note.template))
    if role is not None:
        await conn.execute(
            """INSERT INTO inbox_items (id, outbox_key, role, insurer_id, examiner_id, kind,
                   claim_id, case_id, sealed_details, due_at, jurisdiction)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
               ON CONFLICT (outbox_key) DO NOTHING""",
            uuid.uuid4(),
            note.key,
            role.value,
            insurer_id,
            examiner_id if note.recipient is Recipient.EXAMINER else None,
            note.template,
            note.claim_id,
            case_of(note),
            sealer.seal_json(note.details),
            _when(note.details.get("due_at"))
            or (datetime.now(UTC) if note.template in DUE_WHEN_OPENED else None),
            claim["jurisdiction"] if claim else None,
        )
    channel = _channel(note)
    if channel is None:
        return False
    body = (
        page_event(note)
        if channel is Channel.PAGE
        else {"key": note.key, "recipient": note.recipient, "template": note.template,
              "details": note.details, "examiner_id": examiner_id}
    )  # fmt: skip
    await insert_delivery(
        conn,
        sealer,
        dedup=f"{channel}:{note.key}",
        channel=channel,
        claim_id=note.claim_id,
        event_type=note.template,
        body=body,
        retry=retry_period(claim["jurisdiction"] if claim else None),
        outbox_key=note.key,
        held=note.held,
    )
    return True


def _channel(note: Notification) -> Channel | None:
    if note.recipient in EMAIL_RECIPIENTS:
        return Channel.EMAIL
    if note.recipient in PAGE_RECIPIENTS and note.template in PAGE_TEMPLATES:
        return Channel.PAGE
    return None


def case_of(note: Notification) -> str | None:
    """The safety case a notification is about (its details say, or its key's owner does)."""
    case = note.details.get("case")
    if isinstance(case, str):
        return case
    owner = note.key.split(":", 1)[0]
    return owner if "-safety-" in owner else None


def page_event(note: Notification) -> dict[str, Any]:
    """A PagerDuty Events API v2 trigger. The summary names the case, never the examinee; the
    clinical notes stay in the clinician's inbox. Its link opens the case in the console, where
    it is acknowledged and resolved: a path here (opaque ids only), made absolute when sent
    (`delivery.channels.Channels.page`), so a page queued before the console moved still
    leads there. Only pages to those who work the case there carry it (the clinicians' inbox:
    the on-call clinician, the medical director); the crisis line is outside the service."""
    case = case_of(note) or note.claim_id
    works_it = INBOX.get((note.recipient, note.template)) is Role.CLINICIAN
    links = [{"href": safety_case_page(note.claim_id), "text": "Open the safety case"}]
    return {
        "event_action": "trigger",
        "dedup_key": case,
        "payload": {
            "summary": f"IME safety case {case}: {note.template.replace('_', ' ')} "
            f"({note.details.get('level', 'imminent')} risk) - open the link to acknowledge",
            "severity": "critical",
            "source": "ime-claims",
            "component": str(note.recipient),
            "custom_details": {"claim_id": note.claim_id, "case": case},
        },
        **({"links": links} if works_it else {}),
    }


def retry_period(jurisdiction: str | None) -> timedelta:
    profile = PROFILES.get(jurisdiction or "")
    return profile.delivery_retry.as_timedelta() if profile else DEFAULT_RETRY


async def insert_delivery(
    conn: Connection,
    sealer: Sealer,
    *,
    dedup: str,
    channel: Channel,
    claim_id: str,
    event_type: str,
    body: Any,
    retry: timedelta,
    outbox_key: str | None = None,
    webhook_id: str | None = None,
    held: bool = False,
) -> None:
    """A delivery for the dispatcher, once per `dedup` (a retried activity adds nothing)."""
    now = datetime.now(UTC)
    await conn.execute(
        """INSERT INTO deliveries (id, dedup, channel, claim_id, webhook_id, outbox_key,
               event_type, sealed_body, status, give_up_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (dedup) DO NOTHING""",
        uuid.UUID(hashlib.sha256(dedup.encode()).hexdigest()[:32]),
        dedup,
        channel.value,
        claim_id,
        webhook_id,
        outbox_key,
        event_type,
        sealer.seal_json(body),
        (DeliveryStatus.HELD if held else DeliveryStatus.PENDING).value,
        now + retry,
    )


def _when(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


async def retry_dead(conn: Executor, channel: Channel, *, retry: timedelta) -> int:
    """Send every dead delivery of a channel again now, with a fresh retry period: what ops do
    once the relay or endpoint that failed is back. Returns how many were re-queued."""
    status = await conn.execute(
        """UPDATE deliveries SET status = 'pending', next_attempt_at = now(), lease_until = NULL,
               give_up_at = now() + make_interval(secs => $2)
           WHERE channel = $1 AND status = 'dead'""",
        channel.value,
        retry.total_seconds(),
    )
    count = int(status.rsplit(" ", 1)[1])
    if count:
        await conn.execute("SELECT pg_notify('deliveries', '')")
    return count


async def backlog(conn: Executor) -> dict[tuple[str, str], int]:
    """Deliveries not delivered, by (channel, status)."""
    rows = await conn.fetch(
        """SELECT channel, status, count(*) AS n FROM deliveries
           WHERE status <> 'delivered' GROUP BY 1, 2"""
    )
    return {(row["channel"], row["status"]): row["n"] for row in rows}
