"""Deterministic orchestration only: no I/O, no database drivers (see `workflows.claim`)."""

from workflows.claim import ClaimWorkflow
from workflows.safety import SafetyEscalationWorkflow

WORKFLOWS = [ClaimWorkflow, SafetyEscalationWorkflow]

__all__ = ["WORKFLOWS", "ClaimWorkflow", "SafetyEscalationWorkflow"]
