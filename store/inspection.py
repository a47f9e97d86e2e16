"""Read-only looks at what Postgres holds, for the tools that check or measure the service from
outside: the chaos run's checks and the bench. The service itself never calls these."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from asyncpg import Record

from store.db import Executor


@dataclass(frozen=True)
class ClaimRows:
    """The rows of some claims in every table a claim writes, each list in a stable order."""

    claims: list[Record]  # claim_id, stage, status, outcome, version
    events: list[Record]  # claim_id, seq, type, stage, details, recorded_at; by claim, seq
    outbox: list[Record]  # claim_id, key, recipient, template; by key
    deliveries: list[Record]  # id, claim_id, channel, outbox_key, dedup, status, attempts
    inbox: list[Record]  # claim_id, outbox_key
    appointments: list[Record]  # claim_id, attempt, status; by claim, attempt


async def claim_rows(conn: Executor, claim_ids: Sequence[str]) -> ClaimRows:
    ids = list(claim_ids)
    claims = await conn.fetch(
        "SELECT claim_id, stage, status, outcome, version FROM claims WHERE claim_id = ANY($1)",
        ids,
    )
    events = await conn.fetch(
        """SELECT claim_id, seq, type, stage, details, recorded_at FROM claim_events
           WHERE claim_id = ANY($1) ORDER BY claim_id, seq""",
        ids,
    )
    outbox = await conn.fetch(
        "SELECT claim_id, key, recipient, template FROM notification_outbox"
        " WHERE claim_id = ANY($1) ORDER BY key",
        ids,
    )
    deliveries = await conn.fetch(
        """SELECT id, claim_id, channel, outbox_key, dedup, status, attempts FROM deliveries
           WHERE claim_id = ANY($1)""",
        ids,
    )
    inbox = await conn.fetch(
        "SELECT claim_id, outbox_key FROM inbox_items WHERE claim_id = ANY($1)", ids
    )
    appointments = await conn.fetch(
        "SELECT claim_id, attempt, status FROM appointments WHERE claim_id = ANY($1)"
        " ORDER BY claim_id, attempt",
        ids,
    )
    return ClaimRows(claims, events, outbox, deliveries, inbox, appointments)


async def unsettled(conn: Executor, claim_ids: list[str]) -> int:
    """The claims' deliveries still to be attempted plus the claims not closed yet: 0 once every
    claim recorded its closing and every delivery of theirs was made (or gave up)."""
    count: int = await conn.fetchval(
        """SELECT (SELECT count(*) FROM deliveries
                    WHERE claim_id = ANY($1) AND status IN ('pending', 'failed'))
                + $2 - (SELECT count(*) FROM claim_events
                        WHERE claim_id = ANY($1) AND type = 'claim_closed')""",
        claim_ids,
        len(claim_ids),
    )
    return count


async def booked_count(conn: Executor, claim_ids: list[str]) -> int:
    """How many of the claims have a booked appointment."""
    count: int = await conn.fetchval(
        "SELECT count(DISTINCT claim_id) FROM appointments"
        " WHERE status = 'booked' AND claim_id = ANY($1::text[])",
        claim_ids,
    )
    return count


async def status_body(conn: Executor, claim_id: str) -> Any:
    """The claim's status JSON as the projection stores it, None when there is no such claim:
    one indexed read and nothing around it, what the bench's floor app serves."""
    return await conn.fetchval("SELECT body FROM claims WHERE claim_id = $1", claim_id)
