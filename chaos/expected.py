"""What a DEMO claim walked to approval or denial must leave behind, as data: its audit events,
the notifications each event makes, and the insurer webhooks each event becomes.

The approval and the denial walk the same steps (the report's causation makes the recommendation;
the insurer decides): only the outcome in the details differs. DEMO deadlines are seconds long, so
a claim slowed by a fault may pass one: the claim then tells whoever the deadline names
(`deadline_breached`, with `told` in its details), and an unconfirmed booking is released and
the next examiner booked (`appointment_expired`, then `appointment_booked`). Those are the only
detours a walked claim may take; reminders before a deadline are notifications without an event.
"""

from __future__ import annotations

HAPPY_PATH_EVENTS = [
    "referral_received",
    "appointment_booked",
    "appointment_confirmed",
    "exam_attended",
    "report_submitted",
    "report_accepted",
    "decision_issued",
    "claim_closed",
]

# The event each human step records, once (the review's acceptance records `report_accepted`).
STEP_EVENTS = {
    "confirm-appointment": "appointment_confirmed",
    "exam": "exam_attended",
    "report": "report_submitted",
    "review": "report_accepted",
    "decision": "decision_issued",
}

# Events a deadline may add to a walked claim.
DEADLINE_EVENTS = frozenset({"deadline_breached", "appointment_expired"})

# (recipient, template) of the notifications each event makes; `deadline_breached` tells those in
# its `told` detail.
EVENT_NOTICES: dict[str, list[tuple[str, str]]] = {
    "appointment_booked": [("claimant", "appointment_notice"), ("examiner", "appointment_request")],
    "report_submitted": [("reviewer", "report_to_review")],
    "report_accepted": [("insurer", "report_available"), ("claimant", "report_copy")],
    "claim_closed": [
        ("insurer", "claim_closed"),
        ("claimant", "decision_notice"),
        ("examiner", "claim_closed"),
    ],
    "appointment_expired": [("examiner", "appointment_cancelled")],
}
REMINDER = "deadline_reminder"

# What the recommendation is for each outcome the insurer then decides.
RECOMMENDATION = {"approved": "approve", "denied": "deny"}
