"""Named reads of what the service wrote to Postgres, for tests to assert on: the notices a claim
sent (notification_outbox), the inbox items they opened, the deliveries queued for each
channel, the appointments booked, the claims stored. Each returns plain values in a stated
order, so that a test compares lists rather than rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

import asyncpg

# --- notices (notification_outbox) ---------------------------------------------------------


class OutboxRow(NamedTuple):
    key: str
    recipient: str
    template: str
    details: dict[str, Any]  # what is left in the clear (sealed details are not)
    sealed_details: bytes | None


async def outbox_rows(pool: asyncpg.Pool, claim_id: str) -> list[OutboxRow]:
    """The claim's notices as stored, by key."""
    rows = await pool.fetch(
        "SELECT key, recipient, template, details, sealed_details FROM notification_outbox"
        " WHERE claim_id = $1 ORDER BY key",
        claim_id,
    )
    return [
        OutboxRow(
            r["key"],
            r["recipient"],
            r["template"],
            r["details"],
            None if r["sealed_details"] is None else bytes(r["sealed_details"]),
        )
        for r in rows
    ]


async def notices(pool: asyncpg.Pool, claim_id: str) -> list[tuple[str, str]]:
    """(recipient, template) of every notice the claim sent, in the order sent."""
    rows = await pool.fetch(
        "SELECT recipient, template FROM notification_outbox WHERE claim_id = $1"
        " ORDER BY created_at, recipient, template",
        claim_id,
    )
    return [(r["recipient"], r["template"]) for r in rows]


async def told(pool: asyncpg.Pool, claim_id: str, template: str) -> list[str]:
    """Who was sent `template` about the claim, in the order sent (one entry per notice)."""
    return [recipient for recipient, sent in await notices(pool, claim_id) if sent == template]


async def told_to(pool: asyncpg.Pool, claim_id: str, recipient: str) -> list[str]:
    """The templates sent to `recipient` about the claim, in the order sent."""
    return [template for to, template in await notices(pool, claim_id) if to == recipient]


# --- inbox items ---------------------------------------------------------------------------


class InboxItem(NamedTuple):
    role: str
    kind: str
    insurer_id: str | None
    examiner_id: str | None


async def inbox_items(
    pool: asyncpg.Pool, claim_id: str, kind: str | None = None
) -> list[InboxItem]:
    """The claim's inbox items (of `kind`, if given), in the order opened."""
    rows = await pool.fetch(
        "SELECT role, kind, insurer_id, examiner_id FROM inbox_items"
        " WHERE claim_id = $1 AND ($2::text IS NULL OR kind = $2) ORDER BY created_at, role",
        claim_id,
        kind,
    )
    return [InboxItem(r["role"], r["kind"], r["insurer_id"], r["examiner_id"]) for r in rows]


async def inbox_roles(pool: asyncpg.Pool, claim_id: str, kind: str) -> list[str]:
    """Whose inboxes got an item of `kind` for the claim, in the order opened."""
    return [item.role for item in await inbox_items(pool, claim_id, kind)]


async def inbox_done(pool: asyncpg.Pool, claim_id: str, kind: str) -> list[tuple[str, bool]]:
    """The claim's items of `kind` as (role, done), in the order opened."""
    rows = await pool.fetch(
        "SELECT role, done_at IS NOT NULL AS done FROM inbox_items WHERE claim_id = $1"
        " AND kind = $2 ORDER BY created_at, role",
        claim_id,
        kind,
    )
    return [(r["role"], r["done"]) for r in rows]


# --- deliveries ----------------------------------------------------------------------------


class Delivery(NamedTuple):
    dedup: str
    channel: str
    event_type: str
    status: str
    next_attempt_at: datetime
    give_up_at: datetime


