"""The appeal of a denial at the console, in real Chromium (the same `ClaimService.act` as the
API's actions): on a DEMO claim just denied (20 s to appeal, 20 s more to record it), ops see the
window on the claim page and record the appeal with the time the plan received it, in the claim's
zone; a reviewer who did not review the claim accepts the file on appeal; an insurer who did not
deny it upholds the denial with one of the profile's denial codes. axe passes on each page state;
screenshots kept."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from domain.names import Role
from domain.profiles import PROFILES
from tests.helpers.app import ApiHarness
from tests.helpers.browser import Person, checked, person, sign_in
from tests.helpers.temporal_cli import served
from tests.helpers.walk import post_action, wait_until, walk_to_review

INSURER = "acme-ins"


async def signed_in(browser: Browser, base: str, who: Person) -> Page:
    page = await browser.new_page()
    await sign_in(page, base, who)
    await page.wait_for_url(f"{base}/console/queue")
    return page


@pytest.mark.slow
async def test_ops_record_an_appeal_a_new_reviewer_accepts_it_and_the_insurer_upholds_it(
    api: ApiHarness, api_client: httpx.AsyncClient, browser: Browser
) -> None:
    claim, _ = await walk_to_review(api, INSURER)
    claim_id = claim["claim_id"]
    first_reviewer = await api.as_role(Role.REVIEWER)
    adjuster = await api.as_role(Role.INSURER, insurer=INSURER)
    ops, reviewer = await person(api, Role.OPS), await person(api, Role.REVIEWER)
    insurer = await person(api, Role.INSURER, insurer=INSURER)
    accepted = await post_action(first_reviewer, claim_id, "review", {"result": "accepted"})
    assert accepted.status_code == 200, accepted.text

    async with served(api) as base:
        # Everyone signed in first: the DEMO window is seconds long.
        ops_page = await signed_in(browser, base, ops)
        reviewer_page = await signed_in(browser, base, reviewer)
        insurer_page = await signed_in(browser, base, insurer)
        denial = {"outcome": "denied", "reason_code": "IME_NOT_RELATED"}
        decided = await post_action(adjuster, claim_id, "decision", denial)
        assert decided.status_code == 200, decided.text
        await wait_until(api_client, claim_id, lambda c: c["appeal"] is not None)

        await ops_page.goto(f"{base}/console/claims/{claim_id}")
        summary = ops_page.locator("#h-summary + dl")
        await expect(summary).to_contain_text("Window: the claimant may appeal until")
        form = ops_page.locator("form[aria-labelledby='act-appeal']")
        zone = ZoneInfo(PROFILES["DEMO"].timezone)
        # The second after the denial (the form takes whole seconds; never before the denial).
        denied_at = datetime.fromisoformat(decided.json()["decision"]["decided_at"])
        received = denied_at.replace(microsecond=0) + timedelta(seconds=1)
        await form.get_by_label("Received by the plan on").fill(
            received.astimezone(zone).strftime("%Y-%m-%dT%H:%M:%S")
        )
        await form.get_by_label("The claimant's reason").fill("new records from my physician")
        await checked(ops_page, "appeal-to-record")
        await form.get_by_role("button", name="Appeal").click()
        await ops_page.wait_for_url(f"{base}/console/claims/{claim_id}?done=appeal")
        await expect(summary).to_contain_text("Review; received")

        await reviewer_page.goto(f"{base}/console/claims/{claim_id}")
        review = reviewer_page.locator("form[aria-labelledby='act-review']")
        await review.get_by_label("The file as it stands goes to the decision on appeal").check()
        await checked(reviewer_page, "appeal-review")
        await review.get_by_role("button", name="Review").click()
        await reviewer_page.wait_for_url(f"{base}/console/claims/{claim_id}?done=review")

        await insurer_page.goto(f"{base}/console/claims/{claim_id}")
        decide = insurer_page.locator("form[aria-labelledby='act-appeal-decision']")
        await decide.get_by_label("Decision on appeal").select_option("upheld")
        await decide.get_by_label("Reason code").select_option("IME_NOT_RELATED")
        await checked(insurer_page, "appeal-to-decide")
        await decide.get_by_role("button", name="Appeal decision").click()
        await insurer_page.wait_for_url(f"{base}/console/claims/{claim_id}?done=appeal-decision")
        await expect(insurer_page.locator("#h-summary + dl")).to_contain_text(
            "Closed — Appeal upheld"
        )
        await checked(insurer_page, "appeal-upheld")
    final = await wait_until(api_client, claim_id, lambda c: c["outcome"] == "appeal_upheld")
    assert final["appeal"]["reason_code"] == "IME_NOT_RELATED"
