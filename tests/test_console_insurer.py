"""The insurer's day in real Chromium against the real app on loopback, the dev server, a worker
and Postgres: two DEMO claims walked to DECISION through the API (the examiner's signed report
PDF uploaded by the examiner's key). The adjuster registers a webhook to a receiver on loopback
(the secret shown once, then rotated), finds the claim with the claims filters, reads the report
beside the referral's questions, uploads the claim's records from the claim page, downloads the
report PDF (byte-identical), denies with a reason code and notes, and sees the webhook's failed
deliveries and sends one again. A supervisor of the same insurer sees the other claim on the team
page once its decision deadline has passed. Every page axe-clean and kept as a screenshot.

Without a browser: another insurer's claim and webhook are 404 on every console page, an adjuster
gets 403 for the team page, and a webhook URL the API refuses is refused by the console in the
API's words."""

from __future__ import annotations

import asyncio
import hashlib
import html
import io
import re
import sys

import httpx
import pyotp
import pytest
from playwright.async_api import Browser, expect
from pypdf import PdfWriter

from delivery.channels import SEND_TIMEOUT, Channels
from delivery.relay import Relay
from domain.errors import InvalidInput
from domain.names import Role
from settings import PROJECT_ROOT
from tests.helpers.app import ApiHarness
from tests.helpers.browser import (
    Person,
    checked,
    person,
    sign_in,
)
from tests.helpers.config import TEST_SEALER
from tests.helpers.probes import person_log
from tests.helpers.processes import service_env
from tests.helpers.receivers import WebhookReceiver, serving
from tests.helpers.referrals import referral_payload
from tests.helpers.temporal_cli import served
from tests.helpers.walk import post_action, walk_to_review

pytestmark = pytest.mark.slow
INSURER = "acme-ins"  # the sample referral's
REFUSED = (
    "the URL's host resolves to a loopback, private, link-local, reserved or IPv4-embedding address"
)


def pdf(subject: str) -> bytes:
    """A small valid PDF (pypdf writes it), told apart by its metadata."""
    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    writer.add_metadata({"/Subject": subject})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def upload(http: httpx.AsyncClient, claim_id: str, kind: str, data: bytes, **fields: str):
    return await http.post(
        f"/v1/claims/{claim_id}/documents",
        data={"kind": kind, **fields},
        files={"file": ("signed.pdf", data, "application/pdf")},
    )


async def to_decision(api: ApiHarness, report_pdf: bytes) -> tuple[str, str]:
    """A DEMO claim of acme-ins walked to DECISION through the API: booked, confirmed, examined,
    the report filed and its signed PDF uploaded by the examiner's key, accepted."""
    reviewer = await api.as_role(Role.REVIEWER)
    claim, examiner = await walk_to_review(api, INSURER)
    claim_id, number = claim["claim_id"], claim["claim_number"]
    signed = await upload(examiner, claim_id, "report_pdf", report_pdf, report_version="1")
    assert signed.status_code == 201, signed.text
    accepted = await post_action(reviewer, claim_id, "review", {"result": "accepted"})
    assert accepted.status_code == 200 and accepted.json()["stage"] == "DECISION", accepted.text
    return claim_id, number


