"""The claimant's letters (issue 18): each rendered to PDF and read back with pypdf, checked
against what it must say per profile, hand-written; never another claimant's data; and the
appointment notice sent through the dispatcher's relay to a real SMTP receiver with its PDF."""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import asyncpg
import httpx
import pytest
from pypdf import PdfReader

from delivery.channels import Channels
from delivery.letter_pdf import render
from delivery.mail import Addressee, Letter, letter, plain_text
from delivery.relay import Relay
from documents_service import DocumentService
from domain.ids import claim_id_for, workflow_id_for
from domain.models import ClaimReport, ClaimStatus, ExamReport, Notification
from domain.names import Recipient, Role, Template
from store import claims as claims_store
from store import outbox
from store.documents import PostgresDocumentStore
from tests.helpers.app import ApiHarness
from tests.helpers.config import TEST_SEALER, make_settings
from tests.helpers.processes import free_port
from tests.helpers.receivers import MailSink, text_of

CONTACT = "IME Claims support, +1-518-555-0142, help@ime-claims.example"
LETTERHEAD = "IME Claims"
# 14:30 UTC on a summer Tuesday: 10:30 in New York (EDT), 07:30 in Los Angeles (PDT).
STARTS = datetime(2026, 7, 14, 14, 30, tzinfo=UTC)
DATED = datetime(2026, 7, 1, 15, 0, tzinfo=UTC)

ZOE: dict[str, Any] = {
    "name": "Zoë Ñúñez",
    "email": "zoe@example.org",
    "address": {"line1": "7 Elm Street", "city": "Albany", "state": "NY", "postal_code": "12207"},
    "language": "es",
    "interpreter_needed": True,
}
LUKASZ: dict[str, Any] = {
    "name": "Łukasz Wróbel",
    "email": "lukasz@example.org",
    "address": {
        "line1": "40 Harbor Road",
        "line2": "Apt 3B",
        "city": "Buffalo",
        "state": "NY",
        "postal_code": "14201",
    },
    "language": "en",
    "interpreter_needed": False,
}


def status(
    jurisdiction: str,
    *,
    claim_number: str = "WC-2026-000123",
    examiner: str = "Dr. Amara Okafor",
    location: str = "IME Center, 12 Clinic Way, Albany, NY 12203",
    decision: dict[str, Any] | None = None,
) -> ClaimStatus:
    return ClaimStatus.model_validate(
        {
            "claim_id": f"c-{claim_number}",
            "workflow_id": f"ime-claim-c-{claim_number}",
            "insurer_id": "acme-ins",
            "claim_number": claim_number,
            "claim_type": "long_term_disability" if jurisdiction == "ERISA-LTD" else "workers_comp",
            "jurisdiction": jurisdiction,
            "stage": "CLOSED" if decision else "EXAM",
            "status": "closed" if decision else "open",
            "outcome": decision["outcome"] if decision else None,
            "examiner": {"id": "ex-1", "name": examiner, "specialty": "orthopedic_surgery"},
            "appointment": {
                "id": "ap-1",
                "starts_at": STARTS.isoformat(),
                "ends_at": STARTS.replace(hour=15).isoformat(),
                "location": location,
            },
            "decision": decision,
            "created_at": "2026-06-01T12:00:00+00:00",
            "updated_at": "2026-07-01T12:00:00+00:00",
        }
    )


def denied(code: str = "MED-NOT-RELATED-07") -> dict[str, Any]:
    return {"outcome": "denied", "reason_code": code, "decided_at": "2026-08-03T16:00:00+00:00"}


def pdf_text(pdf: bytes) -> str:
    """The PDF's text with its line breaks and spacing flattened (a line may wrap anywhere)."""
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() or "" for page in reader.pages).split())


def flat(text: str) -> str:
    return " ".join(text.split())


def compose(
    template: Template,
    claim: ClaimStatus,
    contact: dict[str, Any],
    details: dict[str, Any] | None = None,
    **extra: Any,
) -> tuple[Letter, str]:
    addressee = Addressee.from_contact(contact)
    written = letter(template, claim, details or {}, addressee, contact=CONTACT, now=DATED, **extra)
    return written, pdf_text(render(written, letterhead=LETTERHEAD))


