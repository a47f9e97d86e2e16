"""Deterministic orchestration only: no I/O, no database drivers."""

from workflows.claim import SEARCH_ATTRIBUTES, ClaimWorkflow

__all__ = ["SEARCH_ATTRIBUTES", "ClaimWorkflow"]