async def test_an_insurers_day(api: ApiHarness, browser: Browser, tmp_path) -> None:
    report_pdf = pdf("the signed report")
    records_pdf = tmp_path / "records.pdf"
    records_pdf.write_bytes(pdf("the claimant's records"))
    adjuster = await person(api, Role.INSURER, insurer=INSURER, name="Ada Adjuster")
    supervisor = await person(api, Role.INSURER, insurer=INSURER, supervisor=True)
    # Both at once: the second's decision deadline (30 s in DEMO) passes during the day.
    (claim_id, number), (late_id, late_number) = await asyncio.gather(
        to_decision(api, report_pdf), to_decision(api, pdf("another report"))
    )
    receiver = WebhookReceiver(always_fail=True)  # every delivery fails: one is sent again
    stop = asyncio.Event()
    async with (
        serving(receiver.app()) as receiver_url,
        httpx.AsyncClient(timeout=SEND_TIMEOUT) as http,
        served(api) as base,
    ):
        relay = Relay(api.pool, TEST_SEALER, Channels(api.settings, http), api.settings)
        relaying = asyncio.create_task(relay.run(stop))
        try:
            page = await browser.new_page(accept_downloads=True)
            await sign_in(page, base, adjuster)
            await page.wait_for_url(f"{base}/console/queue")
            await expect(page.get_by_role("link", name="Team")).to_have_count(0)

            # A webhook: the secret shown once, then a new one on rotation.
            await page.get_by_role("link", name="Webhooks").click()
            await page.get_by_label("URL").fill(f"{receiver_url}/hook")
            await page.get_by_role("button", name="Register").click()
            first = await page.locator("#secret").inner_text()
            assert re.fullmatch(r"whsec_[A-Za-z0-9+/=]{40,}", first), first
            await checked(page, "insurer-webhook-secret")
            await page.get_by_role("link", name="Webhooks").click()
            await expect(page.locator("#secret")).to_have_count(0)
            assert first not in await page.content()
            hook_row = page.locator("#endpoints tbody tr")
            await expect(hook_row).to_have_count(1)
            await hook_row.get_by_role("button", name=re.compile("^Rotate secret")).click()
            second = await page.locator("#secret").inner_text()
            assert second.startswith("whsec_") and second != first
            await expect(page.locator("#new-secret")).to_contain_text("The new signing secret")

            # The claims filtered to the claim: by number and stage.
            await page.get_by_role("link", name="Claims").click()
            await expect(page.get_by_label("Insurer id")).to_have_count(0)  # their own only
            await page.get_by_label("Stage").select_option("DECISION")
            await page.get_by_label("Claim number").fill(number)
            await page.get_by_role("button", name="Show claims").click()
            rows = page.locator("table tbody tr")
            await expect(rows).to_have_count(1)
            await expect(rows.locator("td").nth(0)).to_have_text(number)
            await expect(rows.locator("td").nth(3)).to_have_text("Decision")
            await checked(page, "insurer-claims-filtered")

            # The claim as the insurer reads it: the report beside its questions, no deliveries.
            await rows.get_by_role("link", name=number).click()
            await page.wait_for_url(f"{base}/console/claims/{claim_id}")
            report = page.locator("section[aria-labelledby='h-report']")
            await expect(report.locator(".report-content")).to_contain_text("Related")
            answers = report.locator("ol.answers > li")
            await expect(answers.first.locator(".question")).not_to_be_empty()
            await expect(page.get_by_role("heading", name="Deliveries")).to_have_count(0)

            # Records uploaded from the page.
            await page.get_by_label("File (PDF, TIFF, JPEG, PNG or DOCX)").set_input_files(
                str(records_pdf)
            )
            await page.get_by_role("button", name="Upload records").click()
            await page.wait_for_url(f"{base}/console/claims/{claim_id}?done=upload")
            documents = page.locator("section[aria-labelledby='h-documents'] tbody tr")
            records_row = documents.filter(has_text="records.pdf")
            await expect(records_row).to_have_count(1)
            await expect(records_row.locator("td").nth(0)).to_have_text("Records")
            await expect(records_row.locator("td").nth(3)).to_have_text("Ada Adjuster (insurer)")
            await checked(page, "insurer-claim")

            # The report PDF, byte for byte.
            link = documents.filter(has_text="Report pdf").get_by_role("link")
            async with page.expect_download() as downloading:
                await link.click()
            saved = await (await downloading.value).path()
            digest = hashlib.sha256(saved.read_bytes()).hexdigest()
            assert digest == hashlib.sha256(report_pdf).hexdigest()

            # Denied, with a reason code and notes.
            decision = page.locator("form[aria-labelledby='act-decision']")
            await decision.get_by_label("Decision").select_option("denied")
            await decision.get_by_label("Reason code").select_option("IME_NOT_RELATED")
            await decision.get_by_label("Notes").fill("The IME does not support the claim.")
            await decision.get_by_role("button", name="Decision").click()
            await page.wait_for_url(f"{base}/console/claims/{claim_id}?done=decision")
            await expect(page.get_by_role("status")).to_have_text("Done: Decision.")
            await expect(page.locator("dl.facts").first).to_contain_text("Closed — Denied")
            await checked(page, "insurer-claim-denied")

            # The webhook's deliveries: failed at the receiver; one sent again.
            await page.get_by_role("link", name="Webhooks").click()
            await page.locator("#endpoints tbody tr").get_by_role("link").click()
            failed = page.locator("#deliveries tbody tr").filter(has_text="Failed")
            async with asyncio.timeout(20):
                while await failed.count() == 0:
                    await asyncio.sleep(0.3)
                    await page.reload()
            closed = page.locator("#deliveries tbody tr").filter(has_text="claim.closed")
            await expect(closed).to_have_count(1)
            await checked(page, "insurer-webhook-deliveries")
            await failed.first.get_by_role("button", name=re.compile("^Retry")).click()
            await expect(page.get_by_role("status")).to_have_text(
                "The delivery is sent again now, with a fresh retry period."
            )

            # The supervisor's team page: the other claim, once its decision is overdue.
            team = await browser.new_page()
            await sign_in(team, base, supervisor)
            await team.wait_for_url(f"{base}/console/queue")
            await team.get_by_role("link", name="Team").click()
            late = team.locator(f"#overdue-decisions tr[data-claim='{late_id}']")
            async with asyncio.timeout(40):
                while await late.count() == 0:
                    await asyncio.sleep(0.5)
                    await team.reload()
            await expect(late.locator("td").nth(0)).to_have_text(late_number)
            await expect(late.locator("td").nth(3)).to_have_text(re.compile(r"^\d+ seconds?$"))
            await expect(late.locator("td").nth(4)).to_have_text("None")
            # The decided claim is not there.
            await expect(team.locator(f"tr[data-claim='{claim_id}']")).to_have_count(0)
            await checked(page=team, name="insurer-team-overdue")
        finally:
            stop.set()
            await relaying