def says_the_same(written: Letter, text: str) -> None:
    """Every paragraph of the email is in the PDF."""
    for paragraph in plain_text(written.blocks).split("\n"):
        assert flat(paragraph.removeprefix("- ")) in text, paragraph


WHAT_TO_BRING = (
    "Photo identification (a driver's licence, state ID card or passport).",
    "A list of the medicines you take, with their doses.",
    "Medical records and imaging (X-rays, MRI or CT scans, with their reports)",
    "Your glasses, contact lenses or hearing aids, if you use them.",
)
OBSERVER = "You may bring a person of your choosing to the examination"
INTERPRETER = "Your referral says you need an interpreter (Spanish)."


# --- the appointment notice ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("jurisdiction", "local_time", "observer"),
    [
        ("NY-WC", "Tuesday 14 July 2026 at 10:30 EDT", True),
        ("DEMO", "Tuesday 14 July 2026 at 10:30 EDT", True),
        ("ERISA-LTD", "Tuesday 14 July 2026 at 10:30 EDT", False),
        ("CA-QME", "Tuesday 14 July 2026 at 07:30 PDT", False),
    ],
)
def test_the_appointment_notice_says_when_where_who_what_to_bring_and_the_rights_granted(
    jurisdiction: str, local_time: str, observer: bool
):
    written, text = compose(Template.APPOINTMENT_NOTICE, status(jurisdiction), ZOE)
    # Letterhead, date, addressee (a name outside Latin-1 renders), what it is about.
    assert text.startswith(f"{LETTERHEAD} Questions: {CONTACT}")
    assert "1 July 2026 Zoë Ñúñez 7 Elm Street Albany, NY 12207" in text
    assert "Your medical examination for claim WC-2026-000123 Dear Zoë Ñúñez," in text
    # When (the exam's local time), where, and the examiner.
    assert f"When: {local_time} (local time at the place of the examination)." in text
    assert "Where: IME Center, 12 Clinic Way, Albany, NY 12203." in text
    assert "Examiner: Dr. Amara Okafor (orthopedic surgery)." in text
    for thing in WHAT_TO_BRING:
        assert thing in text
    # The rights: an observer only where the profile grants one; an interpreter as referred.
    assert (OBSERVER in text) is observer
    assert INTERPRETER in text
    # How to reschedule, with a contact a person answers.
    assert f"Contact {CONTACT} as soon as you can, and at least two business days before" in text
    assert "no-reply" not in text
    assert "Claim WC-2026-000123 - page 1 of 1" in text
    says_the_same(written, text)
    assert written.document == "appointment-notice.pdf"


def test_once_ops_booked_the_interpreter_the_notice_says_so():
    booked = {"interpreter_booked": True}
    written, text = compose(Template.APPOINTMENT_NOTICE, status("NY-WC"), ZOE, booked)
    assert INTERPRETER not in text
    assert (
        "An interpreter (Spanish) is booked for your examination. If you no longer need one, or "
        f"need another language, contact {CONTACT}."
    ) in text
    says_the_same(written, text)


def test_no_interpreter_line_unless_the_referral_asks_for_one():
    _, text = compose(Template.APPOINTMENT_NOTICE, status("NY-WC"), LUKASZ)
    assert "interpreter" not in text.lower()
    assert OBSERVER in text
    assert "Łukasz Wróbel 40 Harbor Road Apt 3B Buffalo, NY 14201" in text
    assert "Dear Łukasz Wróbel," in text


# --- the decision letter ------------------------------------------------------------------------


def test_an_erisa_denial_holds_what_29_cfr_2560_503_1_g_requires():
    written, text = compose(Template.DECISION_NOTICE, status("ERISA-LTD", decision=denied()), ZOE)
    assert written.document == "decision-letter.pdf"
    assert "on 3 August 2026: the claim is denied." in text
    # (g)(1)(i) the specific reason; (ii) the provisions relied on, the plan document governing.
    assert "The specific reason recorded for this decision is reason code MED-NOT-RELATED-07." in (
        text
    )
    assert "provisions of your benefit plan to which reason code MED-NOT-RELATED-07 refers" in text
    assert "the plan document governs" in text
    # (iii) what else is needed and why.
    assert "send it with your appeal. It is needed because this decision rests on" in text
    # (iv) the appeal procedure and its time limits, and the right to sue after review.
    assert "You may appeal within 180 days after you receive this letter." in text
    assert f"Send your appeal in writing to {CONTACT}." in text
    assert "within 45 days after it is received" in text
    assert (
        "If your appeal is denied, you have the right to bring a civil action under section "
        "502(a) of the Employee Retirement Income Security Act of 1974 (ERISA)." in text
    )
    assert "free of charge" in text
    says_the_same(written, text)


