"""The retention sweep's activities: which closed claims are due, and destroying one claim's
records. At-least-once like every activity: `store.retention.destroy` checks again under the
claim's row lock, so a retry (or a second sweep) destroys nothing more and records no second
event."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
from temporalio import activity

from domain.names import RetentionActivity
from domain.profiles import PROFILES
from domain.retention import Destroyed, DestroyRequest, DueClaims, DueRequest, cutoffs
from observability.logs import get_logger
from store import retention as retention_store

log = get_logger("ime.retention")


class RetentionActivities:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    def all(self) -> list[Callable[..., Any]]:
        return [self.claims_due, self.destroy_records]

    @activity.defn(name=RetentionActivity.CLAIMS_DUE)
    async def claims_due(self, req: DueRequest) -> DueClaims:
        # The profiles as they are now: a period changed later applies to every closed claim.
        due = await retention_store.claims_due(
            self._pool, cutoffs(PROFILES, req.now), after=req.after, limit=req.limit
        )
        return DueClaims(claim_ids=due)

    @activity.defn(name=RetentionActivity.DESTROY_RECORDS)
    async def destroy_records(self, req: DestroyRequest) -> Destroyed:
        counts = await retention_store.destroy(self._pool, req.claim_id, cutoffs(PROFILES, req.now))
        if counts is not None:
            # Counts and the opaque claim id only: nothing of the claimant.
            log.info("records destroyed", claim_id=req.claim_id, **counts)
        return Destroyed(claim_id=req.claim_id, destroyed=counts is not None, counts=counts or {})
