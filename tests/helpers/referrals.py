"""Sample payloads in exactly the shape of PRODUCT §6."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from domain.examples import ACTION_EXAMPLES, SAMPLE_REFERRAL
from domain.profiles import PROFILES


def referral_payload(jurisdiction: str = "DEMO", **overrides: Any) -> dict[str, Any]:
    body = copy.deepcopy(SAMPLE_REFERRAL)
    suffix = uuid.uuid4().hex[:8]
    body["claim_number"] = f"WC-2026-{suffix}"
    body["jurisdiction"] = jurisdiction
    # A claim type the profile serves (a referral of another type is refused at intake).
    served = PROFILES[jurisdiction].claim_types if jurisdiction in PROFILES else ()
    if served and body["claim_type"] not in served:
        body["claim_type"] = served[0]
    # A different claimant each time: the panel's conflict rule keeps an examiner from seeing the
    # same claimant on two claims, which would starve tests that start several claims.
    body["claimant"]["full_name"] = f"Jane Roe {suffix}"
    body.update(overrides)
    return body


def complete_report(causation: str = "related") -> dict[str, Any]:
    """A report that passes the automatic QA (the OpenAPI example) with the given causation."""
    return copy.deepcopy(ACTION_EXAMPLES["report"]) | {"causation": causation}