async def deliveries(
    pool: asyncpg.Pool,
    *,
    claim_id: str | None = None,
    webhook_id: str | None = None,
    channel: str | None = None,
    status: str | None = None,
) -> list[Delivery]:
    """The deliveries matching every filter given, by dedup key."""
    rows = await pool.fetch(
        "SELECT dedup, channel, event_type, status, next_attempt_at, give_up_at FROM deliveries"
        " WHERE ($1::text IS NULL OR claim_id = $1) AND ($2::text IS NULL OR webhook_id = $2)"
        " AND ($3::text IS NULL OR channel = $3) AND ($4::text IS NULL OR status = $4)"
        " ORDER BY dedup",
        claim_id,
        webhook_id,
        channel,
        status,
    )
    return [Delivery(*r) for r in rows]


async def page_bodies(pool: asyncpg.Pool, sealer: Any, claim_id: str) -> list[dict[str, Any]]:
    """The bodies of the claim's queued pages (opened with the key ring), oldest first: what the
    relay hands the on-call tool (`delivery.channels.Channels.page`)."""
    rows = await pool.fetch(
        "SELECT sealed_body FROM deliveries WHERE claim_id = $1 AND channel = 'page'"
        " ORDER BY created_at, dedup",
        claim_id,
    )
    return [sealer.open_json(bytes(r["sealed_body"])) for r in rows]


async def delivery_statuses(
    pool: asyncpg.Pool, *, claim_id: str | None = None, webhook_id: str | None = None
) -> dict[str, int]:
    """How many of the matching deliveries are in each status (statuses with none left out)."""
    counts: dict[str, int] = {}
    for delivery in await deliveries(pool, claim_id=claim_id, webhook_id=webhook_id):
        counts[delivery.status] = counts.get(delivery.status, 0) + 1
    return counts


# --- appointments and claims ---------------------------------------------------------------


class Appointment(NamedTuple):
    id: str
    status: str
    claimant_key: str


async def appointments(pool: asyncpg.Pool, claim_id: str) -> list[Appointment]:
    """The claim's appointments, by attempt."""
    rows = await pool.fetch(
        "SELECT id, status, claimant_key FROM appointments WHERE claim_id = $1 ORDER BY attempt",
        claim_id,
    )
    return [Appointment(*r) for r in rows]


async def appointment_status(pool: asyncpg.Pool, appointment_id: str) -> str | None:
    """booked, cancelled, attended or no_show; None for an appointment never stored."""
    return await pool.fetchval("SELECT status FROM appointments WHERE id = $1", appointment_id)


async def claim_count(pool: asyncpg.Pool) -> int:
    """How many claims are stored."""
    return await pool.fetchval("SELECT count(*) FROM claims")


# --- people at the console -------------------------------------------------------------------


async def idle_out(pool: asyncpg.Pool, email: str) -> int:
    """Age a person's live sessions past their idle timeout (as 15 quiet minutes would)."""
    status = await pool.execute(
        """UPDATE console_sessions SET idle_expires_at = now() - interval '1 second'
           WHERE revoked_at IS NULL
             AND user_id = (SELECT id FROM users WHERE lower(email) = lower($1))""",
        email,
    )
    return int(status.rsplit(" ", 1)[1])


async def person_log(pool: asyncpg.Pool, email: str) -> list[tuple[str, str | None, int]]:
    """The access-log rows of a person, oldest first: (route, action, status)."""
    rows = await pool.fetch(
        """SELECT route, action, status FROM access_log
           WHERE user_id = (SELECT id::text FROM users WHERE lower(email) = lower($1))
           ORDER BY id""",
        email,
    )
    return [(r["route"], r["action"], r["status"]) for r in rows]


async def seen_a_minute_ago(pool: asyncpg.Pool, email: str) -> datetime:
    """Set a person's live sessions as last seen a minute ago (a minute without a request);
    returns that time."""
    return await pool.fetchval(
        """UPDATE console_sessions SET last_seen_at = now() - interval '1 minute'
           WHERE revoked_at IS NULL
             AND user_id = (SELECT id FROM users WHERE lower(email) = lower($1))
           RETURNING last_seen_at""",
        email,
    )


async def last_seen(pool: asyncpg.Pool, email: str) -> datetime:
    return await pool.fetchval(
        """SELECT max(last_seen_at) FROM console_sessions
           WHERE user_id = (SELECT id FROM users WHERE lower(email) = lower($1))""",
        email,
    )