def test_an_erisa_approval_and_other_profiles_get_a_plain_decision_letter():
    approved = {"outcome": "approved", "reason_code": "IME-SUPPORTS", "decided_at": "2026-08-03"}
    for claim in (
        status("ERISA-LTD", decision=approved | {"decided_at": "2026-08-03T16:00:00+00:00"}),
        status("NY-WC", decision=denied("NY-CAUSATION")),
        status("DEMO", decision=approved | {"decided_at": "2026-08-03T16:00:00+00:00"}),
    ):
        written, text = compose(Template.DECISION_NOTICE, claim, LUKASZ)
        assert claim.decision is not None
        assert f"the claim is {claim.decision.outcome}." in text
        assert f"Reason code: {claim.decision.reason_code}." in text
        assert CONTACT in text
        assert "502(a)" not in text and "180 days" not in text
        says_the_same(written, text)
    assert "If you disagree with this decision, contact" in text_of_ny_wc_denial()


def text_of_ny_wc_denial() -> str:
    return compose(Template.DECISION_NOTICE, status("NY-WC", decision=denied("X")), LUKASZ)[1]


# --- the claimant's copy of the report ----------------------------------------------------------

RESTRICTIONS = "No lifting over 20 lb; sitting breaks every 45 minutes."


def claim_report() -> ClaimReport:
    report = ExamReport.model_validate(
        {
            "diagnoses": ["Lumbar strain"],
            "causation": "related",
            "mmi_reached": True,
            "mmi_date": "2026-07-10",
            "impairment_percent": 5,
            "work_restrictions": RESTRICTIONS,
            "further_treatment": "Physical therapy for six weeks.",
            "answers": ["Yes, the lumbar condition is causally related.", "Yes, at MMI."],
            "records_reviewed": ["MRI lumbar spine 2026-03-02"],
        }
    )
    return ClaimReport(
        claim_id="c-1",
        version=1,
        kind="report",
        status="accepted",
        submitted_at=datetime(2026, 7, 16, 20, 0, tzinfo=UTC),
        versions=[],
        report=report,
    )


def test_the_claimants_copy_holds_the_report_itself_in_the_pdf_not_in_the_email_body():
    written, text = compose(Template.REPORT_COPY, status("NY-WC"), ZOE, report=claim_report())
    assert written.document == "examination-report.pdf"
    assert "as the examiner filed it on 16 July 2026" in text
    for part in (
        "Report of the independent medical examination",
        "Diagnoses • Lumbar strain",
        "In the examiner's opinion the condition is related to the injury or event of the claim.",
        "Maximum medical improvement Reached on 10 July 2026.",
        "5% permanent impairment.",
        RESTRICTIONS,
        "Physical therapy for six weeks.",
        "Question 1: Yes, the lumbar condition is causally related.",
        "MRI lumbar spine 2026-03-02",
    ):
        assert part in text, part
    assert "page 2 of 2" in text  # the report starts on a page of its own
    says_the_same(written, text)
    assert RESTRICTIONS not in plain_text(written.blocks)  # the email's body: a cover note


# --- never another claimant's data --------------------------------------------------------------


def test_two_claimants_letters_never_hold_each_others_data():
    mine = status("NY-WC", claim_number="WC-2026-AAAA", examiner="Dr. Ada One", location="1 A St")
    theirs = status("NY-WC", claim_number="WC-2026-BBBB", examiner="Dr. Bo Two", location="2 B St")
    of_mine = ("Zoë Ñúñez", "7 Elm Street", "WC-2026-AAAA", "Dr. Ada One", "1 A St", "Spanish")
    of_theirs = ("Łukasz Wróbel", "40 Harbor Road", "WC-2026-BBBB", "Dr. Bo Two", "2 B St")
    # Interleaved, so that nothing one rendering leaves behind reaches the next.
    texts = {}
    for template in (Template.APPOINTMENT_NOTICE, Template.REPORT_COPY):
        texts[("mine", template)] = compose(template, mine, ZOE, report=claim_report())[1]
        texts[("theirs", template)] = compose(template, theirs, LUKASZ, report=claim_report())[1]
    for (whose, template), text in texts.items():
        own: tuple[str, ...] = of_mine if whose == "mine" else of_theirs
        other = of_theirs if whose == "mine" else of_mine
        # A report copy names no examiner, place or interpreter: its claimant and claim only.
        own = own if template is Template.APPOINTMENT_NOTICE else own[:3]
        assert all(s in text for s in own), (whose, template, own)
        assert not any(s in text for s in other), (whose, template, other)


