"""Example payloads in the shape of PRODUCT §6: the OpenAPI document's examples (which clients and
schema-driven fuzzers start from), the README's curl walk and the tests' samples.

The referral is on the DEMO profile, where every wait is seconds long. Plain data: models import
it, it imports nothing.
"""

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


ACTION_EXAMPLES: dict[str, dict[str, Any]] = {
    "assign": {"examiner_id": "ex-ny-orthopedic-surgery-2"},
    "confirm-appointment": {},
    "decline-appointment": {"reason": "on leave that week"},
    "reschedule": {"reason": "claimant unwell", "requested_by": "claimant"},
    "exam": {"attended": True, "risk_screen": {"level": "none", "toward": None, "notes": ""}},
    "report": {
        "diagnoses": ["lumbar strain"],
        "causation": "related",
        "mmi_reached": True,
        "mmi_date": "2026-11-20",
        "impairment_percent": 5,
        "work_restrictions": "no lifting over 20 lb",
        "further_treatment": "physical therapy",
        "answers": ["Yes, causally related.", "Yes, MMI reached."],
        "records_reviewed": ["MRI 2026-09-20"],
    },
    "review": {"result": "accepted", "reasons": []},
    "decision": {"outcome": "approved", "reason_code": "IME_SUPPORTS", "notes": ""},
    "extend-decision": {"reason": "awaiting records"},
    "withdraw": {"reason": "claimant settled"},
    "appeal": {
        "received_at": "2026-12-01T15:00:00Z",
        "reason": "new records from the treating physician",
    },
    "appeal-decision": {"outcome": "overturned", "reason_code": "MEETS_DEFINITION", "notes": ""},
    "safety-concern": {"level": "moderate", "toward": "self", "notes": ""},
    "safety-ack": {"clinician_id": "dr-on-call"},
    "safety-resolve": {"actions_taken": ["warm_handoff"], "notes": ""},
    "request-report-copy": {"reason": "the claimant asked in writing"},
    "proceed-without-records": {"reason": "examiner reviewed the records at the office"},
    "interpreter-booked": {"reference": "LANG-2291"},
    "record-state-panel": {
        "reference": "QME-PANEL-7741023",
        "examiner_ids": [
            "ex-ca-orthopedic-surgery-1",
            "ex-ca-orthopedic-surgery-2",
            "ex-ca-orthopedic-surgery-3",
        ],
    },
    "record-state-assignment": {
        "reference": "DWC-032-5521",
        "examiner_id": "ex-tx-orthopedic-surgery-1",
    },
    "strike": {"examiner_id": "ex-ca-orthopedic-surgery-2", "party": "insurer"},
    "panel-choice": {"examiner_id": "ex-ca-orthopedic-surgery-1", "party": "claimant"},
}

EXAMINER_EXAMPLE: dict[str, Any] = {
    "id": "ex-ny-neurology-9",
    "name": "Dr. Example Neurology (NY)",
    "npi": "1999999990",
    "specialty": "neurology",
    "licensed_states": ["NY"],
    "active": True,
    "capacity": 20,
    "location": "Albany, NY examination office 9",
    "email": "ex-ny-neurology-9@examiners.example.org",
}
