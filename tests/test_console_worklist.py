"""The examiner's worklist in real Chromium: an appointment to confirm with its deadline, confirmed
from the claim page, then among the exams to come; after the exam the report due; the reviewer's
addendum reasons shown word for word. Every page axe-clean, kept as a screenshot."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from playwright.async_api import Browser, expect

from delivery.mail import letter, plain_text
from domain.models import ClaimStatus
from domain.names import Role, Template
from tests.helpers.app import ApiHarness
from tests.helpers.browser import checked, person, sign_in
from tests.helpers.referrals import complete_report, referral_payload
from tests.helpers.temporal_cli import served
from tests.helpers.walk import post_action, wait_until

pytestmark = pytest.mark.slow
REASONS = ["Answer question 2 on causation.", "Cite the MRI of 3 March — «verbatim» check."]


async def test_an_examiners_worklist_day(api: ApiHarness, browser: Browser) -> None:
    insurer = await api.as_role(Role.INSURER, insurer="acme-ins")
    ops = await api.as_role(Role.OPS)
    reviewer = await api.as_role(Role.REVIEWER)
    created = await insurer.post("/v1/claims", json=referral_payload())
    claim_id = created.json()["claim_id"]
    number = created.json()["claim_number"]
    booked = await wait_until(insurer, claim_id, lambda c: c["appointment"] is not None)
    examiner_id = booked["examiner"]["id"]
    examiner = await person(api, Role.EXAMINER, examiner=examiner_id)
    examiner_key = await api.as_role(Role.EXAMINER, examiner=examiner_id)
    async with served(api) as base:
        page = await browser.new_page()
        await sign_in(page, base, examiner)
        await page.wait_for_url(f"{base}/console/queue")
        await page.get_by_role("link", name="Worklist").click()
        row = page.locator(f"#to-confirm tr[data-claim='{claim_id}']")
        await expect(row).to_have_count(1)
        await expect(row.locator("td").nth(0)).to_have_text(number)
        await expect(row.locator("td").nth(4)).not_to_have_text("—")  # the time left to confirm
        await checked(page, "worklist-to-confirm")

        # Confirmed from the claim page: now among the exams to come, on its day.
        await row.get_by_role("link", name=number).click()
        await page.get_by_role("button", name="Confirm appointment").click()
        await page.wait_for_url(f"{base}/console/claims/{claim_id}?done=confirm-appointment")
        await page.get_by_role("link", name="Worklist").click()
        await expect(page.locator(f"#to-confirm tr[data-claim='{claim_id}']")).to_have_count(0)
        await expect(page.locator(f"ul.exams li[data-claim='{claim_id}']")).to_have_count(1)
        await checked(page, "worklist-exams")

        # The exam is held; the report is due; sent back with the reviewer's reasons.
        status = (await insurer.get(f"/v1/claims/{claim_id}")).json()
        starts = datetime.fromisoformat(status["appointment"]["starts_at"])
        await asyncio.sleep(max(0.0, (starts - datetime.now(UTC)).total_seconds()) + 0.5)
        exam = {"attended": True, "risk_screen": {"level": "none"}}
        assert (await post_action(ops, claim_id, "exam", exam)).status_code == 200
        await page.reload()
        await expect(page.locator(f"#reports-due tr[data-claim='{claim_id}']")).to_have_count(1)
        report = await post_action(examiner_key, claim_id, "report", complete_report())
        assert report.status_code == 200, report.text
        review = {"result": "addendum_requested", "reasons": REASONS}
        sent_back = await post_action(reviewer, claim_id, "review", review)
        assert sent_back.status_code == 200, sent_back.text
        await page.reload()
        reasons = page.locator(f"article[data-claim='{claim_id}'] ul.reasons li")
        await expect(reasons).to_have_text(REASONS)
        await expect(page.locator(f"#reports-due tr[data-claim='{claim_id}']")).to_have_count(1)
        await checked(page, "worklist-addendum")
        # The same reasons, word for word, in the examiner's inbox item and their email.
        inbox = (await examiner_key.get("/v1/inbox", params={"kind": "addendum_request"})).json()
        assert [i["details"].get("reasons") for i in inbox if i["claim_id"] == claim_id] == [
            REASONS
        ]
        sealed = await api.app.state.pool.fetchval(
            "SELECT sealed_details FROM notification_outbox WHERE claim_id = $1"
            " AND template = 'addendum_request'",
            claim_id,
        )
        details = api.app.state.sealer.open_json(bytes(sealed))
        claim = ClaimStatus.model_validate((await ops.get(f"/v1/claims/{claim_id}")).json())
        email = plain_text(letter(Template.ADDENDUM_REQUEST, claim, details, "Dr. E").blocks)
        assert "\n- " + "\n- ".join(REASONS) + "\n" in email

        # The worklist is the examiner's: ops get 403 for it.
        assert (await post_action(ops, claim_id, "withdraw", {"reason": "done"})).status_code == 200
    ops_person = await person(api, Role.OPS)
    async with served(api) as base:
        other = await browser.new_page()
        await sign_in(other, base, ops_person)
        await other.wait_for_url(f"{base}/console/queue")
        answer = await other.goto(f"{base}/console/worklist")
        assert answer is not None and answer.status == 403