def test_the_pdf_properties_and_file_name_never_name_the_claimant():
    written = letter(
        Template.APPOINTMENT_NOTICE, status("NY-WC"), {}, Addressee.from_contact(ZOE), now=DATED
    )
    reader = PdfReader(io.BytesIO(render(written, letterhead=LETTERHEAD)))
    properties = str(dict(reader.metadata or {}))
    assert "Zoë" not in properties and "Ñúñez" not in properties
    assert written.document is not None and "z" not in written.document.lower()


# --- through the relay: the email carries the PDF -----------------------------------------------


@pytest.fixture
def mail() -> Iterator[MailSink]:
    with MailSink() as sink:
        yield sink


async def queue_appointment_notice(pool: asyncpg.Pool, claim: ClaimStatus) -> str:
    """The claim in the projection with Zoë's contact, and its appointment notice in the outbox
    (as the booking's transaction leaves them); the notification's key."""
    async with pool.acquire() as conn:
        created, _ = await claims_store.insert_new_claim(
            conn, claim, "letters-test", TEST_SEALER.seal_json(ZOE)
        )
        assert created
        async with conn.transaction():
            note = Notification(
                key=f"{claim.claim_id}:appointment-1:claimant",
                claim_id=claim.claim_id,
                recipient=Recipient.CLAIMANT,
                template=Template.APPOINTMENT_NOTICE,
                details={"examiner_id": "ex-1", "appointment_id": "ap-1"},
            )
            await outbox.enqueue_in(conn, [note], TEST_SEALER)
    return note.key


async def test_the_emailed_appointment_notice_carries_its_pdf(
    pool: asyncpg.Pool, database_url: str, mail: MailSink, caplog: pytest.LogCaptureFixture
):
    await queue_appointment_notice(pool, status("NY-WC", claim_number="WC-2026-LTR1"))
    settings = make_settings(database_url, "letters").model_copy(
        update={"smtp_port": mail.port, "claimant_contact": CONTACT}
    )
    caplog.set_level(logging.DEBUG)
    async with httpx.AsyncClient() as http:
        relay = Relay(pool, TEST_SEALER, Channels(settings, http), settings)
        assert await relay.tick() >= 1
        await relay.drain()

    (sent,) = mail.to(ZOE["email"])
    assert isinstance(sent, EmailMessage)
    (attachment,) = list(sent.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "appointment-notice.pdf"
    text = pdf_text(attachment.get_content())
    assert "Dear Zoë Ñúñez," in text and "7 Elm Street" in text
    assert "When: Tuesday 14 July 2026 at 10:30 EDT" in text
    assert OBSERVER in text and INTERPRETER in text
    assert f"Contact {CONTACT}" in text
    body = flat(text_of(sent))
    assert "When: Tuesday 14 July 2026 at 10:30 EDT" in body
    assert "This letter is attached as a PDF (appointment-notice.pdf)." in body
    # What the service logged (the relay, the PDF writer and its font library, at every level)
    # names the delivery, never the claimant. The SMTP receiver's own log (`mail.log`) is the
    # test's stand-in for a mail relay, which holds the message by nature.
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name != "mail.log")
    assert "delivered email appointment_notice" in logged
    assert not any(s in logged for s in ("Zoë", "Ñúñez", "Elm Street", "zoe@example.org"))


# --- on file: the letter sent is the claim's `letter` document ----------------------------------


def attached(message: object) -> bytes:
    assert isinstance(message, EmailMessage)
    (attachment,) = list(message.iter_attachments())
    content = attachment.get_content()
    assert isinstance(content, bytes)
    return content


