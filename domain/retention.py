"""Retention of a closed claim's records, as data: what the sweep asks and answers, when each
profile's records fall due for destruction, and the legal hold that stops it.

The retention period is a profile rule (`JurisdictionProfile.retention`, cited in
`jurisdictions.toml`), counted from the claim's closing. The sweep reads the profiles as they
are now (an activity: `activities.retention`), not as a claim recorded them at intake: a period
changed later applies to every closed claim.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from domain.models.base import Input, Model
from domain.names import LegalHoldReason
from domain.profiles import JurisdictionProfile

# Claims looked at per activity call; a sweep with more goes on in batches (and continues as new
# past `SWEEP_BATCHES_PER_RUN`, so its history stays short).
SWEEP_BATCH = 50
SWEEP_BATCHES_PER_RUN = 20


class SweepInput(Model):
    """Where a sweep run starts: `now` is fixed by the first run (a continued run goes on with
    the same cut-offs), `after` the last claim id looked at."""

    now: datetime | None = None
    after: str | None = None
    destroyed: int = 0
    batch: int = Field(default=SWEEP_BATCH, ge=1, le=1000)
    batches: int = Field(default=SWEEP_BATCHES_PER_RUN, ge=1)


class SweepResult(Model):
    destroyed: int


class DueRequest(Model):
    now: datetime
    after: str | None = None
    limit: int = Field(ge=1, le=1000)


class DueClaims(Model):
    claim_ids: list[str]


class DestroyRequest(Model):
    claim_id: str
    now: datetime


class Destroyed(Model):
    """What one claim's destruction removed (counts, never content); `destroyed` False when
    nothing was done (already destroyed, held, not yet due: re-checked in the transaction)."""

    claim_id: str
    destroyed: bool
    counts: dict[str, int] = Field(default_factory=dict)


class LegalHoldInput(Input):
    """`PUT /v1/claims/{id}/legal-hold` and `DELETE`: why, as a code (no free text, so no PHI)."""

    reason: LegalHoldReason


def cutoffs(profiles: dict[str, JurisdictionProfile], now: datetime) -> dict[str, datetime]:
    """For each profile with a retention period: claims closed at or before this are due."""
    return {
        name: now - profile.retention.as_timedelta()
        for name, profile in profiles.items()
        if profile.retention is not None
    }
