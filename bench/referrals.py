"""The bench's referrals: the sample referral (PRODUCT §6) with a distinct claim number and
claimant each (the panel's conflict rule keeps an examiner from seeing one claimant twice), all
from the bench insurer."""

from __future__ import annotations

import copy
from typing import Any

from domain.examples import ACTION_EXAMPLES, SAMPLE_REFERRAL
from domain.models import Referral
from domain.parsing import parse_referral
from domain.profiles import PROFILES

BENCH_INSURER = "bench-ins"

# The happy path's action bodies, as the README's curl walk sends them.
EXAM = {"attended": True, "risk_screen": {"level": "none", "toward": None}}
REPORT = copy.deepcopy(ACTION_EXAMPLES["report"])
REVIEW = {"result": "accepted", "reasons": []}
DECISION = {"outcome": "approved", "reason_code": "IME_SUPPORTS"}


def referral_body(jurisdiction: str, tag: str, n: int) -> dict[str, Any]:
    body = copy.deepcopy(SAMPLE_REFERRAL)
    body["insurer_id"] = BENCH_INSURER
    body["claim_number"] = f"BENCH-{tag}-{n:06d}"
    body["jurisdiction"] = jurisdiction
    body["claim_type"] = next(iter(PROFILES[jurisdiction].claim_types), body["claim_type"])
    body["claimant"]["full_name"] = f"Bench Claimant {tag} {n}"
    return body


def referral(jurisdiction: str, tag: str, n: int) -> Referral:
    return parse_referral(referral_body(jurisdiction, tag, n))
