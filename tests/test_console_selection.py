"""The state's pick of the examiner at the console, in real Chromium (the same `ClaimService.act`
as the API's actions): on a represented CA-QME claim ops see that the state picks, record its
panel from the claim page, the insurer strikes for itself and ops strike for the claimant, each
from a form that names only the examiners left; the remaining QME is booked. axe passes on each
page state; screenshots kept. Ops' own pick (assign) is not offered on such a claim."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from domain.names import Role
from tests.helpers.app import ApiHarness
from tests.helpers.browser import Person, checked, person, sign_in
from tests.helpers.referrals import referral_payload
from tests.helpers.state_panel import CA_1, CA_2, CA_3, PANEL, add_third_ca_orthopedist
from tests.helpers.temporal_cli import served
from tests.helpers.walk import wait_until

INSURER = "acme-ins"


async def open_claim(page: Page, base: str, who: Person, claim_id: str) -> None:
    await sign_in(page, base, who)
    await page.wait_for_url(f"{base}/console/queue")
    await page.goto(f"{base}/console/claims/{claim_id}")


@pytest.mark.slow
async def test_ops_record_the_panel_and_each_side_strikes_at_the_console(
    api: ApiHarness, api_client: httpx.AsyncClient, browser: Browser, pool
) -> None:
    await add_third_ca_orthopedist(pool)
    insurer_api = await api.as_role(Role.INSURER, insurer=INSURER)
    body = referral_payload("CA-QME")
    body["claimant"]["represented"] = True
    created = await insurer_api.post("/v1/claims", json=body)
    assert created.status_code == 201, created.text
    claim_id = created.json()["claim_id"]
    await wait_until(api_client, claim_id, lambda c: c["selection"] is not None)
    ops = await person(api, Role.OPS)
    insurer = await person(api, Role.INSURER, insurer=INSURER)

    async with served(api) as base:
        page = await browser.new_page()
        await open_claim(page, base, ops, claim_id)
        summary = page.locator("#h-summary + dl")
        await expect(summary).to_contain_text(
            "The state's panel of three, each side striking one: Awaiting state"
        )
        await expect(page.get_by_role("heading", name="Assign", exact=True)).to_have_count(0)
        form = page.locator("form[aria-labelledby='act-record-state-panel']")
        await form.get_by_label("The state's reference").fill("QME-PANEL-77")
        for n, examiner in enumerate(PANEL, start=1):
            await form.get_by_label(f"Panel examiner {n}").select_option(examiner)
        await checked(page, "state-panel-to-record")
        await form.get_by_role("button", name="Record state panel").click()
        await page.wait_for_url(f"{base}/console/claims/{claim_id}?done=record-state-panel")
        await expect(summary).to_contain_text("Window (reference QME-PANEL-77)")
        await expect(page.get_by_role("heading", name="Panel window")).to_have_count(0)
        await expect(page.locator("#h-deadlines ~ div")).to_contain_text("Panel window")

        insurer_page = await browser.new_page()
        await open_claim(insurer_page, base, insurer, claim_id)
        strike = insurer_page.locator("form[aria-labelledby='act-strike']")
        choices = strike.get_by_label("Examiner to strike (for the insurer)")
        await expect(choices.locator("option")).to_have_text(PANEL)
        await choices.select_option(CA_2)
        await checked(insurer_page, "state-panel-insurer-strikes")
        await strike.get_by_role("button", name="Strike").click()
        await insurer_page.wait_for_url(f"{base}/console/claims/{claim_id}?done=strike")
        await expect(insurer_page.locator("#h-summary + dl")).to_contain_text(
            f"{CA_2} — struck by the insurer"
        )

        await page.reload()
        strike = page.locator("form[aria-labelledby='act-strike']")
        choices = strike.get_by_label("Examiner to strike (for the claimant)")
        await expect(choices.locator("option")).to_have_text([CA_1, CA_3])
        await choices.select_option(CA_3)
        await strike.get_by_role("button", name="Strike").click()
        await page.wait_for_url(f"{base}/console/claims/{claim_id}?done=strike")

        booked = await wait_until(api_client, claim_id, lambda c: c["appointment"] is not None)
        assert booked["examiner"]["id"] == CA_1
        await page.reload()
        await expect(summary).to_contain_text(f"{CA_1} — selected")
        await checked(page, "state-panel-selected")
    withdrawn = await insurer_api.post(
        f"/v1/claims/{claim_id}/actions/withdraw", json={"reason": "test done"}
    )
    assert withdrawn.status_code == 200, withdrawn.text
