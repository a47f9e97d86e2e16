"""The reviewer's portal in real Chromium against the real app, the dev server, a worker and
Postgres: a DEMO claim walked to REVIEW through the API with its report PDF uploaded by the
examiner; the reviewer opens Reviews, sees the claim with its time left, opens it, sees each
referral question beside its answer and the QA checklist, downloads the PDF (byte-identical),
asks for an addendum with two reasons (the examiner gets them word for word), is told at the form
in the API's words once the addendum limit is reached, and accepts: the claim moves to DECISION.
Every page axe-clean (WCAG 2.1 AA) and kept as a screenshot.

Without a browser: who may open the pages (the nav item and the answer, as the API answers the
same person's key), a claim outside review (404 as the API, 409 once past it), the CSRF check,
and a senior reviewer's account made with `starter.py users create`. The queue's order and the
checklist's words, from hand-written reports and deadlines."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pyotp
import pytest
from markupsafe import escape
from playwright.async_api import Browser, expect
from pypdf import PdfWriter

from console.review_view import checklist, queue_order, reasons_of, time_left
from domain.models import ClaimStatus, Deadline, ExamReport
from domain.names import DeadlineName, Role, Stage
from settings import PROJECT_ROOT
from store.access_log import for_claim
from tests.helpers.app import ApiHarness
from tests.helpers.browser import checked, person, sign_in
from tests.helpers.processes import service_env
from tests.helpers.referrals import complete_report, referral_payload
from tests.helpers.temporal_cli import served
from tests.helpers.walk import post_action, wait_until, walk_to_review

# The questions of the sample referral and the answers of the sample report (domain.examples),
# as the reviewer reads them.
QUESTIONS = [
    "1. Is the lumbar condition causally related to the incident?",
    "2. Is the claimant at MMI?",
]
ANSWERS = ["Yes, causally related.", "Yes, MMI reached."]
REASONS = [
    "Answer question 2 with the reasoning on MMI.",
    "Cite the MRI of 20 September — «Zürich» reading, word for word.",
]
PASSED = [
    "Passed Every referral question answered",
    "Passed A causation opinion",
    "Passed Maximum medical improvement stated, with its date when reached",
    "Passed An impairment rating (0 to 100 percent) when MMI is reached",
    "Passed Work restrictions stated",
    "Passed The records reviewed listed",
]
LIMIT = "the addendum limit (2) is reached; accept the report or escalate to operations"
TIME_LEFT = re.compile(r"^(\d+ (min|h|days) left|overdue by \d+ (min|h|days))$")
COOKIE = "ime_console"  # the development name (`console.session.session_cookie`)


def pdf_bytes(subject: str) -> bytes:
    """A small valid PDF (pypdf writes it), told apart by its metadata."""
    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    writer.add_metadata({"/Subject": subject})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def upload_pdf(
    http: httpx.AsyncClient, claim_id: str, kind: str, version: int, data: bytes, name: str
) -> str:
    answer = await http.post(
        f"/v1/claims/{claim_id}/documents",
        data={"kind": kind, "report_version": str(version)},
        files={"file": (name, data, "application/pdf")},
    )
    assert answer.status_code == 201, answer.text
    document_id: str = answer.json()["id"]
    return document_id


@contextlib.asynccontextmanager
async def console_of(api: ApiHarness, token: str | None) -> AsyncIterator[httpx.AsyncClient]:
    """The console as a person's browser reaches it (their session cookie), without Chromium."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api.app),
        base_url="http://console",
        follow_redirects=False,
        cookies={COOKIE: token} if token else None,
    ) as http:
        yield http


