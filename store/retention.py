"""Retention and legal holds in Postgres: which closed claims are due, destroying one claim's
records in one transaction with its `records_destroyed` event, the legal hold and its events
(`claim_record_events`, merged into the claim's timeline).

What a destruction removes (the rows stay, metadata only, for the audit):

- `document_chunks`: every chunk of the claim's documents; `documents`: the sealed file name
  (kind, type, size, SHA-256, who uploaded and when stay, `deleted_at` set);
- `claim_reports`: each version's sealed body and addendum reasons (version, kind, status, who
  filed it and when stay, `destroyed_at` set);
- `inbox_items`: sealed details and notes (a safety case's clinical notes among them);
- `notification_outbox`: sealed details (a page's clinical notes), and details in clear of rows
  written before sealing;
- `deliveries`: the sealed body of those delivered or given up on (the others are still to go);
- `claim_contacts`: the sealed contact (name, date of birth, address, email) and the treating
  NPIs; the claimant's keyed pseudonym stays (the conflict rule looks at past claims by it).

Idempotent: the claim row is locked and every condition checked again in the transaction;
`claims.records_destroyed_at` makes a second run find nothing to do, and the event's `dedup` key
keeps one `records_destroyed` event per claim whatever happens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from domain.models import Caller
from domain.names import EventType, LegalHoldReason
from store.db import Connection, Executor, from_json


async def claims_due(
    conn: Executor, cutoffs: dict[str, datetime], *, after: str | None, limit: int
) -> list[str]:
    """Claims (in id order, after `after`) closed at or before their profile's cut-off, not
    destroyed yet and not under a legal hold."""
    if not cutoffs:
        return []
    rows = await conn.fetch(
        """SELECT c.claim_id FROM claims c
             JOIN unnest($1::text[], $2::timestamptz[]) AS p (jurisdiction, cutoff)
               ON p.jurisdiction = c.jurisdiction
            WHERE c.closed_at IS NOT NULL AND c.closed_at <= p.cutoff
              AND c.records_destroyed_at IS NULL AND NOT c.legal_hold
              AND ($3::text IS NULL OR c.claim_id > $3)
            ORDER BY c.claim_id
            LIMIT $4""",
        list(cutoffs),
        list(cutoffs.values()),
        after,
        limit,
    )
    return [r["claim_id"] for r in rows]


async def destroy(
    pool: asyncpg.Pool, claim_id: str, cutoffs: dict[str, datetime]
) -> dict[str, int] | None:
    """Destroy the claim's records if it is still due (checked under the claim's row lock), and
    record the `records_destroyed` event with the counts; None when nothing was due."""
    async with pool.acquire() as conn, conn.transaction():
        claim = await conn.fetchrow(
            """SELECT jurisdiction, stage, closed_at, legal_hold, records_destroyed_at
               FROM claims WHERE claim_id = $1 FOR UPDATE""",
            claim_id,
        )
        if claim is None or claim["records_destroyed_at"] is not None or claim["legal_hold"]:
            return None
        cutoff = cutoffs.get(claim["jurisdiction"])
        if cutoff is None or claim["closed_at"] is None or claim["closed_at"] > cutoff:
            return None
        counts = {
            "document_chunks": await _count(
                conn,
                """DELETE FROM document_chunks
                   WHERE document_id IN (SELECT id FROM documents WHERE claim_id = $1)""",
                claim_id,
            ),
            "documents": await _count(
                conn,
                """UPDATE documents SET filename_sealed = NULL, deleted_at = now()
                   WHERE claim_id = $1 AND deleted_at IS NULL""",
                claim_id,
            ),
            "report_versions": await _count(
                conn,
                """UPDATE claim_reports
                      SET sealed = NULL, addendum_reasons = NULL, destroyed_at = now()
                   WHERE claim_id = $1 AND destroyed_at IS NULL""",
                claim_id,
            ),
            "inbox_items": await _count(
                conn,
                """UPDATE inbox_items SET sealed_details = NULL, sealed_note = NULL
                   WHERE claim_id = $1
                     AND (sealed_details IS NOT NULL OR sealed_note IS NOT NULL)""",
                claim_id,
            ),
            "notifications": await _count(
                conn,
                """UPDATE notification_outbox SET sealed_details = NULL, details = '{}'::jsonb
                   WHERE claim_id = $1
                     AND (sealed_details IS NOT NULL OR details <> '{}'::jsonb)""",
                claim_id,
            ),
            # Pending, failed and held deliveries keep theirs: they are still to be sent.
            "deliveries": await _count(
                conn,
                """UPDATE deliveries SET sealed_body = ''::bytea
                   WHERE claim_id = $1 AND status IN ('delivered', 'dead')
                     AND length(sealed_body) > 0""",
                claim_id,
            ),
            # What people wrote when they acted (reasons, a decision's notes).
            "event_notes": await _count(
                conn, "DELETE FROM claim_event_notes WHERE claim_id = $1", claim_id
            ),
            "clinical_notes": await _count(
                conn, "DELETE FROM safety_case_notes WHERE claim_id = $1", claim_id
            ),
            "contact": await _count(
                conn,
                """UPDATE claim_contacts
                      SET sealed = NULL, treating_npis = NULL, destroyed_at = now()
                   WHERE claim_id = $1 AND destroyed_at IS NULL""",
                claim_id,
            ),
        }
        await conn.execute(
            "UPDATE claims SET records_destroyed_at = now() WHERE claim_id = $1", claim_id
        )
        await _record(
            conn,
            claim_id,
            dedup=f"records_destroyed:{claim_id}",
            type=EventType.RECORDS_DESTROYED,
            stage=claim["stage"],
            details={"counts": counts},
            acted_by=None,
        )
        return counts


async def set_legal_hold(
    pool: asyncpg.Pool, claim_id: str, *, held: bool, reason: LegalHoldReason, caller: Caller
) -> bool:
    """Put the claim under a legal hold (or lift it) with its timeline event; False (nothing
    recorded) when it already was so, which makes a repeated request harmless."""
    async with pool.acquire() as conn, conn.transaction():
        claim = await conn.fetchrow(
            "SELECT stage, legal_hold FROM claims WHERE claim_id = $1 FOR UPDATE", claim_id
        )
        if claim is None or claim["legal_hold"] == held:
            return False
        await conn.execute("UPDATE claims SET legal_hold = $2 WHERE claim_id = $1", claim_id, held)
        # The n-th hold step of the claim: once each, whichever request records it.
        steps = await conn.fetchval(
            """SELECT count(*) FROM claim_record_events
               WHERE claim_id = $1 AND type IN ('legal_hold_placed', 'legal_hold_lifted')""",
            claim_id,
        )
        await _record(
            conn,
            claim_id,
            dedup=f"legal_hold:{claim_id}:{steps + 1}",
            type=EventType.LEGAL_HOLD_PLACED if held else EventType.LEGAL_HOLD_LIFTED,
            stage=claim["stage"],
            details={"reason": reason.value},
            acted_by=caller,
        )
        return True


@dataclass(frozen=True)
class RecordEvent:
    """A step of the claim's record keeping, for its timeline (no `seq`: not the workflow's)."""

    claim_id: str
    type: EventType
    stage: str
    actor: str
    at: datetime
    details: dict[str, Any]
    acted_by: Caller | None


async def for_claim(conn: Executor, claim_id: str) -> list[RecordEvent]:
    rows = await conn.fetch(
        """SELECT claim_id, type, stage, actor, at, details, acted_by
           FROM claim_record_events WHERE claim_id = $1 ORDER BY at, id""",
        claim_id,
    )
    return [
        RecordEvent(
            claim_id=r["claim_id"],
            type=EventType(r["type"]),
            stage=r["stage"],
            actor=r["actor"],
            at=r["at"],
            details=from_json(r["details"]),
            acted_by=Caller.model_validate(from_json(r["acted_by"])) if r["acted_by"] else None,
        )
        for r in rows
    ]


async def what_remains(conn: Executor, claim_id: str) -> dict[str, int]:
    """How much of the claim's sensitive contents Postgres still holds, table by table (what a
    destruction removes): for the tests and for ops checking a destruction by hand."""
    row = await conn.fetchrow(
        """SELECT
             (SELECT count(*) FROM document_chunks k JOIN documents d ON d.id = k.document_id
               WHERE d.claim_id = $1) AS document_chunks,
             (SELECT count(*) FROM documents
               WHERE claim_id = $1 AND filename_sealed IS NOT NULL) AS document_names,
             (SELECT count(*) FROM claim_reports
               WHERE claim_id = $1 AND (sealed IS NOT NULL OR addendum_reasons IS NOT NULL))
               AS report_contents,
             (SELECT count(*) FROM inbox_items
               WHERE claim_id = $1 AND (sealed_details IS NOT NULL OR sealed_note IS NOT NULL))
               AS inbox_contents,
             (SELECT count(*) FROM notification_outbox
               WHERE claim_id = $1 AND (sealed_details IS NOT NULL OR details <> '{}'::jsonb))
               AS notification_contents,
             (SELECT count(*) FROM claim_event_notes WHERE claim_id = $1) AS event_notes,
             (SELECT count(*) FROM safety_case_notes WHERE claim_id = $1) AS clinical_notes,
             (SELECT count(*) FROM claim_contacts WHERE claim_id = $1 AND sealed IS NOT NULL)
               AS contact""",
        claim_id,
    )
    return {key: int(value) for key, value in row.items()} if row else {}


async def destroyed_document(conn: Executor, claim_id: str, document_id: str) -> str | None:
    """The kind of the claim's document if its bytes were destroyed (so a download says 410
    Gone to those who may read that kind); None if there is no such destroyed document."""
    kind: str | None = await conn.fetchval(
        """SELECT kind FROM documents
           WHERE id = $1 AND claim_id = $2 AND deleted_at IS NOT NULL""",
        document_id,
        claim_id,
    )
    return kind


async def report_destroyed(conn: Executor, claim_id: str) -> bool:
    """Whether the claim's report versions had their contents destroyed (410 for the report)."""
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM claim_reports WHERE claim_id = $1"
        " AND destroyed_at IS NOT NULL AND submitted_at IS NOT NULL)",
        claim_id,
    )
    return found


async def _record(
    conn: Connection,
    claim_id: str,
    *,
    dedup: str,
    type: EventType,
    stage: str,
    details: dict[str, Any],
    acted_by: Caller | None,
) -> None:
    actor = acted_by.role.value if acted_by else "system"
    await conn.execute(
        """INSERT INTO claim_record_events (claim_id, dedup, type, stage, actor, details, acted_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (dedup) DO NOTHING""",
        claim_id,
        dedup,
        type.value,
        stage,
        actor,
        details,
        acted_by.model_dump(mode="json", exclude_none=True) if acted_by else None,
    )


async def _count(conn: Connection, statement: str, claim_id: str) -> int:
    status = await conn.execute(statement, claim_id)
    return int(status.rsplit(" ", 1)[-1])
