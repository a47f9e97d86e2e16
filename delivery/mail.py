"""The notices sent by email: what each must say, in plain text and HTML, and for the claimant's
letters (appointment notice, decision letter, copy of the report) a PDF of the same letter
(`delivery.letter_pdf`) attached to the email.

Each names only what its recipient needs (minimum necessary): the claimant gets their own
appointment, decision and report; the examiner their appointment and what is due. Times are
shown in the claim's jurisdiction's time zone. A letter says what the service knows and no more:
where the plan document or the insurer holds the rest (an ERISA plan's provisions), it says so.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.message import EmailMessage
from typing import Any, Literal
from zoneinfo import ZoneInfo

from domain.models import ClaimReport, ClaimStatus, ExamReport
from domain.names import Template
from domain.profiles import PROFILES, JurisdictionProfile

# Said when no contact is configured for a letter (examiners' notices, old callers).
_NO_CONTACT = "your claims contact"

# What the claimant brings to the examination (the examiner sees what the claimant takes, sees
# and hears with).
WHAT_TO_BRING = (
    "Photo identification (a driver's licence, state ID card or passport).",
    "A list of the medicines you take, with their doses.",
    "Medical records and imaging (X-rays, MRI or CT scans, with their reports) about your "
    "injury or condition that you have, in case the examiner does not have them.",
    "Your glasses, contact lenses or hearing aids, if you use them.",
    "This letter.",
)

# Languages a referral names most often in the US, by their code; any other shows as its code.
_LANGUAGES = {
    "ar": "Arabic", "bn": "Bengali", "de": "German", "es": "Spanish", "fr": "French",
    "hi": "Hindi", "ht": "Haitian Creole", "it": "Italian", "ja": "Japanese", "ko": "Korean",
    "pl": "Polish", "pt": "Portuguese", "ru": "Russian", "tl": "Tagalog", "ur": "Urdu",
    "vi": "Vietnamese", "yi": "Yiddish", "zh": "Chinese",
}  # fmt: skip

_CAUSATION = {
    "related": "the condition is related to the injury or event of the claim",
    "partially_related": "the condition is partly related to the injury or event of the claim",
    "not_related": "the condition is not related to the injury or event of the claim",
    "undetermined": "whether the condition is related to the injury or event cannot be determined",
}


@dataclass(frozen=True)
class Block:
    """A piece of a letter: a paragraph, a heading, or an item of a list."""

    text: str
    kind: Literal["text", "heading", "item"] = "text"


@dataclass(frozen=True)
class Addressee:
    """Whom a claimant's letter is to, as the referral gave it (sealed at rest, opened only by the
    dispatcher to send the letter). `postal` is empty for claims taken before addresses were
    kept with the contact."""

    name: str
    postal: tuple[str, ...] = ()
    language: str = "en"
    interpreter_needed: bool = False

    @classmethod
    def from_contact(cls, contact: Mapping[str, Any]) -> Addressee:
        address = contact.get("address") or {}
        town = " ".join(
            part
            for part in (
                f"{address['city']}," if address.get("city") else "",
                address.get("state") or "",
                address.get("postal_code") or "",
            )
            if part
        )
        lines = (address.get("line1"), address.get("line2"), town)
        return cls(
            name=contact.get("name") or "claimant",
            postal=tuple(line for line in lines if line),
            language=contact.get("language") or "en",
            interpreter_needed=bool(contact.get("interpreter_needed")),
        )


@dataclass(frozen=True)
class Letter:
    """A notice. The email's text and the PDF say the same `blocks`; `enclosure` (the report of
    a claimant's copy) is in the PDF only, so that the report is not in the email's body (shown
    in previews and notification banners). `document` is the PDF's file name for the claimant's
    letters (never a person's name), None for a notice sent as email only."""

    subject: str
    blocks: tuple[Block, ...]
    document: str | None = None
    addressee: Addressee | None = None
    dated: date | None = None
    # What the PDF's footer and letterhead show: the claim it is about, whom to ask.
    reference: str = ""
    contact: str = ""
    enclosure_title: str = ""
    enclosure: tuple[Block, ...] = field(default=())

    @property
    def paragraphs(self) -> list[str]:
        """The letter as plain paragraphs (an item as `- text`)."""
        return [f"- {b.text}" if b.kind == "item" else b.text for b in self.blocks]


def _text(*texts: str) -> tuple[Block, ...]:
    return tuple(Block(t) for t in texts)


def _items(texts: Iterable[str]) -> tuple[Block, ...]:
    return tuple(Block(t, "item") for t in texts)


def _heading(text: str) -> Block:
    return Block(text, "heading")


def _language(code: str) -> str:
    return _LANGUAGES.get(code.split("-")[0].lower(), f"language {code}")


def _zone(status: ClaimStatus) -> ZoneInfo:
    profile = PROFILES.get(status.jurisdiction)
    return ZoneInfo(profile.timezone if profile else "UTC")


def _when(at: datetime | None, status: ClaimStatus) -> str:
    if at is None:
        return "to be confirmed"
    local = at.astimezone(_zone(status))
    return local.strftime("%A %d %B %Y at %H:%M %Z")


def _day(at: datetime, status: ClaimStatus) -> str:
    return _date(at.astimezone(_zone(status)).date())


def _date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def letter(
    template: str,
    status: ClaimStatus,
    details: Mapping[str, object],
    to: str | Addressee,
    *,
    contact: str = "",
    report: ClaimReport | None = None,
    now: datetime | None = None,
) -> Letter:
    """The notice `template` to `to` (a name, or the claimant as addressee), from the claim as it
    stands and the notice's details. `contact`: whom the claimant calls or writes to (the
    service's `IME_CLAIMANT_CONTACT`); `report`: the report a claimant's copy encloses; `now`: the
    letter's date (default: today in the claim's time zone)."""
    addressee = to if isinstance(to, Addressee) else Addressee(name=to)
    claim = f"claim {status.claim_number}"
    help_line = contact or _NO_CONTACT
    greeting = f"Dear {addressee.name},"
    dated = (now or datetime.now(UTC)).astimezone(_zone(status)).date()

    def claimant_letter(
        subject: str,
        blocks: Iterable[Block],
        document: str,
        enclosure_title: str = "",
        enclosure: tuple[Block, ...] = (),
    ) -> Letter:
        return Letter(
            subject,
            (Block(greeting), *blocks),
            document=document,
            addressee=addressee,
            dated=dated,
            reference=f"Claim {status.claim_number}",
            contact=help_line,
            enclosure_title=enclosure_title,
            enclosure=enclosure,
        )

    match template:
        case Template.APPOINTMENT_NOTICE:
            return claimant_letter(
                f"Your medical examination for {claim}",
                _appointment_notice(
                    status, addressee, help_line, booked=details.get("interpreter_booked") is True
                ),
                "appointment-notice.pdf",
            )
        case Template.DECISION_NOTICE if status.decision is not None:
            return claimant_letter(
                f"Decision on your {claim}",
                _decision_letter(status, help_line),
                "decision-letter.pdf",
            )
        case Template.APPEAL_RECEIVED_NOTICE:
            return claimant_letter(
                f"Your appeal: {claim}",
                _appeal_received(status, details, help_line),
                "appeal-received.pdf",
            )
        case Template.APPEAL_DECISION_NOTICE if status.appeal and status.appeal.outcome:
            return claimant_letter(
                f"Decision on your appeal: {claim}",
                _appeal_decision_letter(status, help_line),
                "appeal-decision.pdf",
            )
        case Template.REPORT_COPY if report is not None:
            filed = _day(report.submitted_at, status)
            return claimant_letter(
                f"Your examination report: {claim}",
                _text(
                    "Enclosed is your copy of the report of your independent medical "
                    f"examination for {claim}, as the examiner filed it on {filed}.",
                    f"If anything in it is wrong or unclear, contact {help_line}.",
                ),
                "examination-report.pdf",
                enclosure_title="Report of the independent medical examination",
                enclosure=_report_blocks(report, status),
            )
    return _notice(template, status, details, claim, greeting, help_line)


def _appointment_notice(
    status: ClaimStatus, addressee: Addressee, contact: str, *, booked: bool = False
) -> tuple[Block, ...]:
    appointment = status.appointment
    when = _when(appointment.starts_at if appointment else None, status)
    place = appointment.location if appointment else "to be confirmed"
    examiner = "to be confirmed"
    if status.examiner:
        specialty = status.examiner.specialty.value.replace("_", " ")
        examiner = f"{status.examiner.name} ({specialty})"
    profile = PROFILES.get(status.jurisdiction)
    rights = []
    if profile is not None and profile.observer_allowed:
        rights.append(
            "You may bring a person of your choosing to the examination, for example a family "
            "member, your representative or attorney, or your own doctor."
        )
    if addressee.interpreter_needed and booked:
        rights.append(
            f"An interpreter ({_language(addressee.language)}) is booked for your examination. "
            f"If you no longer need one, or need another language, contact {contact}."
        )
    elif addressee.interpreter_needed:
        rights.append(
            f"Your referral says you need an interpreter ({_language(addressee.language)}). You "
            f"may have an interpreter at the examination: contact {contact} before the "
            "appointment to confirm that one is booked for you."
        )
    return (
        *_text(
            f"An independent medical examination has been arranged for your claim "
            f"{status.claim_number}. The examiner is a licensed clinician who has not treated "
            "you: the examination is for your claim, not for treatment."
        ),
        _heading("Your appointment"),
        *_items(
            (
                f"When: {when} (local time at the place of the examination).",
                f"Where: {place}.",
                f"Examiner: {examiner}.",
            )
        ),
        _heading("What to bring"),
        *_items(WHAT_TO_BRING),
        *((_heading("Your rights at the examination"), *_items(rights)) if rights else ()),
        _heading("To reschedule or ask a question"),
        *_text(
            f"Contact {contact} as soon as you can, and at least two business days before the "
            "appointment, to reschedule; they will arrange a new time with the examiner. Missed "
            "examinations can lead to your claim being closed."
        ),
    )


def _decision_letter(status: ClaimStatus, contact: str) -> tuple[Block, ...]:
    decision = status.decision
    assert decision is not None
    profile = PROFILES.get(status.jurisdiction)
    decided = _day(decision.decided_at, status)
    opening = _text(
        f"A decision was made on your claim {status.claim_number} on {decided}: the claim is "
        f"{decision.outcome}.",
    )
    if decision.outcome == "denied" and profile is not None and profile.decision_letter == "erisa":
        return opening + _erisa_denial(decision.reason_code, profile, contact)
    closing = f"If you have a question about this decision, contact {contact}."
    if decision.outcome == "denied":
        window = _appeal_window(profile)
        closing = (
            f"If you disagree with this decision, contact {contact}: they will tell you how to "
            + (
                f"appeal. You may appeal within {window} after you receive this letter."
                if window
                else "ask for it to be reviewed, and by when."
            )
        )
    return (
        *opening,
        _heading("The reason"),
        *_text(_reason_in_words(decision.reason_code, profile), closing),
    )


def _reason_in_words(code: str, profile: JurisdictionProfile | None) -> str:
    """The decision's reason as its profile words it (with its code); the code alone when the
    profile has no words for it (a decision recorded before the profile listed its codes)."""
    reason = profile.reason_codes.get(code) if profile else None
    if reason is None:
        return f"Reason code: {code}."
    return f"{reason.words[0].upper()}{reason.words[1:]} (reason code {code})."


def _appeal_window(profile: JurisdictionProfile | None) -> str:
    window = profile.appeal_within if profile else None
    if window is None:
        return ""
    unit = window.unit.replace("_", " ")
    return f"{window.amount} {unit[:-1] if window.amount == 1 else unit}"


def _erisa_denial(reason: str, profile: JurisdictionProfile, contact: str) -> tuple[Block, ...]:
    """The notice of an adverse benefit determination: the content 29 CFR 2560.503-1(g)(1)
    requires, as far as the service knows it (the reason code; the plan document governs)."""
    window = _appeal_window(profile) or "180 days"  # (h)(4): never less for a disability claim
    return (
        # (g)(1)(i): the specific reason.
        _heading("Why your claim was denied"),
        *_text(
            (
                f"The specific reason for this decision: {profile.reason_codes[reason].words} "
                f"(reason code {reason}). Ask {contact} if anything in it is unclear."
            )
            if reason in profile.reason_codes
            else (
                f"The specific reason recorded for this decision is reason code {reason}. Ask "
                f"{contact} and they will explain in full what it means for your claim."
            )
        ),
        # (g)(1)(ii): the plan provisions relied on.
        _heading("The plan provisions this decision relies on"),
        *_text(
            f"The decision relies on the provisions of your benefit plan to which reason code "
            f"{reason} refers. This letter does not quote them: the plan document governs. You "
            f"may ask {contact} for the exact provisions relied on, and a copy of them, free of "
            "charge."
        ),
        # (g)(1)(iii): what else is needed, and why.
        _heading("What could change this decision"),
        *_text(
            "If you have medical information that was not considered, for example records, "
            "test results, or a statement from your treating doctor about your condition and "
            "your ability to work, send it with your appeal. It is needed because this decision "
            "rests on the medical evidence in your file, including the independent medical "
            "examination, and new medical evidence is what can show that it should change.",
            # (g)(1)(v), (h)(2)(iii): what was relied on is the claimant's to see.
            "You may ask for copies, free of charge, of all documents, records and other "
            "information relevant to your claim, including the report of the independent "
            "medical examination and any internal rule, guideline or protocol relied on.",
        ),
        # (g)(1)(iv), (h)(3)-(4), (i)(3): the appeal procedure and its time limits.
        _heading("How to appeal, and by when"),
        *_items(
            (
                f"You may appeal within {window} after you receive this letter. Send your "
                f"appeal in writing to {contact}.",
                "With your appeal you may send written comments, documents, records and other "
                "information; the review takes all of it into account, whether or not it was "
                "considered before.",
                "The appeal is decided by someone who did not make this decision and does not "
                "report to the person who did, and who consults a health care professional "
                "with appropriate training and experience.",
                "You will be told the decision on your appeal within 45 days after it is "
                "received, or within 90 days if special circumstances need more time (you will "
                "be told why before the first 45 days end).",
            )
        ),
        # (g)(1)(iv): the right to sue after the review.
        _heading("Your right to bring a civil action"),
        *_text(
            "If your appeal is denied, you have the right to bring a civil action under "
            "section 502(a) of the Employee Retirement Income Security Act of 1974 (ERISA).",
            f"If you have a question about this letter, contact {contact}.",
        ),
    )


def _appeal_received(
    status: ClaimStatus, details: Mapping[str, object], contact: str
) -> tuple[Block, ...]:
    appeal = status.appeal
    received = _day(appeal.received_at, status) if appeal and appeal.received_at else "recently"
    due = details.get("decision_due")
    by = _when(datetime.fromisoformat(due), status) if isinstance(due, str) else ""
    return (
        *_text(
            f"We received your appeal of the decision to deny your claim {status.claim_number} "
            f"on {received}.",
        ),
        _heading("How your appeal is reviewed"),
        *_items(
            (
                "It is reviewed by someone who did not make the first decision and is not that "
                "person's subordinate, without deference to the first decision.",
                "Where the decision rests on a medical judgment, a health care professional who "
                "was not consulted before is consulted; a new examination may be arranged, with "
                "an examiner who has not examined you.",
                "Everything you send is taken into account, whether or not it was part of the "
                "first decision.",
            )
        ),
        _heading("When you will hear from us"),
        *_text(
            (f"A decision on your appeal is due by {by}. " if by else "")
            + "If more time is needed, you will be told why, and by when, before then.",
            f"You may send written comments, documents and records to {contact}.",
        ),
    )


def _appeal_decision_letter(status: ClaimStatus, contact: str) -> tuple[Block, ...]:
    appeal = status.appeal
    assert appeal is not None and appeal.outcome is not None
    profile = PROFILES.get(status.jurisdiction)
    decided = _day(appeal.decided_at, status) if appeal.decided_at else "today"
    reason = _reason_in_words(appeal.reason_code or "", profile)
    if appeal.outcome == "overturned":
        return (
            *_text(
                f"Your appeal on claim {status.claim_number} was decided on {decided}: the "
                "decision to deny your claim is overturned, and your claim is approved.",
            ),
            _heading("The reason"),
            *_text(reason, f"If you have a question about this decision, contact {contact}."),
        )
    blocks = (
        *_text(
            f"Your appeal on claim {status.claim_number} was decided on {decided}: the decision "
            "to deny your claim is upheld.",
        ),
        _heading("The reason"),
        *_text(reason),
        _heading("Your file"),
        *_text(
            "You may ask, free of charge, for copies of all documents, records and other "
            f"information relevant to your claim, from {contact}.",
        ),
    )
    if profile is not None and profile.decision_letter == "erisa":
        # 29 CFR 2560.503-1(j)(4): the right to sue after an adverse decision on review.
        return (
            *blocks,
            _heading("Your right to bring a civil action"),
            *_text(
                "This is the final decision on your appeal under the plan's review procedure. "
                "You have the right to bring a civil action under section 502(a) of the "
                "Employee Retirement Income Security Act of 1974 (ERISA).",
                f"If you have a question about this letter, contact {contact}.",
            ),
        )
    return (*blocks, *_text(f"If you have a question about this decision, contact {contact}."))


def _report_blocks(copy: ClaimReport, status: ClaimStatus) -> tuple[Block, ...]:
    """The report as the examiner filed it (the version the claim holds as current)."""
    report: ExamReport = copy.report
    filed = _day(copy.submitted_at, status)
    version = "report" if copy.kind == "report" else f"addendum (version {copy.version})"
    causation = (
        f"In the examiner's opinion {_CAUSATION[report.causation.value]}."
        if report.causation
        else "Not stated."
    )
    if report.mmi_reached is None:
        mmi = "Not stated."
    elif report.mmi_reached:
        mmi = "Reached" + (f" on {_date(report.mmi_date)}." if report.mmi_date else ".")
    else:
        mmi = "Not yet reached."
    impairment = (
        f"{report.impairment_percent:g}% permanent impairment."
        if report.impairment_percent is not None
        else "Not stated."
    )
    answers = [f"Question {n}: {a}" for n, a in enumerate(report.answers, start=1)]
    return (
        *_text(f"Claim {status.claim_number}: the {version} filed on {filed}."),
        _heading("Diagnoses"),
        *(_items(report.diagnoses) if report.diagnoses else _text("None stated.")),
        _heading("Causation"),
        *_text(causation),
        _heading("Maximum medical improvement"),
        *_text(mmi),
        _heading("Impairment"),
        *_text(impairment),
        _heading("Work restrictions"),
        *_text(report.work_restrictions or "None stated."),
        _heading("Further treatment"),
        *_text(report.further_treatment or "None stated."),
        _heading("Answers to the referral's questions"),
        *(_items(answers) if answers else _text("None stated.")),
        _heading("Records reviewed"),
        *(_items(report.records_reviewed) if report.records_reviewed else _text("None listed.")),
    )


def _notice(
    template: str,
    status: ClaimStatus,
    details: Mapping[str, object],
    claim: str,
    greeting: str,
    contact: str,
) -> Letter:
    """The notices sent as email only (examiners' notices, the claimant's other notices)."""
    appointment = status.appointment
    when = _when(appointment.starts_at if appointment else None, status)
    place = appointment.location if appointment else "to be confirmed"
    match template:
        case Template.APPOINTMENT_REQUEST:
            return Letter(
                f"Appointment request: {claim}",
                _text(
                    greeting,
                    f"You are asked to examine the claimant of {claim} on {when} at {place}.",
                    "Confirm or decline through the IME API (confirm-appointment or "
                    f"decline-appointment on claim {status.claim_id}).",
                ),
            )
        case Template.APPOINTMENT_CANCELLED:
            return Letter(
                f"Appointment cancelled: {claim}",
                _text(
                    greeting, f"Your appointment for {claim} is cancelled; nothing is due from you."
                ),
            )
        case Template.RECORDS_RECEIVED:
            return Letter(
                f"Records received: {claim}",
                _text(
                    greeting,
                    f"Medical records for {claim} have arrived. Download them from your "
                    "worklist in the console before the examination on "
                    f"{when}.",
                ),
            )
        case Template.ADDENDUM_REQUEST:
            given = details.get("reasons")
            reasons = [str(r) for r in given if str(r).strip()] if isinstance(given, list) else []
            if not reasons:
                return Letter(
                    f"Addendum requested: {claim}",
                    _text(
                        greeting,
                        f"An addendum to your report on {claim} is requested; see the claim.",
                    ),
                )
            return Letter(
                f"Addendum requested: {claim}",
                (
                    *_text(
                        greeting,
                        f"An addendum to your report on {claim} is requested, for these reasons:",
                    ),
                    *_items(tuple(reasons)),
                    *_text("Write the addendum from your worklist in the console."),
                ),
            )
        case Template.DEADLINE_REMINDER | Template.DEADLINE_BREACHED:
            due = details.get("due_at")
            due_text = _when(datetime.fromisoformat(due), status) if isinstance(due, str) else ""
            late = template == Template.DEADLINE_BREACHED
            return Letter(
                f"{'Overdue' if late else 'Reminder'}: {claim}",
                _text(
                    greeting,
                    f"A step of {claim} that is yours is {'overdue' if late else 'due'}"
                    + (f" ({due_text})." if due_text else "."),
                ),
            )
        case Template.STATE_SELECTION_NEEDED:
            kind = details.get("selection")
            what = "panel of three examiners" if kind == "state_panel_strike" else "examiner"
            again = " another" if details.get("replacing") else ""
            return Letter(
                f"Ask the state for{again} an examiner: {claim}",
                _text(
                    greeting,
                    f"The state picks the examiner of {claim}. Obtain its{again} {what} and "
                    f"record it on claim {status.claim_id} ("
                    + (
                        "record-state-panel"
                        if kind == "state_panel_strike"
                        else "record-state-assignment"
                    )
                    + ").",
                ),
            )
        case Template.PANEL_ISSUED:
            due = details.get("due_at")
            by = _when(datetime.fromisoformat(due), status) if isinstance(due, str) else "soon"
            panel = details.get("examiner_ids")
            names = ", ".join(str(e) for e in panel) if isinstance(panel, list) else ""
            step = (
                "Each side may strike one examiner (strike)"
                if details.get("represented")
                else "The claimant chooses one examiner (panel-choice)"
            )
            return Letter(
                f"Examiner panel issued: {claim}",
                _text(
                    greeting,
                    f"The state issued a panel for {claim}: {names}.",
                    f"{step} by {by}; a side that lets the window pass loses its strike or choice.",
                ),
            )
        case Template.PANEL_CHOICE_NEEDED:
            return Letter(
                f"Choose the examiner: {claim}",
                _text(
                    greeting,
                    f"The panel's window for {claim} has closed with more than one examiner "
                    f"left; the {details.get('chooser') or 'entitled side'} chooses one "
                    f"(panel-choice on claim {status.claim_id}).",
                ),
            )
        case Template.DECISION_NOTICE:  # no decision in the projection (an old or odd row)
            return Letter(
                f"Decision on your {claim}",
                _text(
                    greeting,
                    f"A decision has been made on your {claim}.",
                    f"You may ask {contact} for the decision, its reasons and how to appeal.",
                ),
            )
        case Template.DECISION_EXTENSION_NOTICE:
            reason = str(details.get("reason") or "more time is needed")
            due = details.get("decision_due")
            expected = (
                f" A decision is now expected by {_when(datetime.fromisoformat(due), status)}."
                if isinstance(due, str)
                else ""
            )
            what = "your appeal" if details.get("appeal") else f"your {claim}"
            return Letter(
                f"More time for the decision on {what}",
                _text(greeting, f"The decision on {what} is extended: {reason}.{expected}"),
            )
        case Template.APPEAL_TO_REVIEW:
            return Letter(
                f"Appeal to review: {claim}",
                _text(
                    greeting,
                    f"The denial of {claim} is appealed. Review it if you did not review this "
                    "claim before: accept the file for the decision on appeal, or ask for a new "
                    f"examination (review on claim {status.claim_id}).",
                ),
            )
        case Template.APPEAL_DECISION_NEEDED:
            return Letter(
                f"Decide the appeal: {claim}",
                _text(
                    greeting,
                    f"The appeal of {claim} is reviewed. Someone other than who made the denial "
                    f"decides it (appeal-decision on claim {status.claim_id}).",
                ),
            )
        case Template.REPORT_COPY:  # the report is not at hand
            return Letter(
                f"Your examination report: {claim}",
                _text(greeting, f"The examination report of your {claim} is available to you."),
            )
        case Template.WITHDRAWAL_NOTICE | Template.CANCELLATION_NOTICE:
            return Letter(
                f"Your {claim} is closed",
                _text(
                    greeting, f"Your {claim} has been withdrawn; no examination will take place."
                ),
            )
        case Template.NON_COOPERATION_NOTICE:
            return Letter(
                f"Your {claim} is closed",
                _text(
                    greeting,
                    f"Your {claim} is closed because the examinations were missed.",
                    f"You may ask {contact} how to appeal.",
                ),
            )
        case _:
            return Letter(f"Update on {claim}", _text(greeting, f"There is an update on {claim}."))


def plain_text(blocks: Iterable[Block]) -> str:
    """Paragraphs apart by a blank line; a list's items one to a line."""
    chunks: list[str] = []
    previous: str | None = None
    for block in blocks:
        if block.kind == "item" and previous == "item":
            chunks[-1] += f"\n- {block.text}"
        else:
            chunks.append(f"- {block.text}" if block.kind == "item" else block.text)
        previous = block.kind
    return "\n\n".join(chunks) + "\n"


def _html(blocks: Iterable[Block]) -> str:
    parts: list[str] = []
    in_list = False
    for block in blocks:
        if in_list and block.kind != "item":
            parts.append("</ul>")
            in_list = False
        text = html.escape(block.text)
        if block.kind == "item":
            if not in_list:
                parts.append("<ul>")
                in_list = True
            parts.append(f"<li>{text}</li>")
        elif block.kind == "heading":
            parts.append(f"<h3>{text}</h3>")
        else:
            parts.append(f"<p>{text}</p>")
    if in_list:
        parts.append("</ul>")
    return "".join(parts)


def message(
    letter: Letter, *, sender: str, to: str, message_id: str, pdf: bytes | None = None
) -> EmailMessage:
    """The email of `letter`, with `pdf` (the same letter, `delivery.letter_pdf`) attached under
    the letter's document name. `message_id` is the delivery's own, the same on every retry (as
    a webhook's `webhook-id`): a mail sent again after a lost answer can be recognised as a
    repeat."""
    email = EmailMessage()
    email["Subject"] = letter.subject
    email["From"] = sender
    email["To"] = to
    email["Message-ID"] = message_id
    blocks = letter.blocks
    if pdf is not None:
        blocks = (*blocks, Block(f"This letter is attached as a PDF ({letter.document})."))
    email.set_content(plain_text(blocks))
    email.add_alternative(
        f"<!doctype html><html><body>{_html(blocks)}</body></html>", subtype="html"
    )
    if pdf is not None:
        email.add_attachment(
            pdf, maintype="application", subtype="pdf", filename=letter.document or "letter.pdf"
        )
    return email