@pytest.mark.slow
async def test_a_reviewers_day(api: ApiHarness, browser: Browser) -> None:
    insurer = await api.as_role(Role.INSURER, insurer="acme-ins")
    reviewer_key = await api.as_role(Role.REVIEWER)
    claim, examiner = await walk_to_review(api)
    claim_id, number = claim["claim_id"], claim["claim_number"]
    signed = pdf_bytes("signed report v1")
    await upload_pdf(examiner, claim_id, "report_pdf", 1, signed, "report-v1.pdf")
    reviewer = await person(api, Role.REVIEWER, name="Rita Reviewer")

    async with served(api) as base:
        page = await browser.new_page()
        await sign_in(page, base, reviewer)
        await page.wait_for_url(f"{base}/console/queue")
        take = page.get_by_role("button", name="Take this Report to review item")
        await expect(take).to_have_count(1)  # the claim's item in the reviewers' queue
        await page.get_by_role("link", name="Reviews").click()
        await page.wait_for_url(f"{base}/console/reviews")
        row = page.locator(f"#reviews tr[data-claim='{claim_id}']")
        await expect(row.locator("td").nth(5)).to_have_text("Nobody")
        await page.get_by_role("link", name="Work queue").click()
        await take.click()
        await page.get_by_role("link", name="Reviews").click()
        await expect(row.locator("td")).to_have_count(6)
        await expect(row.locator("td").nth(0)).to_have_text(number)
        await expect(row.locator("td").nth(1)).to_have_text("DEMO")
        await expect(row.locator("td").nth(2)).to_have_text("1")
        await expect(row.locator("td").nth(4)).to_have_text(TIME_LEFT)
        await expect(row.locator("td").nth(5)).to_have_text("you")
        await checked(page, "reviews-queue")

        # The report beside the checklist; the PDF downloads as the examiner sent it.
        await row.get_by_role("link", name=number).click()
        await page.wait_for_url(f"{base}/console/reviews/{claim_id}")
        await expect(page.locator("#answers tbody th")).to_have_text(QUESTIONS)
        await expect(page.locator("#answers tbody td")).to_have_text(ANSWERS)
        await expect(page.locator("#qa li")).to_have_text(PASSED)
        findings = page.locator("#findings dd")
        await expect(findings.nth(1)).to_have_text("Related")
        await expect(findings.nth(2)).to_have_text("Reached on 20 November 2026")
        await expect(findings.nth(3)).to_have_text("5 %")
        await expect(findings.nth(4)).to_have_text("no lifting over 20 lb")
        await expect(page.locator("#pdfs li")).to_have_count(1)
        async with page.expect_download() as downloading:
            await page.get_by_role("link", name="report-v1.pdf").click()
        download = await downloading.value
        assert download.suggested_filename == "report-v1.pdf"
        assert Path(await download.path()).read_bytes() == signed
        await checked(page, "review-report")

        # An addendum, with two reasons: the examiner gets them word for word.
        await page.get_by_label("Reasons, one a line").fill("\n".join(REASONS) + "\n\n")
        await page.get_by_role("button", name="Request an addendum").click()
        await page.wait_for_url(f"{base}/console/reviews?done=addendum_requested")
        await expect(page.locator(f"#reviews tr[data-claim='{claim_id}']")).to_have_count(0)
        report = (await examiner.get(f"/v1/claims/{claim_id}/report")).json()
        assert report["versions"][0]["addendum_reasons"] == REASONS
        assert (await examiner.get(f"/v1/claims/{claim_id}")).json()["stage"] == "REPORT"

        # Two addenda later (the second asked through the API) the limit is reached: the form
        # says so in the API's words; the reviewer accepts.
        for version in (2, 3):
            answer = await post_action(examiner, claim_id, "report", complete_report())
            assert answer.status_code == 200 and answer.json()["stage"] == "REVIEW", answer.text
            if version == 2:
                more = {"result": "addendum_requested", "reasons": ["One more look."]}
                assert (await post_action(reviewer_key, claim_id, "review", more)).is_success
        addendum = pdf_bytes("signed addendum v3")
        await upload_pdf(examiner, claim_id, "addendum_pdf", 3, addendum, "addendum-v3.pdf")
        await page.get_by_role("link", name="Reviews").click()
        await page.locator(f"#reviews tr[data-claim='{claim_id}']").get_by_role("link").click()
        await expect(page.get_by_role("heading", level=2).first).to_have_text(
            "The report: version 3 (addendum, submitted)"
        )
        await expect(page.locator("#pdfs li a")).to_have_text(["addendum-v3.pdf"])
        await page.get_by_label("Reasons, one a line").fill("Still unclear.")
        await page.get_by_role("button", name="Request an addendum").click()
        await expect(page.get_by_role("alert")).to_have_text(LIMIT)
        await expect(page.get_by_label("Reasons, one a line")).to_have_value("Still unclear.")
        versions = page.locator("#versions tbody tr")
        await expect(versions.nth(0).locator("td").nth(4).locator("li")).to_have_text(REASONS)
        await checked(page, "review-refused")
        await page.set_viewport_size({"width": 390, "height": 844})  # a phone
        await checked(page, "review-phone")

        await page.get_by_role("button", name="Accept the report").click()
        await page.wait_for_url(f"{base}/console/reviews?done=accepted")
        await expect(page.get_by_role("status")).to_have_text(
            "Done: the report is accepted; the claim goes on to the decision."
        )
        await checked(page, "reviews-after-accept")
    status = (await insurer.get(f"/v1/claims/{claim_id}")).json()
    assert (status["stage"], status["recommendation"]) == ("DECISION", "approve")

    # Past review: the page reads the report without forms; a review is refused (409) as the
    # API refuses it, in the same words.
    session = await api.app.state.accounts.sign_in(
        reviewer.email, reviewer.password, reviewer.code(ahead=1), None
    )
    async with console_of(api, session.token) as console:
        shown = await console.get(f"/console/reviews/{claim_id}")
        assert shown.status_code == 200
        assert "This claim is not waiting for a review (it is in the decision stage)" in shown.text
        form = {"csrf_token": session.session.csrf_token, "result": "accepted"}
        late = await console.post(f"/console/reviews/{claim_id}/actions/review", data=form)
        api_late = await post_action(reviewer_key, claim_id, "review", {"result": "accepted"})
        assert (late.status_code, api_late.status_code) == (409, 409)
        assert str(escape(api_late.json()["error"]["message"])) in late.text
    # Every read and the download: access-log rows with the reviewer's account id.
    rows = {
        (e.entry.route, e.entry.status)
        for e in await for_claim(api.pool, claim_id)
        if e.entry.user_id == session.session.caller.user_id
    }
    assert {
        ("/console/reviews/{claim_id}", 200),
        ("/console/claims/{claim_id}/documents/{doc_id}", 200),
        ("/console/reviews/{claim_id}/actions/review", 200),
        ("/console/reviews/{claim_id}/actions/review", 409),
    } <= rows


