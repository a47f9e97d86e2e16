"""Deterministic orchestration only: no I/O, no database drivers (see `workflows.claim`)."""

from workflows.claim import ClaimWorkflow
from workflows.retention import RetentionSweep
from workflows.safety import SafetyEscalationWorkflow

WORKFLOWS = [ClaimWorkflow, SafetyEscalationWorkflow, RetentionSweep]

__all__ = ["WORKFLOWS", "ClaimWorkflow", "RetentionSweep", "SafetyEscalationWorkflow"]
