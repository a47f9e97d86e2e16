"""The business figures /metrics reports (`api.metrics`), read from Postgres at scrape time.

A few bounded queries, each answered from an index or a counter row (migration 0007), in one
read-only snapshot. Only counts leave here: no claim id, insurer id or PHI.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.delivery import Channel, DeliveryStatus
from domain.lifecycle import DEADLINES
from domain.models import Outcome, Stage
from domain.names import EventType
from store.db import Connection

OPEN_STAGES = tuple(s for s in Stage if s is not Stage.CLOSED)
# Every owner a breach can name, reported from 0 on (more may appear: see the migration).
DEADLINE_OWNERS = tuple(sorted({rule.owner.value for rule in DEADLINES.values()}))
# What a delivery that did not arrive (yet) may be: sent soon (`pending`, also while an attempt
# is in flight under a lease), retrying after an error (`failed`), given up on (`dead`). `held`
# notices wait on purpose (the claimant's safety hold) and `delivered` ones are done.
UNDELIVERED = (DeliveryStatus.PENDING, DeliveryStatus.FAILED, DeliveryStatus.DEAD)


@dataclass(frozen=True)
class BusinessCounts:
    open_by_stage: dict[Stage, int]
    closed_by_outcome: dict[Outcome, int]
    overdue: int
    safety_holds: int
    # Safety cases paged and not acknowledged, and the time their oldest first page went out.
    pages_unacknowledged: int
    oldest_unacknowledged_page_seconds: float
    deliveries: dict[tuple[Channel, DeliveryStatus], int]
    # Owner as the breach event records it (`domain.lifecycle.DEADLINES`): breaches ever.
    breaches_by_owner: dict[str, int]


async def business_counts(conn: Connection, *, timeout_seconds: float) -> BusinessCounts:
    """Every figure from one snapshot. `timeout_seconds` also bounds each statement in Postgres,
    so a scrape given up on leaves no work running behind it."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        # SET LOCAL takes no parameters; the value is a number we formatted.
        await conn.execute(f"SET LOCAL statement_timeout = {max(1, int(timeout_seconds * 1000))}")
        stages = await conn.fetch(
            "SELECT stage, count(*) AS n FROM claims WHERE stage = ANY($1::text[]) GROUP BY stage",
            [s.value for s in OPEN_STAGES],
        )
        outcomes = await conn.fetch(
            "SELECT outcome, count(*) AS n FROM claims WHERE stage = 'CLOSED' GROUP BY outcome"
        )
        overdue = await conn.fetchval(
            "SELECT count(*) FROM claims WHERE overdue AND stage <> 'CLOSED'"
        )
        holds = await conn.fetchval("SELECT count(*) FROM claims WHERE safety_hold")
        pages = await conn.fetchrow(
            _UNACKNOWLEDGED_PAGES,
            EventType.SAFETY_PAGE_SENT.value,
            [EventType.SAFETY_CASE_ACKNOWLEDGED.value, EventType.SAFETY_CASE_RESOLVED.value],
        )
        deliveries = await conn.fetch(
            "SELECT channel, status, count(*) AS n FROM deliveries"
            " WHERE status IN ('pending', 'failed', 'dead') GROUP BY channel, status"
        )  # the predicate of deliveries_undelivered, spelled out so the index serves it
        breaches = await conn.fetch("SELECT owner, breaches FROM deadline_breach_counts")
    assert pages is not None  # an aggregate without GROUP BY answers one row
    # Every label value from 0 on, so a series exists before its first claim (and alerts on it
    # can tell "none" from "not scraped").
    return BusinessCounts(
        open_by_stage=dict.fromkeys(OPEN_STAGES, 0) | {Stage(r["stage"]): r["n"] for r in stages},
        closed_by_outcome=dict.fromkeys(Outcome, 0)
        | {Outcome(r["outcome"]): r["n"] for r in outcomes if r["outcome"] in _OUTCOMES},
        overdue=overdue,
        safety_holds=holds,
        pages_unacknowledged=pages["cases"],
        # Case steps carry the workflow's time; a clock a little ahead never makes an age < 0.
        oldest_unacknowledged_page_seconds=max(0.0, float(pages["oldest_seconds"] or 0)),
        deliveries=dict.fromkeys(((c, s) for c in Channel for s in UNDELIVERED), 0)
        | {(Channel(r["channel"]), DeliveryStatus(r["status"])): r["n"] for r in deliveries},
        breaches_by_owner=dict.fromkeys(DEADLINE_OWNERS, 0)
        | {r["owner"]: r["breaches"] for r in breaches},
    )


_OUTCOMES = frozenset(o.value for o in Outcome)

# Safety cases of claims still on hold (a case that ended, however, has lifted its claim's hold)
# with a page sent and neither acknowledgement nor resolution recorded; the age of the first page
# of the oldest. Starts from the few claims on hold (claims_safety_hold).
_UNACKNOWLEDGED_PAGES = """
SELECT count(*) AS cases, extract(epoch FROM now() - min(first_page)) AS oldest_seconds
  FROM (SELECT p.case_id, min(p.at) AS first_page
          FROM claims c
          JOIN safety_case_events p ON p.claim_id = c.claim_id AND p.type = $1
         WHERE c.safety_hold
           AND NOT EXISTS (SELECT 1 FROM safety_case_events a
                            WHERE a.case_id = p.case_id AND a.type = ANY($2::text[]))
         GROUP BY p.case_id) unacknowledged
"""
