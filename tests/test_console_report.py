"""The examiner's report in real Chromium: from the worklist the appointment is confirmed, the exam
recorded on the claim page (risk screen "none"), the report page opened from the worklist; each
referral question has its answer beside it, the report is filed and its signed PDF uploaded and
listed; the reviewer asks for an addendum, whose reasons the examiner reads word for word above
the form filled from version 1; the addendum is filed and its PDF uploaded. The API then gives
back exactly what was typed (versions, report body, documents). Every page axe-clean, kept as a
screenshot.

And without a browser, through the real app: another examiner gets 404 for the page and the
upload; an upload without the CSRF token is 403 and a renamed executable 415, nothing stored
either time; a report refused by the API's validation is 422 at the form, naming the field and
not the value.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from playwright.async_api import Browser, expect
from pypdf import PdfWriter

from documents_service import DocumentService
from domain.names import Role
from store.access_log import for_claim
from store.documents import PostgresDocumentStore
from tests.helpers.app import ApiHarness
from tests.helpers.browser import checked, person, sign_in
from tests.helpers.referrals import referral_payload
from tests.helpers.temporal_cli import served
from tests.helpers.walk import post_action, wait_until

pytestmark = pytest.mark.slow

QUESTIONS = [
    "Is the lumbar strain causally related to the lifting incident of 14 September?",
    "Has the claimant reached maximum medical improvement?",
    "What work can the claimant do now?",
]
ANSWERS_V1 = [
    "Yes, in part: the strain follows the lifting; the degeneration predates it.",
    "Yes, as of 1 December 2026.",
    "Sedentary work, no lifting over 10 kg.",
]
REASONS = [
    "Answer question 2 with the MRI of 3 March in view.",
    "State the impairment «by the AMA Guides, 6th edition» — verbatim check.",
]
ANSWER_2_V2 = "Yes, as of 1 December 2026; the MRI of 3 March shows no new change."
RECORDS_FILE = "mri-lumbar-2026-03-03.pdf"
REPORT_FILE = "ime-report-signed.pdf"
ADDENDUM_FILE = "ime-addendum-signed.pdf"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 200


def pdf_bytes(subject: str) -> bytes:
    """A small valid PDF (pypdf writes it): a blank page, `subject` in its metadata."""
    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    writer.add_metadata({"/Subject": subject})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def stored(pool: asyncpg.Pool, claim_id: str) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM documents WHERE claim_id = $1", claim_id)
    return count


async def test_an_examiner_files_the_report_and_its_addendum_with_their_pdfs(
    api: ApiHarness, browser: Browser
) -> None:
    insurer = await api.as_role(Role.INSURER, insurer="acme-ins")
    ops = await api.as_role(Role.OPS)
    reviewer = await api.as_role(Role.REVIEWER)
    created = await insurer.post("/v1/claims", json=referral_payload(questions=QUESTIONS))
    assert created.status_code == 201, created.text
    claim_id, number = created.json()["claim_id"], created.json()["claim_number"]
    records = pdf_bytes("records")
    sent = await ops.post(
        f"/v1/claims/{claim_id}/documents",
        data={"kind": "records"},
        files={"file": (RECORDS_FILE, records, "application/pdf")},
    )
    assert sent.status_code == 201, sent.text
    booked = await wait_until(insurer, claim_id, lambda c: c["appointment"] is not None)
    examiner_id = booked["examiner"]["id"]
    examiner = await person(api, Role.EXAMINER, examiner=examiner_id)
    examiner_key = await api.as_role(Role.EXAMINER, examiner=examiner_id)
    report_pdf, addendum_pdf = pdf_bytes("signed report"), pdf_bytes("signed addendum")
    async with served(api) as base:
        page = await browser.new_page()
        await sign_in(page, base, examiner)
        await page.wait_for_url(f"{base}/console/queue")

        # From the worklist: the appointment confirmed on the claim page.
        await page.get_by_role("link", name="Worklist").click()
        await (
            page.locator(f"#to-confirm tr[data-claim='{claim_id}']")
            .get_by_role("link", name=number)
            .click()
        )
        await page.get_by_role("button", name="Confirm appointment").click()
        await page.wait_for_url(f"{base}/console/claims/{claim_id}?done=confirm-appointment")

        # The exam, once its time has come: attended, risk screen "none".
        starts = datetime.fromisoformat(booked["appointment"]["starts_at"])
        await asyncio.sleep(max(0.0, (starts - datetime.now(UTC)).total_seconds()) + 0.5)
        await page.get_by_label("Attended", exact=True).check()
        await page.get_by_label("Risk screen").select_option("none")
        await page.get_by_role("button", name="Exam", exact=True).click()
        await page.wait_for_url(f"{base}/console/claims/{claim_id}?done=exam")
        await checked(page, "report-claim-examined")

        # The report page from the worklist's "reports due": each question beside its answer.
        await page.get_by_role("link", name="Worklist").click()
        due = page.locator(f"#reports-due tr[data-claim='{claim_id}']")
        await checked(page, "report-worklist-due")
        await due.get_by_role("link", name=f"Write the report for {number}").click()
        await page.wait_for_url(f"{base}/console/claims/{claim_id}/report")
        await expect(page.locator(".qa label")).to_have_text(
            [f"Question {n} {q}" for n, q in enumerate(QUESTIONS, start=1)]
        )
        await expect(page.locator("#records a")).to_have_text([RECORDS_FILE])
        async with page.expect_download() as downloading:  # the records, as the insurer sent them
            await page.get_by_role("link", name=RECORDS_FILE).click()
        download = await downloading.value
        assert download.suggested_filename == RECORDS_FILE
        assert Path(await download.path()).read_bytes() == records
        for n, answer in enumerate(ANSWERS_V1, start=1):
            await page.get_by_label(f"Question {n}").fill(answer)
        await page.get_by_label("Diagnoses").fill("Lumbar strain\nLumbar degenerative disc disease")
        await page.get_by_label("Causation").select_option("partially_related")
        await page.get_by_label("Yes", exact=True).check()
        await page.get_by_label("MMI date").fill("2026-12-01")
        await page.get_by_label("Impairment").fill("8")
        await page.get_by_label("Work restrictions").fill("No lifting over 10 kg.")
        await page.get_by_label("Further treatment").fill("Physiotherapy, 6 sessions.")
        await page.get_by_label("Records reviewed").fill(f"{RECORDS_FILE}\nPhysiotherapy notes")
        await checked(page, "report-form")
        await page.get_by_role("button", name="File the report").click()
        await page.wait_for_url(f"{base}/console/claims/{claim_id}/report?done=report")
        await expect(page.get_by_role("status")).to_have_text("The report was filed.")
        await expect(page.locator("#versions tbody tr td").nth(2)).to_have_text("Submitted")

        # Its signed PDF, tied to version 1, listed once uploaded.
        await page.get_by_label("Signed report PDF for version 1").set_input_files(
            {"name": REPORT_FILE, "mimeType": "application/pdf", "buffer": report_pdf}
        )
        await page.get_by_role("button", name="Upload").click()
        await page.wait_for_url(f"{base}/console/claims/{claim_id}/report?done=upload")
        signed = page.locator("#signed-pdfs tbody tr")
        await expect(signed).to_have_count(1)
        await expect(signed.locator("td").nth(0)).to_have_text("Report PDF")
        await expect(signed.locator("td").nth(1)).to_have_text("1")
        await expect(signed.locator("td").nth(2)).to_have_text(REPORT_FILE)
        await checked(page, "report-filed")

        # The reviewer asks for an addendum; its reasons, word for word, above the form.
        review = {"result": "addendum_requested", "reasons": REASONS}
        sent_back = await post_action(reviewer, claim_id, "review", review)
        assert sent_back.status_code == 200, sent_back.text
        await page.get_by_role("link", name="Worklist").click()
        asked = page.locator(f"article[data-claim='{claim_id}']")
        await checked(page, "report-worklist-addendum")
        await asked.get_by_role("link", name=f"Write the addendum for {number}").click()
        await expect(page.locator(".sent-back ul.reasons li")).to_have_text(REASONS)
        for n, answer in enumerate(ANSWERS_V1, start=1):  # the form holds version 1
            await expect(page.get_by_label(f"Question {n}")).to_have_value(answer)
        await expect(page.get_by_label("Impairment")).to_have_value("8")
        await page.get_by_label("Question 2").fill(ANSWER_2_V2)
        await page.get_by_label("Impairment").fill("9.5")
        await checked(page, "report-addendum-asked")
        await page.get_by_role("button", name="File the addendum").click()
        await page.wait_for_url(f"{base}/console/claims/{claim_id}/report?done=report")
        await page.get_by_label("Signed addendum PDF for version 2").set_input_files(
            {"name": ADDENDUM_FILE, "mimeType": "application/pdf", "buffer": addendum_pdf}
        )
        await page.get_by_role("button", name="Upload").click()
        await page.wait_for_url(f"{base}/console/claims/{claim_id}/report?done=upload")
        signed = page.locator("#signed-pdfs tbody tr")
        await expect(signed.locator("td:nth-child(1)")).to_have_text(["Report PDF", "Addendum PDF"])
        await expect(signed.locator("td:nth-child(2)")).to_have_text(["1", "2"])
        await expect(signed.locator("td:nth-child(3)")).to_have_text([REPORT_FILE, ADDENDUM_FILE])
        await expect(page.locator("#versions tbody tr td:nth-child(3)")).to_have_text(
            ["Addendum requested", "Submitted"]
        )
        await checked(page, "report-addendum-filed")

    # What the API gives back is what was typed.
    got = (await examiner_key.get(f"/v1/claims/{claim_id}/report")).json()
    assert [(v["version"], v["kind"], v["status"]) for v in got["versions"]] == [
        (1, "report", "addendum_requested"),
        (2, "addendum", "submitted"),
    ]
    assert got["versions"][0]["addendum_reasons"] == REASONS
    assert got["report"] == {
        "diagnoses": ["Lumbar strain", "Lumbar degenerative disc disease"],
        "causation": "partially_related",
        "mmi_reached": True,
        "mmi_date": "2026-12-01",
        "impairment_percent": 9.5,
        "work_restrictions": "No lifting over 10 kg.",
        "further_treatment": "Physiotherapy, 6 sessions.",
        "answers": [ANSWERS_V1[0], ANSWER_2_V2, ANSWERS_V1[2]],
        "records_reviewed": [RECORDS_FILE, "Physiotherapy notes"],
    }
    listed = (await ops.get(f"/v1/claims/{claim_id}/documents")).json()
    assert [(d["kind"], d["filename"], d["report_version"], d["size"]) for d in listed] == [
        ("records", RECORDS_FILE, None, len(records)),
        ("report_pdf", REPORT_FILE, 1, len(report_pdf)),
        ("addendum_pdf", ADDENDUM_FILE, 2, len(addendum_pdf)),
    ]
    assert [d["sha256"] for d in listed[1:]] == [
        hashlib.sha256(report_pdf).hexdigest(),
        hashlib.sha256(addendum_pdf).hexdigest(),
    ]
    assert {d["uploaded_by"]["user_name"] for d in listed[1:]} == {examiner.name}
    # Each upload an access-log row with the person's account and the document's id; the
    # records download too.
    logged = [e.entry for e in await for_claim(api.pool, claim_id)]
    uploads = [
        (e.action, e.status, e.document_id, e.credential)
        for e in logged
        if e.route == "/console/claims/{claim_id}/documents"
    ]
    assert uploads == [
        ("document_upload", 200, listed[1]["id"], "console_session"),
        ("document_upload", 200, listed[2]["id"], "console_session"),
    ]
    downloads = [
        (e.status, e.document_id)
        for e in logged
        if e.route == "/console/claims/{claim_id}/documents/{doc_id}"
    ]
    assert downloads == [(200, listed[0]["id"])]
    account = await api.pool.fetchval("SELECT id::text FROM users WHERE email = $1", examiner.email)
    assert {e.user_id for e in logged if e.route.startswith("/console/")} == {account}


async def test_the_report_page_and_the_upload_refuse_as_the_api_does(api: ApiHarness) -> None:
    insurer = await api.as_role(Role.INSURER, insurer="acme-ins")
    ops = await api.as_role(Role.OPS)
    created = await insurer.post("/v1/claims", json=referral_payload(questions=QUESTIONS))
    claim_id = created.json()["claim_id"]
    booked = await wait_until(insurer, claim_id, lambda c: c["appointment"] is not None)
    examiner_id = booked["examiner"]["id"]
    panel = (await ops.get("/v1/examiners")).json()
    other_id = next(e["id"] for e in panel if e["id"] != examiner_id)
    transport = httpx.ASGITransport(app=api.app)
    async with contextlib.AsyncExitStack() as stack:

        async def console(examiner: str) -> tuple[httpx.AsyncClient, str]:
            someone = await person(api, Role.EXAMINER, examiner=examiner)
            new = await api.app.state.accounts.sign_in(
                someone.email, someone.password, someone.code(), None
            )
            http = httpx.AsyncClient(
                transport=transport, base_url="http://console", follow_redirects=False,
                cookies={"ime_console": new.token},  # the development cookie's name
            )  # fmt: skip
            return await stack.enter_async_context(http), new.session.csrf_token

        # The questions as the API gives them: to the report's readers of the claim, in order.
        questions = f"/v1/claims/{claim_id}/questions"
        mine = await (await api.as_role(Role.EXAMINER, examiner=examiner_id)).get(questions)
        assert mine.json() == {"claim_id": claim_id, "questions": QUESTIONS}
        assert (await insurer.get(questions)).json()["questions"] == QUESTIONS
        theirs = await (await api.as_role(Role.EXAMINER, examiner=other_id)).get(questions)
        assert theirs.status_code == 404

        assigned, csrf = await console(examiner_id)
        other, other_csrf = await console(other_id)
        page = await assigned.get(f"/console/claims/{claim_id}/report")
        assert page.status_code == 200
        assert all(q in page.text for q in QUESTIONS)

        def upload(token: str | None, name: str, data: bytes) -> dict[str, Any]:
            fields = {"kind": "report_pdf", "return_to": "report"}
            return {
                "data": ({"csrf_token": token} if token else {}) | fields,
                "files": {"file": (name, data, "application/pdf")},
            }

        # Another examiner: the claim is not theirs (404), page and upload alike.
        assert (await other.get(f"/console/claims/{claim_id}/report")).status_code == 404
        path = f"/console/claims/{claim_id}/documents"
        refused = await other.post(path, **upload(other_csrf, "r.pdf", pdf_bytes("x")))
        assert refused.status_code == 404
        # Without the CSRF token (or with another session's): 403, nothing stored.
        missing = await assigned.post(path, **upload(None, "r.pdf", pdf_bytes("x")))
        assert missing.status_code == 403
        wrong = await assigned.post(path, **upload(other_csrf, "r.pdf", pdf_bytes("x")))
        assert wrong.status_code == 403
        # An executable named as a PDF: refused by its content (415), nothing stored.
        renamed = await assigned.post(path, **upload(csrf, "report.pdf", ELF))
        assert renamed.status_code == 415
        assert "the file is not a type accepted here" in renamed.text
        assert await stored(api.pool, claim_id) == 0

        # Over the size limit (64 KiB here): the body streams through to the document service,
        # which refuses it (413) with the API's words after 64 KiB; a buffered console form
        # would have met the boundary's 16 MiB form limit first, with its own words.
        small = api.settings.model_copy(update={"max_document_bytes": 64 * 1024})
        sealed = PostgresDocumentStore(api.pool, api.app.state.sealer)
        api.app.state.documents = DocumentService(api.pool, sealed, small)
        assert api.settings.max_form_bytes == 16 * 1_048_576
        boundary = "reportboundary"
        part = f"--{boundary}\r\nContent-Disposition: form-data; name="
        fields = (("csrf_token", csrf), ("kind", "report_pdf"), ("return_to", "report"))
        head = "".join(f'{part}"{name}"\r\n\r\n{value}\r\n' for name, value in fields)
        head += f'{part}"file"; filename="big.pdf"\r\n\r\n'
        pulled: list[int] = []  # the pieces of the body the app asked for

        async def big() -> AsyncIterator[bytes]:
            yield head.encode() + pdf_bytes("big")
            for piece in range(17 * 16):  # 17 MiB, no Content-Length
                pulled.append(piece)
                yield b"\n" * 65536
            yield f"\r\n--{boundary}--\r\n".encode()

        multipart = {"content-type": f"multipart/form-data; boundary={boundary}"}
        too_large = await assigned.post(path, content=big(), headers=multipart)
        assert too_large.status_code == 413
        assert len(pulled) <= 2  # read no further than the limit: not 17 MiB into memory
        assert "the file is larger than 65536 bytes" in too_large.text
        assert await stored(api.pool, claim_id) == 0
        refusals = [
            (e.entry.status, e.entry.document_id)
            for e in await for_claim(api.pool, claim_id)
            if e.entry.route == "/console/claims/{claim_id}/documents"
        ]
        assert refusals == [(403, None), (403, None), (415, None), (413, None)]

        # A report the API refuses (422): said at the form, naming the field, not the value.
        form = {"csrf_token": csrf, "answer": ["a", "b", "c"], "impairment_percent": "zz-9qx"}
        bad = await assigned.post(f"/console/claims/{claim_id}/report", data=form)
        assert bad.status_code == 422
        error = bad.text.split('id="report-error">', 1)[1].split("</p>", 1)[0]
        assert "impairment_percent" in error and "zz-9qx" not in error
