"""The search attributes SREs filter claims by in the Temporal UI (never PHI: stage, outcome,
jurisdiction, insurer, hold, next deadline, overdue). Registered on every server at start."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

CLAIM_STAGE = SearchAttributeKey.for_keyword("ClaimStage")
CLAIM_OUTCOME = SearchAttributeKey.for_keyword("ClaimOutcome")
JURISDICTION = SearchAttributeKey.for_keyword("Jurisdiction")
INSURER_ID = SearchAttributeKey.for_keyword("InsurerId")
SAFETY_HOLD = SearchAttributeKey.for_bool("SafetyHold")
NEXT_DEADLINE = SearchAttributeKey.for_datetime("NextDeadline")
OVERDUE = SearchAttributeKey.for_bool("Overdue")

SEARCH_ATTRIBUTES = (
    CLAIM_STAGE,
    CLAIM_OUTCOME,
    JURISDICTION,
    INSURER_ID,
    SAFETY_HOLD,
    NEXT_DEADLINE,
    OVERDUE,
)
