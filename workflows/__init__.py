"""Deterministic orchestration only: no I/O, no database drivers."""

from workflows.claim import SEARCH_ATTRIBUTES, ClaimWorkflow
from workflows.safety import SafetyEscalationWorkflow

WORKFLOWS = [ClaimWorkflow, SafetyEscalationWorkflow]

__all__ = ["SEARCH_ATTRIBUTES", "WORKFLOWS", "ClaimWorkflow", "SafetyEscalationWorkflow"]