# --- without a browser ------------------------------------------------------------------------


async def console(api: ApiHarness, who: Person) -> tuple[httpx.AsyncClient, str]:
    """A client signed in at the console as `who` (the session's cookie), and its CSRF token."""
    new = await api.app.state.accounts.sign_in(who.email, who.password, who.code(), None)
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api.app),
        base_url="http://api",
        cookies={"ime_console": new.token},
    )
    return http, new.session.csrf_token


async def test_another_insurers_claim_and_webhook_are_not_found_on_every_page(
    api: ApiHarness,
) -> None:
    acme = await api.as_role(Role.INSURER, insurer=INSURER)
    created = await acme.post("/v1/claims", json=referral_payload("DEMO"))
    claim_id, number = created.json()["claim_id"], created.json()["claim_number"]
    records = await upload(acme, claim_id, "records", pdf("records"))
    assert records.status_code == 201, records.text
    doc_id = records.json()["id"]
    hook = await acme.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"})
    assert hook.status_code == 201, hook.text
    hook_id = hook.json()["id"]

    stranger = await person(api, Role.INSURER, insurer="other-ins")
    other, csrf = await console(api, stranger)
    async with other:
        for path in (
            f"/console/claims/{claim_id}",
            f"/console/claims/{claim_id}/documents/{doc_id}",
        ):
            assert (await other.get(path)).status_code == 404, path
        decide = {"csrf_token": csrf, "outcome": "approved", "reason_code": "X"}
        posted = await other.post(f"/console/claims/{claim_id}/actions/decision", data=decide)
        assert posted.status_code == 404
        sent = await other.post(
            f"/console/claims/{claim_id}/documents",
            data={"csrf_token": csrf, "kind": "records"},
            files={"file": ("r.pdf", pdf("theirs"), "application/pdf")},
        )
        assert sent.status_code == 404
        listed = await other.get("/console/claims", params={"claim_number": number})
        assert listed.status_code == 200 and "No claims." in listed.text
        assert (await other.get(f"/console/webhooks/{hook_id}")).status_code == 404
        for step in ("rotate", "delete"):
            answer = await other.post(
                f"/console/webhooks/{hook_id}/{step}", data={"csrf_token": csrf}
            )
            assert answer.status_code == 404, step
        listed_hooks = await other.get("/console/webhooks")
        assert listed_hooks.status_code == 200 and hook_id not in listed_hooks.text
    # Each refusal an access-log row with the person's account id.
    logged = await person_log(api.pool, stranger.email)
    webhook = "/console/webhooks/{webhook_id}"
    assert [row for row in logged if row[2] == 404] == [
        ("/console/claims/{claim_id}", None, 404),
        ("/console/claims/{claim_id}/documents/{doc_id}", "document_download", 404),
        ("/console/claims/{claim_id}/actions/decision", "decision", 404),
        ("/console/claims/{claim_id}/documents", "document_upload", 404),
        (webhook, None, 404),
        (webhook, "rotate_webhook_secret", 404),
        (webhook, "delete_webhook", 404),
    ]
    # Still there for its own insurer.
    assert [h["id"] for h in (await acme.get("/v1/webhooks")).json()] == [hook_id]


