"""Opaque, deterministic identifiers: no PHI and no claim number ever appears in a workflow ID."""

from __future__ import annotations

import base64
import hashlib
import hmac

WORKFLOW_ID_PREFIX = "ime-claim-"


def claim_id_for(secret: str, insurer_id: str, claim_number: str) -> str:
    """One claim per insurer + claim number; the id reveals neither."""
    digest = hmac.new(
        secret.encode(), f"{insurer_id}\x1f{claim_number}".encode(), hashlib.sha256
    ).digest()
    return base64.b32encode(digest[:15]).decode().lower()


_CLAIM_ID_LENGTH = 24  # base32 of 15 bytes
_CLAIM_ID_ALPHABET = frozenset("abcdefghijklmnopqrstuvwxyz234567")


def plausible_claim_id(text: str) -> bool:
    """Shaped like a claim id: anything else is no claim, without a lookup."""
    return len(text) == _CLAIM_ID_LENGTH and set(text) <= _CLAIM_ID_ALPHABET


def workflow_id_for(claim_id: str) -> str:
    return f"{WORKFLOW_ID_PREFIX}{claim_id}"


def claim_id_from_workflow_id(workflow_id: str) -> str:
    return workflow_id.removeprefix(WORKFLOW_ID_PREFIX)


def claimant_key(secret: str, full_name: str, date_of_birth: str) -> str:
    """Stable pseudonym of a claimant, for conflict checks without storing identity in clear."""
    normalized = " ".join(full_name.casefold().split())
    return hmac.new(
        secret.encode(), f"claimant\x1f{normalized}\x1f{date_of_birth}".encode(), hashlib.sha256
    ).hexdigest()
