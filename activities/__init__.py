"""Every side effect of a claim: Postgres writes, scheduling, deadlines, notifications."""

from activities.claims import ClaimActivities

__all__ = ["ClaimActivities"]