async def starter(database_url: str, *args: str, stdin: str = "") -> tuple[int, str]:
    """`python starter.py ARGS` as an operator runs it: (exit code, standard error)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "starter.py", *args, cwd=PROJECT_ROOT,
        env=service_env("127.0.0.1:1", database_url, "tq-insurer"),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(process.communicate(stdin.encode()), timeout=60)
    assert process.returncode is not None
    return process.returncode, err.decode()


async def test_the_team_page_is_a_supervisors_and_webhook_urls_are_checked_as_the_api_does(
    api: ApiHarness, database_url: str, tmp_path
) -> None:
    # A supervisor made with the CLI; the flag refused for any role but insurer.
    boss_person = Person(
        email="sue@example.org", password="correct horse battery staple", name="Sue",
        secret=pyotp.random_base32(), role=Role.INSURER,
    )  # fmt: skip
    secret_file = tmp_path / "totp"
    secret_file.write_text(boss_person.secret)
    create = ("users", "create", "--email", boss_person.email, "--name", "Sue", "--supervisor")
    code, err = await starter(
        database_url, *create, "--role", "insurer", "--insurer", INSURER,
        "--password-stdin", "--totp-secret-file", str(secret_file), stdin=boss_person.password,
    )  # fmt: skip
    assert code == 0, err
    assert "scope acme-ins (supervisor)" in err
    with pytest.raises(InvalidInput) as refused:
        await api.app.state.accounts.create_user(
            role=Role.OPS, email="o@example.org", name="O", insurer_id=None, examiner_id=None,
            by=None, supervisor=True,
        )  # fmt: skip
    assert refused.value.details == [
        {"field": "supervisor", "message": "only an insurer account may be one"}
    ]

    adjuster, adjuster_csrf = await console(api, await person(api, Role.INSURER, insurer=INSURER))
    boss, _ = await console(api, boss_person)
    ops, _ = await console(api, await person(api, Role.OPS))
    key = await api.as_role(Role.INSURER, insurer=INSURER)
    async with adjuster, boss, ops:
        assert (await adjuster.get("/console/team")).status_code == 403
        assert (await ops.get("/console/team")).status_code == 403
        shown = await boss.get("/console/team")
        assert shown.status_code == 200 and "No decision is overdue." in shown.text
        assert 'href="/console/team"' in shown.text
        assert 'href="/console/team"' not in (await adjuster.get("/console/webhooks")).text

        # Private and link-local addresses: refused by both doors alike.
        for url in (
            "https://10.1.2.3/hook",
            "http://169.254.169.254/latest",
            "https://192.168.0.9/x",
        ):
            by_api = await key.post("/v1/webhooks", json={"url": url})
            assert by_api.status_code == 422, url
            assert by_api.json()["error"]["message"] == "the webhook URL may not be called"
            assert by_api.json()["error"]["details"] == [{"field": "url", "message": REFUSED}]
            by_console = await adjuster.post(
                "/console/webhooks", data={"csrf_token": adjuster_csrf, "url": url}
            )
            assert by_console.status_code == 422, url
            said = html.unescape(by_console.text)
            assert f"the webhook URL may not be called (url: {REFUSED})" in said
            assert url not in said  # not echoed back
        # Without the CSRF token nothing is registered.
        forged = await adjuster.post("/console/webhooks", data={"url": "http://127.0.0.1:9/h"})
        assert forged.status_code == 403
        assert (await key.get("/v1/webhooks")).json() == []
