"""The notices sent by email: what each must say, in plain text and HTML.

Each names only what its recipient needs (minimum necessary): the claimant gets their own
appointment, decision and reason code; the examiner their appointment and what is due. Times are
shown in the claim's jurisdiction's time zone.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from domain.models import ClaimStatus
from domain.names import Template
from domain.profiles import PROFILES

RESCHEDULE_HELP = (
    "To reschedule, reply to this message or call your claims contact at least two business "
    "days before the appointment; they will arrange a new time with the examiner."
)


@dataclass(frozen=True)
class Letter:
    subject: str
    paragraphs: list[str]


def _when(at: datetime | None, status: ClaimStatus) -> str:
    if at is None:
        return "to be confirmed"
    profile = PROFILES.get(status.jurisdiction)
    zone = ZoneInfo(profile.timezone if profile else "UTC")
    local = at.astimezone(zone)
    return local.strftime("%A %d %B %Y at %H:%M %Z")


def letter(template: str, status: ClaimStatus, details: dict[str, object], name: str) -> Letter:
    """The notice `template` for `name`, from the claim as it stands and the notice's details."""
    claim = f"claim {status.claim_number}"
    appointment = status.appointment
    examiner = status.examiner.name if status.examiner else "the examiner"
    when = _when(appointment.starts_at if appointment else None, status)
    place = appointment.location if appointment else "to be confirmed"
    decision = status.decision
    greeting = f"Dear {name},"
    match template:
        case Template.APPOINTMENT_NOTICE:
            return Letter(
                f"Your medical examination for {claim}",
                [
                    greeting,
                    f"An independent medical examination has been arranged for your {claim}.",
                    f"When: {when}. Where: {place}. Examiner: {examiner}.",
                    RESCHEDULE_HELP,
                ],
            )
        case Template.APPOINTMENT_REQUEST:
            return Letter(
                f"Appointment request: {claim}",
                [
                    greeting,
                    f"You are asked to examine the claimant of {claim} on {when} at {place}.",
                    "Confirm or decline through the IME API (confirm-appointment or "
                    f"decline-appointment on claim {status.claim_id}).",
                ],
            )
        case Template.APPOINTMENT_CANCELLED:
            return Letter(
                f"Appointment cancelled: {claim}",
                [greeting, f"Your appointment for {claim} is cancelled; nothing is due from you."],
            )
        case Template.ADDENDUM_REQUEST:
            return Letter(
                f"Addendum requested: {claim}",
                [greeting, f"An addendum to your report on {claim} is requested; see the claim."],
            )
        case Template.DEADLINE_REMINDER | Template.DEADLINE_BREACHED:
            due = details.get("due_at")
            due_text = _when(datetime.fromisoformat(due), status) if isinstance(due, str) else ""
            late = template == Template.DEADLINE_BREACHED
            return Letter(
                f"{'Overdue' if late else 'Reminder'}: {claim}",
                [
                    greeting,
                    f"A step of {claim} that is yours is {'overdue' if late else 'due'}"
                    + (f" ({due_text})." if due_text else "."),
                ],
            )
        case Template.DECISION_NOTICE:
            outcome = decision.outcome if decision else "made"
            reason = decision.reason_code if decision else "-"
            return Letter(
                f"Decision on your {claim}",
                [
                    greeting,
                    f"A decision has been made on your {claim}: {outcome}.",
                    f"Reason code: {reason}.",
                    "You may ask your claims contact for the reasons and how to appeal.",
                ],
            )
        case Template.DECISION_EXTENSION_NOTICE:
            reason = str(details.get("reason") or "more time is needed")
            return Letter(
                f"More time for the decision on your {claim}",
                [greeting, f"The decision on your {claim} is extended: {reason}."],
            )
        case Template.REPORT_COPY:
            return Letter(
                f"Your examination report: {claim}",
                [greeting, f"The examination report of your {claim} is available to you."],
            )
        case Template.WITHDRAWAL_NOTICE | Template.CANCELLATION_NOTICE:
            return Letter(
                f"Your {claim} is closed",
                [greeting, f"Your {claim} has been withdrawn; no examination will take place."],
            )
        case Template.NON_COOPERATION_NOTICE:
            return Letter(
                f"Your {claim} is closed",
                [
                    greeting,
                    f"Your {claim} is closed because the examinations were missed.",
                    "You may ask your claims contact how to appeal.",
                ],
            )
        case _:
            return Letter(f"Update on {claim}", [greeting, f"There is an update on {claim}."])


def message(letter: Letter, *, sender: str, to: str, message_id: str) -> EmailMessage:
    """The email of `letter`. `message_id` is the delivery's own, the same on every retry (as a
    webhook's `webhook-id`): a mail sent again after a lost answer can be recognised as a repeat."""
    email = EmailMessage()
    email["Subject"] = letter.subject
    email["From"] = sender
    email["To"] = to
    email["Message-ID"] = message_id
    email.set_content("\n\n".join(letter.paragraphs) + "\n")
    body = "".join(f"<p>{html.escape(p)}</p>" for p in letter.paragraphs)
    email.add_alternative(f"<!doctype html><html><body>{body}</body></html>", subtype="html")
    return email
