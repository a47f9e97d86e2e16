"""Sample payloads in exactly the shape of PRODUCT §6."""

from __future__ import annotations

import uuid
from typing import Any


def referral_payload(jurisdiction: str = "DEMO", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "insurer_id": "acme-ins",
        "claim_number": f"WC-2026-{uuid.uuid4().hex[:8]}",
        "claim_type": "workers_comp",
        "jurisdiction": jurisdiction,
        "requested_specialty": "orthopedic_surgery",
        "claimant": {
            "full_name": "Jane Roe",
            "date_of_birth": "1980-04-02",
            "phone": "+1-212-555-0100",
            "email": "jane@example.org",
            "address": {
                "line1": "1 Main St",
                "city": "Albany",
                "state": "NY",
                "postal_code": "12207",
            },
            "language": "en",
            "interpreter_needed": False,
            "treating_provider_npis": ["1234567893"],
        },
        "injury": {
            "date_of_injury": "2026-09-14",
            "body_parts": ["lumbar spine"],
            "description": "lifting",
        },
        "questions": [
            "Is the lumbar condition causally related to the incident?",
            "Is the claimant at MMI?",
        ],
    }
    body.update(overrides)
    return body


def complete_report(causation: str = "related") -> dict[str, Any]:
    return {
        "diagnoses": ["lumbar strain"],
        "causation": causation,
        "mmi_reached": True,
        "mmi_date": "2026-11-20",
        "impairment_percent": 5,
        "work_restrictions": "no lifting over 20 lb",
        "further_treatment": "physical therapy",
        "answers": ["Yes, causally related.", "Yes, MMI reached."],
        "records_reviewed": ["MRI 2026-09-20"],
    }
