"""The relay: claims due deliveries from Postgres, sends them, records each attempt.

Why a relay over Postgres rather than a workflow per message: the deliveries are rows written in
the transition's own transaction already, and a row is claimed with a lease
(`FOR UPDATE SKIP LOCKED`), so any number of dispatchers share the work without a coordinator and
never send one delivery concurrently; a dispatcher killed mid-send leaves a lease that lapses,
and another sends again (at least once; the `webhook-id` lets receivers drop the repeat). Each
delivery has its own `next_attempt_at`, so a dead receiver delays nobody else. A workflow per
message would cost the engine a history per notification for what a row does.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import random
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from typing import Any

import asyncpg
import structlog
from opentelemetry import trace

from codec import Sealer
from delivery.channels import Channels, NotDelivered
from delivery.letter_pdf import render
from delivery.mail import Addressee, letter, message
from documents_service import DocumentService
from domain.delivery import Channel
from domain.models import ClaimStatus, Notification
from domain.names import Recipient, Template
from settings import Settings
from store import deliveries, outbox, reports, webhooks
from store.claims import get_status
from store.db import POSTGRES_DOWN
from store.documents import PostgresDocumentStore

log = logging.getLogger("ime.dispatcher")
_tracer = trace.get_tracer("ime.dispatcher")


@dataclass(frozen=True)
class Claimed:
    id: uuid.UUID
    channel: Channel
    claim_id: str
    webhook_id: str | None
    outbox_key: str | None
    event_type: str
    body: Any
    attempts: int
    give_up_at: datetime


class Relay:
    def __init__(
        self, pool: asyncpg.Pool, sealer: Sealer, channels: Channels, settings: Settings
    ) -> None:
        self._pool = pool
        self._sealer = sealer
        self._channels = channels
        self._settings = settings
        self._documents = DocumentService(pool, PostgresDocumentStore(pool, sealer), settings)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._wake = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop`; then let the sends in flight finish."""
        try:
            async with deliveries.woken_by_new_deliveries(self._pool, self._on_notify):
                while not stop.is_set():
                    try:
                        await self.tick()
                    except POSTGRES_DOWN as err:
                        log.warning("dispatcher cannot reach Postgres: %s", type(err).__name__)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=0.5)
                    self._wake.clear()
        finally:
            if self._in_flight:
                await asyncio.wait(self._in_flight, timeout=self._settings.dispatcher_lease_seconds)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def tick(self) -> int:
        """Release held notices whose hold lifted, claim what is due, start sending it."""
        await self._release_held()
        free = self._settings.dispatcher_concurrency - len(self._in_flight)
        if free <= 0:
            return 0
        rows = await deliveries.claim_due(
            self._pool,
            lease_seconds=self._settings.dispatcher_lease_seconds,
            owner=self.owner,
            limit=free,
        )
        for row in rows:
            task = asyncio.create_task(self._attempt(self._claimed(row)))
            self._in_flight.add(task)
            task.add_done_callback(self._finished)
        return len(rows)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._wake.set()  # a slot is free

    async def drain(self) -> None:
        """Wait for the sends in flight (tests, shutdown)."""
        while self._in_flight:
            await asyncio.wait(set(self._in_flight))

    def _claimed(self, row: asyncpg.Record) -> Claimed:
        return Claimed(
            id=row["id"],
            channel=Channel(row["channel"]),
            claim_id=row["claim_id"],
            webhook_id=row["webhook_id"],
            outbox_key=row["outbox_key"],
            event_type=row["event_type"],
            body=self._sealer.open_json(bytes(row["sealed_body"])),
            attempts=row["attempts"],
            give_up_at=row["give_up_at"],
        )

    async def _release_held(self) -> None:
        """Adverse notices held while the claimant was on safety hold go out once it lifts."""
        released = await deliveries.release_held(self._pool)
        if released:
            log.info("released held notices: %d", released)

    async def _attempt(self, delivery: Claimed) -> None:
        # Each attempt runs in a task of its own: what it logs names the delivery and its claim.
        with (
            structlog.contextvars.bound_contextvars(
                delivery_id=str(delivery.id), claim_id=delivery.claim_id
            ),
            _tracer.start_as_current_span(
                f"deliver {delivery.channel.value}",
                attributes={"ime.delivery.channel": delivery.channel.value},
                record_exception=False,
            ),
        ):
            await self._attempt_once(delivery)

    async def _attempt_once(self, delivery: Claimed) -> None:
        try:
            await self._send(delivery)
        except NotDelivered as failure:
            await self._failed(delivery, failure)
        except Exception as err:  # a bug must not stall the relay: record it as a failure
            log.error("delivery %s raised %s", delivery.id, type(err).__name__)
            await self._failed(delivery, NotDelivered(f"error: {type(err).__name__}"))
        else:
            await deliveries.mark_delivered(self._pool, delivery.id, self.owner)
            log.info("delivered %s %s", delivery.channel.value, delivery.event_type)

    async def _send(self, delivery: Claimed) -> None:
        match delivery.channel:
            case Channel.WEBHOOK:
                assert delivery.webhook_id is not None
                found = await webhooks.endpoint(self._pool, self._sealer, delivery.webhook_id)
                if found is None:
                    raise NotDelivered("the endpoint was deleted", permanent=True)
                url, secret = found
                await self._channels.webhook(url, secret, delivery.body)
            case Channel.PAGE:
                recipient = delivery.body["payload"].get("component", "clinician")
                await self._channels.page(recipient, delivery.body)
            case Channel.EMAIL:
                await self._channels.email(await self._email(delivery))

    async def _email(self, delivery: Claimed) -> Any:
        body = delivery.body
        status = await get_status(self._pool, delivery.claim_id)
        if status is None:
            raise NotDelivered("the claim is not in the projection", permanent=True)
        recipient = Recipient(body["recipient"])
        template = body["template"]
        report = None
        to: str | Addressee
        if recipient is Recipient.CLAIMANT:
            address, to = await self._claimant(delivery.claim_id)
            if template == Template.REPORT_COPY:
                # The copy holds the report itself: the current version (accepted, else the
                # latest filed), stored in the transaction that queued this notice.
                report = await reports.current(self._pool, delivery.claim_id, self._sealer)
                if report is None:
                    raise NotDelivered("the report to copy is not stored")
        else:
            address, to = await self._examiner(body.get("examiner_id"), status)
        settings = self._settings
        composed = letter(
            template,
            status,
            body.get("details") or {},
            to,
            contact=settings.claimant_contact,
            report=report,
        )
        sender = settings.mail_from
        sender_name, sender_address = parseaddr(sender)
        pdf = None
        if composed.document is not None:
            # Rendering takes a tenth of a second: off the event loop, so the other sends go on.
            pdf = await asyncio.to_thread(render, composed, letterhead=sender_name or "IME Claims")
            pdf = await self._on_file(delivery, composed.document, pdf)
        _, _, domain = sender_address.rpartition("@")
        message_id = f"<{delivery.id}@{domain or 'localhost'}>"
        return message(composed, sender=sender, to=address, message_id=message_id, pdf=pdf)

    async def _on_file(self, delivery: Claimed, filename: str, pdf: bytes) -> bytes:
        """The letter stored as the claim's `letter` document before it is sent, so that a
        letter the claimant holds is always on file; once per notification, whatever the
        retries. A retry renders again (its date may be another day's), but what is sent is
        what was stored first: the claimant's copy and the file are the same bytes."""
        key = delivery.outbox_key or f"delivery:{delivery.id}"
        stored = await self._documents.store_letter(
            delivery.claim_id, filename, pdf, source_key=key
        )
        if stored.sha256 == hashlib.sha256(pdf).hexdigest():
            return pdf
        return b"".join([chunk async for chunk in self._documents.open(stored)])

    async def _claimant(self, claim_id: str) -> tuple[str, Addressee]:
        contact = await deliveries.claimant_contact(self._pool, self._sealer, claim_id)
        if not contact.get("email"):
            raise NotDelivered("no email address for the claimant", permanent=True)
        return contact["email"], Addressee.from_contact(contact)

    async def _examiner(self, examiner_id: object, status: ClaimStatus) -> tuple[str, str]:
        examiner = examiner_id if isinstance(examiner_id, str) else None
        examiner = examiner or (status.examiner.id if status.examiner else None)
        found = await deliveries.examiner_address(self._pool, examiner)
        if found is None:
            raise NotDelivered("no email address for the examiner", permanent=True)
        return found

    async def _failed(self, delivery: Claimed, failure: NotDelivered) -> None:
        now = datetime.now(UTC)
        # Retried for the whole retry period: when the next wait would run past its end, the last
        # attempt is made at the end (not given up early: after a long backoff the receiver may
        # well be back by then).
        next_attempt = min(now + self._backoff(delivery.attempts), delivery.give_up_at)
        dead = failure.permanent or now >= delivery.give_up_at
        async with self._pool.acquire() as conn, conn.transaction():
            updated = await deliveries.mark_failed(
                conn,
                delivery.id,
                self.owner,
                dead=dead,
                next_attempt_at=next_attempt,
                error=failure.reason[:200],
            )
            if dead and updated:
                # Whoever runs operations must know a message never arrived.
                note = Notification(
                    key=f"delivery:{delivery.id}:dead",
                    claim_id=delivery.claim_id,
                    recipient=Recipient.OPS,
                    template=Template.DELIVERY_DEAD,
                    details={
                        "delivery_id": str(delivery.id),
                        "channel": delivery.channel.value,
                        "event_type": delivery.event_type,
                        "last_error": failure.reason[:200],
                    },
                )
                await outbox.enqueue_in(conn, [note], self._sealer)
        log.info("delivery %s %s: %s", delivery.id, "dead" if dead else "failed", failure.reason)

    def _backoff(self, attempts: int) -> timedelta:
        """Exponential, capped, with full jitter (so retries of many deliveries spread out)."""
        first = self._settings.delivery_backoff_first_seconds
        ceiling = min(self._settings.delivery_backoff_max_seconds, first * 2 ** (attempts - 1))
        return timedelta(seconds=random.uniform(first / 2, ceiling))