async def starter(database_url: str, *args: str, stdin: str = "") -> tuple[int, str, str]:
    """`python starter.py ARGS` as an operator runs it (no Temporal needed for accounts)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "starter.py", *args, cwd=PROJECT_ROOT,
        env=service_env("127.0.0.1:1", database_url, "tq-reviews"),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(stdin.encode()), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_who_may_open_the_reviews_pages(
    api: ApiHarness, database_url: str, tmp_path: Path
) -> None:
    # A senior reviewer's account, made as an operator makes one.
    secret = pyotp.random_base32()
    (tmp_path / "totp").write_text(secret)
    password = "correct horse battery senior"
    code, _, err = await starter(
        database_url, "users", "create", "--role", "senior_reviewer",
        "--email", "sera@example.test", "--name", "Sera Senior", "--password-stdin",
        "--totp-secret-file", str(tmp_path / "totp"), stdin=password + "\n",
    )  # fmt: skip
    assert code == 0, err
    code, out, err = await starter(database_url, "users", "list")
    assert code == 0, err
    assert re.search(r"sera@example\.test\s*│\s*Sera Senior\s*│\s*senior_reviewer", out), out

    insurer_api = await api.as_role(Role.INSURER, insurer="acme-ins")
    created = await insurer_api.post("/v1/claims", json=referral_payload("DEMO"))
    claim_id = created.json()["claim_id"]
    booked = await wait_until(insurer_api, claim_id, lambda c: c["appointment"] is not None)
    examiner_id = booked["examiner"]["id"]
    accounts = api.app.state.accounts
    sessions = {
        "senior_reviewer": await accounts.sign_in(
            "sera@example.test", password, pyotp.TOTP(secret).now(), None
        )
    }
    for name, role, scope in (
        ("reviewer", Role.REVIEWER, {}),
        ("insurer", Role.INSURER, {"insurer": "acme-ins"}),
        ("examiner", Role.EXAMINER, {"examiner": examiner_id}),
    ):
        someone = await person(api, role, **scope)
        sessions[name] = await accounts.sign_in(
            someone.email, someone.password, someone.code(), None
        )
    keys = {
        "senior_reviewer": await api.as_role(Role.SENIOR_REVIEWER),
        "reviewer": await api.as_role(Role.REVIEWER),
        "insurer": insurer_api,
        "examiner": await api.as_role(Role.EXAMINER, examiner=examiner_id),
    }
    # The claim is in SCHEDULING: no report yet, so reviewers do not read it (404, as the API);
    # the others' role may not open the pages at all (403), whatever the claim.
    expected = {
        "senior_reviewer": (True, 200, 404, 404),
        "reviewer": (True, 200, 404, 404),
        "insurer": (False, 403, 403, 403),
        "examiner": (False, 403, 403, 403),
    }
    for name, session in sessions.items():
        async with console_of(api, session.token) as console:
            queue = await console.get("/console/queue")
            listed = await console.get("/console/reviews")
            one = await console.get(f"/console/reviews/{claim_id}")
            form = {"csrf_token": session.session.csrf_token, "result": "accepted"}
            act = await console.post(f"/console/reviews/{claim_id}/actions/review", data=form)
            got = ('href="/console/reviews"' in queue.text, listed.status_code, one.status_code)
            assert (name, *got, act.status_code) == (name, *expected[name]), name
            api_act = await post_action(keys[name], claim_id, "review", {"result": "accepted"})
            assert (name, api_act.status_code) == (name, act.status_code)
            if listed.status_code == 200:  # the claim is not waiting for a review
                assert "No report is waiting for a review." in listed.text
            # Without the session's CSRF token nothing is read or done: 403.
            bare = await console.post(
                f"/console/reviews/{claim_id}/actions/review", data={"result": "accepted"}
            )
            assert bare.status_code == 403
    async with console_of(api, None) as anonymous:
        answer = await anonymous.get("/console/reviews")
        assert (answer.status_code, answer.headers["location"]) == (303, "/console/sign-in")


def _claim(number: str, due: datetime | None, *, breached: bool = False) -> ClaimStatus:
    at = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    deadlines = [Deadline(name=DeadlineName.REVIEW, due_at=due, breached=breached)] if due else []
    return ClaimStatus(
        claim_id=f"c-{number}", workflow_id=f"w-{number}", insurer_id="acme-ins",
        claim_number=number, claim_type="workers_comp", jurisdiction="DEMO",
        stage=Stage.REVIEW, status="open", deadlines=deadlines, created_at=at, updated_at=at,
    )  # fmt: skip


def test_the_queue_is_by_review_deadline_and_the_time_left_in_words() -> None:
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    claims = [
        _claim("WC-later", now + timedelta(days=3, hours=1)),
        _claim("WC-none", None),
        _claim("WC-overdue", now - timedelta(hours=5), breached=True),
        _claim("WC-soon", now + timedelta(minutes=30)),
        _claim("WC-older-overdue", now - timedelta(days=2)),
    ]
    ordered = [c.claim_number for c in queue_order(claims)]
    assert ordered == ["WC-older-overdue", "WC-overdue", "WC-soon", "WC-later", "WC-none"]
    left = [time_left(c.deadlines[0] if c.deadlines else None, now) for c in claims]
    assert left == ["3 days left", "—", "overdue by 5 h", "30 min left", "overdue by 2 days"]


def test_the_checklist_in_words_and_the_reasons_one_a_line() -> None:
    report = ExamReport.model_validate(
        complete_report() | {"causation": None, "answers": ["Yes.", "  "], "mmi_date": None}
    )
    shown = [(c.words, c.passed, c.findings) for c in checklist(report, ["Q1?", "Q2?"])]
    assert shown == [
        ("Every referral question answered", False, ["1 of 2 referral questions answered"]),
        ("A causation opinion", False, ["no causation opinion"]),
        (
            "Maximum medical improvement stated, with its date when reached",
            False,
            ["MMI reached but no MMI date"],
        ),
        ("An impairment rating (0 to 100 percent) when MMI is reached", True, []),
        ("Work restrictions stated", True, []),
        ("The records reviewed listed", True, []),
    ]
    # Without the referral's questions the answers are not checked (said so), the rest are.
    assert [c.passed for c in checklist(report, None)][:2] == [None, False]
    assert reasons_of("  First — «un»\r\n\r\nSecond\n") == ["First — «un»", "Second"]
    assert reasons_of(None) == []
