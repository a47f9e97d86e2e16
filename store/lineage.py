"""Reset lineages (`domain.models.Lineage`): which writes of a claim are current after operators
reset its workflow, and which are superseded.

A lineage's events are current below the point its child branched off; the current lineage's
are all current. What the chain does not cover stays in the log, marked superseded by the reset
that cut it (when it was seen, and the last event the claim went back to)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.models import Lineage
from store.db import Connection, Executor


@dataclass(frozen=True)
class Reset:
    lineage: str
    parent: str
    from_seq: int
    recorded_at: datetime


@dataclass(frozen=True)
class Lineages:
    """A claim's lineages: the current one and every reset."""

    current: str
    resets: dict[str, Reset]

    def bounds(self) -> dict[str, float]:
        """Each lineage of the current chain and the sequence number its current events stay
        below (the current lineage: all)."""
        bounds: dict[str, float] = {}
        tag, bound = self.current, float("inf")
        while tag not in bounds:
            bounds[tag] = bound
            reset = self.resets.get(tag)
            if reset is None:
                break
            tag, bound = reset.parent, min(bound, reset.from_seq)
        return bounds

    def superseded_by(self, lineage: str, seq: int) -> Reset | None:
        """The reset that superseded event (`lineage`, `seq`), None if it is current."""
        bounds = self.bounds()
        if seq < bounds.get(lineage, float("-inf")):
            return None
        # The chain's lineage that branched off `lineage` at or before `seq`, else the newest.
        for reset in sorted(self.resets.values(), key=lambda r: r.recorded_at):
            if reset.lineage in bounds and reset.parent == lineage and reset.from_seq <= seq:
                return reset
        return max(self.resets.values(), key=lambda r: r.recorded_at, default=None)


async def register(conn: Connection, claim_id: str, lineage: Lineage) -> bool:
    """Record a reset lineage; True the first time (the reset is seen now)."""
    return (
        await conn.fetchval(
            """INSERT INTO claim_lineages (claim_id, lineage, parent, from_seq)
               VALUES ($1, $2, $3, $4) ON CONFLICT (claim_id, lineage) DO NOTHING
               RETURNING true""",
            claim_id,
            lineage.id,
            lineage.parent,
            lineage.from_seq,
        )
        is True
    )


async def current_lineage(conn: Executor, claim_id: str) -> str:
    return (await conn.fetchval("SELECT lineage FROM claims WHERE claim_id = $1", claim_id)) or ""


async def of_claim(conn: Executor, claim_id: str) -> Lineages:
    rows = await conn.fetch(
        "SELECT lineage, parent, from_seq, recorded_at FROM claim_lineages WHERE claim_id = $1",
        claim_id,
    )
    return Lineages(
        current=await current_lineage(conn, claim_id),
        resets={r["lineage"]: Reset(**dict(r)) for r in rows},
    )