async def test_the_letter_is_stored_once_before_it_is_sent_and_read_by_ops_and_the_insurer(
    api: ApiHarness, mail: MailSink
):
    pool = api.pool
    claim_id = claim_id_for("letters-test", "acme-ins", "WC-2026-LTR2")
    claim = status("NY-WC", claim_number="WC-2026-LTR2").model_copy(
        update={"claim_id": claim_id, "workflow_id": workflow_id_for(claim_id)}
    )
    key = await queue_appointment_notice(pool, claim)
    settings = api.settings.model_copy(update={"claimant_contact": CONTACT})
    stored = "SELECT id, kind, sha256, source_key, uploaded_by FROM documents WHERE claim_id = $1"
    async with httpx.AsyncClient() as http:
        # 1. The mail server is down: the send fails, the letter is on file already.
        down = settings.model_copy(update={"smtp_port": free_port()})
        relay = Relay(pool, TEST_SEALER, Channels(down, http), down)
        assert await relay.tick() == 1
        await relay.drain()
        assert mail.messages == []
        (first,) = await pool.fetch(stored, claim_id)
        assert first["kind"] == "letter" and first["source_key"] == key
        assert first["uploaded_by"] == {"role": "ops", "key_name": "ime-service"}
        # 2. The retry sends the letter on file (not a second rendering) and stores nothing more.
        await pool.execute(
            "UPDATE deliveries SET next_attempt_at = now() WHERE claim_id = $1", claim_id
        )
        up = settings.model_copy(update={"smtp_port": mail.port})
        relay = Relay(pool, TEST_SEALER, Channels(up, http), up)
        assert await relay.tick() == 1
        await relay.drain()
        # 3. And once more, as after an answer lost on the way back: still the one letter.
        await pool.execute(
            "UPDATE deliveries SET status = 'pending', next_attempt_at = now() WHERE claim_id = $1",
            claim_id,
        )
        assert await relay.tick() == 1
        await relay.drain()
    sent = [attached(m) for m in mail.to(ZOE["email"])]
    assert len(sent) == 2 and sent[0] == sent[1]
    pdf = sent[0]
    assert [dict(r) for r in await pool.fetch(stored, claim_id)] == [dict(first)]
    assert first["sha256"] == hashlib.sha256(pdf).hexdigest()

    # Two dispatchers writing the same notification's letter at once: one is kept, both get it.
    documents = DocumentService(pool, PostgresDocumentStore(pool, TEST_SEALER), settings)
    other = render(
        letter(Template.APPOINTMENT_NOTICE, claim, {}, Addressee.from_contact(ZOE), now=DATED),
        letterhead=LETTERHEAD,
    )
    assert other != pdf
    raced = await asyncio.gather(
        *(
            documents.store_letter(claim_id, "x.pdf", b, source_key=f"{key}:race")
            for b in (pdf, other)
        )
    )
    assert raced[0].id == raced[1].id
    assert (
        await pool.fetchval("SELECT count(*) FROM documents WHERE source_key = $1", f"{key}:race")
        == 1
    )

    # Listed and read by ops and the claim's insurer; not the examiner (who reads the claim).
    ops = await api.as_role(Role.OPS)
    insurer = await api.as_role(Role.INSURER, insurer="acme-ins")
    examiner = await api.as_role(Role.EXAMINER, examiner="ex-1")
    (listed, _) = (await ops.get(f"/v1/claims/{claim_id}/documents")).json()
    assert (listed["id"], listed["kind"], listed["filename"], listed["sha256"]) == (
        first["id"],
        "letter",
        "appointment-notice.pdf",
        first["sha256"],
    )
    download = f"/v1/claims/{claim_id}/documents/{first['id']}"
    for reader in (ops, insurer):
        answer = await reader.get(download)
        assert answer.status_code == 200 and answer.content == pdf
        assert answer.headers["content-type"] == "application/pdf"
    assert (await examiner.get(f"/v1/claims/{claim_id}")).status_code == 200
    assert (await examiner.get(download)).status_code == 404
    assert (await examiner.get(f"/v1/claims/{claim_id}/documents")).json() == []


def test_an_extension_notice_says_why_and_by_when_a_decision_is_now_expected():
    # 2035-12-15T14:00Z is Saturday 15 December 2035, 09:00 in New York (EST, UTC-5): ERISA's
    # periods are calendar days, not moved off a weekend.
    told = {
        "reason": "the examination is not yet held",
        "decision_due": "2035-12-15T14:00:00+00:00",
    }
    written, _ = compose(Template.DECISION_EXTENSION_NOTICE, status("ERISA-LTD"), ZOE, told)
    assert plain_text(written.blocks).split("\n\n")[1].strip() == (
        "The decision on your claim WC-2026-000123 is extended: the examination is not yet held. "
        "A decision is now expected by Saturday 15 December 2035 at 09:00 EST."
    )


