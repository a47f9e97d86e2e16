"""The referral of PRODUCT.md §6 on the DEMO profile: the README's curl example and the tests'
sample. Every wait of the DEMO profile is seconds long."""

from __future__ import annotations

from typing import Any

SAMPLE_REFERRAL: dict[str, Any] = {
    "insurer_id": "acme-ins",
    "claim_number": "WC-2026-000123",
    "claim_type": "workers_comp",
    "jurisdiction": "DEMO",
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
