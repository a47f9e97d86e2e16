"""The examination report: one row per version (the report, then its addenda), the body sealed at
rest with the payload key ring, written within the transaction of the transition that records it
(`store.claims.apply_projection`).

Every write is idempotent on (claim, version), whatever the order writes arrive in: a version's
body is stored once and never changes; its status follows the newest event that set it. Why a
version went back for an addendum (the reviewer's reasons, the QA's findings) is sealed beside it
by the write that sent it back, also once.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from codec import Sealer
from domain.models import ClaimReport, ExamReport, ReportKind, ReportVersion, ReportWrite
from store import lineage
from store.db import Connection, Executor


def kind_of(version: int) -> ReportKind:
    return "report" if version == 1 else "addendum"


async def record(
    conn: Connection,
    claim_id: str,
    change: ReportWrite,
    *,
    seq: int,
    at: datetime,
    sealer: Sealer,
    lineage: str = "",
) -> None:
    """Store `change` as written by the event `seq` of the claim (recorded at `at`) in its reset
    lineage (`store.lineage`; "" for a claim never reset)."""
    reasons = _seal_reasons(sealer, change, claim_id, lineage)
    if change.body is None:
        await _set_status(conn, claim_id, change, seq, lineage, reasons)
        return
    body = change.body
    # The report as the examiner wrote it; who filed it is kept beside it, not sealed in it.
    sealed = sealer.seal_json(body.model_dump(mode="json", exclude={"acted_by"}))
    filer = body.acted_by
    submitted_by = (
        {"role": filer.role.value, "key_id": filer.key_id, "examiner_id": filer.examiner_id}
        if filer
        else None
    )
    # A verdict that arrived first left the row without its body: fill it in, keep the newer
    # status (and the reasons it stored). A retry finds the body there and changes nothing.
    await conn.execute(
        """INSERT INTO claim_reports
               (claim_id, version, kind, sealed, submitted_at, submitted_by, status, status_seq,
                lineage, filed_seq, addendum_reasons)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $8, $10)
           ON CONFLICT (claim_id, lineage, version) DO UPDATE SET
               sealed = EXCLUDED.sealed,
               submitted_at = EXCLUDED.submitted_at,
               submitted_by = EXCLUDED.submitted_by,
               filed_seq = EXCLUDED.filed_seq,
               status = CASE WHEN claim_reports.status_seq < EXCLUDED.status_seq
                             THEN EXCLUDED.status ELSE claim_reports.status END,
               status_seq = GREATEST(claim_reports.status_seq, EXCLUDED.status_seq),
               addendum_reasons = COALESCE(claim_reports.addendum_reasons,
                                           EXCLUDED.addendum_reasons)
           WHERE claim_reports.sealed IS NULL""",
        claim_id,
        change.version,
        kind_of(change.version),
        sealed,
        at,
        submitted_by,
        change.status,
        seq,
        lineage,
        reasons,
    )


async def _set_status(
    conn: Connection,
    claim_id: str,
    change: ReportWrite,
    seq: int,
    lineage: str,
    reasons: bytes | None,
) -> None:
    # The reasons are kept as first stored (sealing is randomised: a retry's differ in bytes).
    await conn.execute(
        """INSERT INTO claim_reports
               (claim_id, version, kind, status, status_seq, lineage, addendum_reasons)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (claim_id, lineage, version) DO UPDATE SET
               status = EXCLUDED.status, status_seq = EXCLUDED.status_seq,
               addendum_reasons = COALESCE(claim_reports.addendum_reasons,
                                           EXCLUDED.addendum_reasons)
           WHERE claim_reports.status_seq < EXCLUDED.status_seq""",
        claim_id,
        change.version,
        kind_of(change.version),
        change.status,
        seq,
        lineage,
        reasons,
    )


def _reasons_place(claim_id: str, lineage: str, version: int) -> bytes:
    """What a version's sealed reasons are bound to (its row): they open nowhere else."""
    return f"claim_reports:{claim_id}:{lineage}:{version}:addendum_reasons".encode()


def _seal_reasons(sealer: Sealer, change: ReportWrite, claim_id: str, lineage: str) -> bytes | None:
    if not change.addendum_reasons:
        return None
    plaintext = json.dumps(change.addendum_reasons, ensure_ascii=False).encode()
    return sealer.seal(plaintext, _reasons_place(claim_id, lineage, change.version))


def _open_reasons(sealer: Sealer, claim_id: str, row: Any) -> list[str] | None:
    sealed = row["addendum_reasons"]
    if sealed is None:
        return None
    place = _reasons_place(claim_id, row["lineage"], row["version"])
    reasons: list[str] = json.loads(sealer.open(sealed, place))
    return reasons


async def current(db: Executor, claim_id: str, sealer: Sealer) -> ClaimReport | None:
    """The accepted version if there is one, else the latest, with the history of versions;
    None while no report of the claim is stored."""
    rows = await db.fetch(
        """SELECT version, kind, status, submitted_at, sealed, lineage, filed_seq,
                  addendum_reasons
           FROM claim_reports WHERE claim_id = $1 AND sealed IS NOT NULL ORDER BY version""",
        claim_id,
    )
    if any(r["lineage"] for r in rows):
        # Reset by an operator: the versions its current lineages filed before they were cut.
        bounds = (await lineage.of_claim(db, claim_id)).bounds()
        rows = [
            r
            for r in rows
            if r["filed_seq"] is None or r["filed_seq"] < bounds.get(r["lineage"], float("-inf"))
        ]
    if not rows:
        return None
    versions = [
        ReportVersion(
            version=r["version"],
            kind=r["kind"],
            status=r["status"],
            submitted_at=r["submitted_at"],
            addendum_reasons=_open_reasons(sealer, claim_id, r),
        )
        for r in rows
    ]
    accepted = [r for r in rows if r["status"] == "accepted"]
    chosen = (accepted or rows)[-1]
    body: Any = sealer.open_json(chosen["sealed"])
    return ClaimReport(
        claim_id=claim_id,
        version=chosen["version"],
        kind=chosen["kind"],
        status=chosen["status"],
        submitted_at=chosen["submitted_at"],
        versions=versions,
        report=ExamReport.model_validate(body),
    )


async def filed_kind(db: Executor, claim_id: str, version: int) -> ReportKind | None:
    """`report` or `addendum` when that version of the claim's report was filed, else None (a
    document may be tied only to a version that exists)."""
    kind: ReportKind | None = await db.fetchval(
        "SELECT kind FROM claim_reports"
        " WHERE claim_id = $1 AND version = $2 AND sealed IS NOT NULL LIMIT 1",
        claim_id,
        version,
    )
    return kind