def test_a_listed_reason_code_is_stated_in_its_profiles_words():
    ny = status("NY-WC", decision=denied("IME_NOT_RELATED"))
    _, text = compose(Template.DECISION_NOTICE, ny, LUKASZ)
    assert (
        "The independent medical examination found that your condition is not related to the "
        "injury or event claimed (reason code IME_NOT_RELATED)."
    ) in text
    erisa = status("ERISA-LTD", decision=denied("NOT_DISABLED_OWN_OCCUPATION"))
    _, text = compose(Template.DECISION_NOTICE, erisa, ZOE)
    assert (
        "The specific reason for this decision: the medical evidence, including the independent "
        "medical examination, does not show that you are unable to perform the material duties "
        "of your own occupation, as the plan defines disability (reason code "
        "NOT_DISABLED_OWN_OCCUPATION)."
    ) in text


# --- the appeal of a denial ---------------------------------------------------------------------


def appealed(outcome: str | None = None, code: str = "") -> ClaimStatus:
    """An ERISA-LTD claim denied 3 Aug 2026, appealed (received 1 Sep 2026), decided or not."""
    claim = status("ERISA-LTD", decision=denied("NOT_DISABLED_OWN_OCCUPATION"))
    appeal: dict[str, Any] = {
        "phase": "decided" if outcome else "review",
        "window_ends": "2027-01-30T16:00:00+00:00",
        "received_at": "2026-09-01T14:00:00+00:00",
    }
    if outcome:
        appeal |= {"outcome": outcome, "reason_code": code, "decided_at": "2026-10-05T16:00:00Z"}
    return ClaimStatus.model_validate(claim.model_dump(mode="json") | {"appeal": appeal})


def test_the_appeal_is_acknowledged_with_how_it_is_reviewed_and_when_it_is_decided():
    details = {"decision_due": "2026-10-16T14:00:00+00:00"}
    written, text = compose(Template.APPEAL_RECEIVED_NOTICE, appealed(), ZOE, details)
    assert written.document == "appeal-received.pdf"
    assert "We received your appeal of the decision to deny your claim WC-2026-000123 on 1 " in (
        text
    )
    assert "September 2026." in text
    # (h)(3)(ii)-(v): who reviews it, without deference; a professional not consulted before.
    assert "someone who did not make the first decision and is not that person's subordinate" in (
        text
    )
    assert "an examiner who has not examined you" in text
    # (i)(1)(i): decided within 45 days of the receipt; the date in the claim's zone (EDT).
    assert "A decision on your appeal is due by Friday 16 October 2026 at 10:00 EDT." in text
    says_the_same(written, text)


def test_an_upheld_erisa_denial_on_appeal_says_why_and_that_the_claimant_may_sue():
    claim = appealed("upheld", "NOT_DISABLED_OWN_OCCUPATION")
    written, text = compose(Template.APPEAL_DECISION_NOTICE, claim, ZOE)
    assert written.document == "appeal-decision.pdf"
    assert "was decided on 5 October 2026: the decision to deny your claim is upheld." in text
    assert "unable to perform the material duties of your own occupation" in text
    assert "(reason code NOT_DISABLED_OWN_OCCUPATION)" in text
    # (j)(3): the file free of charge; (j)(4): the right to sue under 502(a).
    assert "You may ask, free of charge, for copies of all documents" in text
    assert (
        "You have the right to bring a civil action under section 502(a) of the Employee "
        "Retirement Income Security Act of 1974 (ERISA)." in text
    )
    says_the_same(written, text)


def test_an_overturned_denial_says_the_claim_is_approved_and_why():
    written, text = compose(
        Template.APPEAL_DECISION_NOTICE, appealed("overturned", "MEETS_DEFINITION"), ZOE
    )
    assert "the decision to deny your claim is overturned, and your claim is approved." in text
    assert "meet the plan's definition of disability (reason code MEETS_DEFINITION)" in text
    assert "civil action" not in text
    says_the_same(written, text)
