"""The clinician's day in real Chromium (Debian's, driven by Playwright) against the real app on
loopback, the dev server, a worker and Postgres: two DEMO claims with an imminent safety concern,
one acknowledged already; the clinician sees the unacknowledged one first on the Safety cases
page, follows a referral to treatment up, then opens the other case from the link of its page
(the page as queued, sent through the real paging channel to a receiver on loopback),
acknowledges it (the claim stays held), is told inline that its duty-to-protect task must be
closed first, and resolves it once ops have (the hold lifts). Every page axe-clean (WCAG 2.1 AA)
and kept as a screenshot."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from playwright.async_api import Browser, expect

from delivery.channels import Channels
from domain.names import Role
from tests.helpers.app import ApiHarness
from tests.helpers.browser import checked, person, sign_in
from tests.helpers.probes import page_bodies, person_log
from tests.helpers.receivers import PagingReceiver, serving
from tests.helpers.referrals import referral_payload
from tests.helpers.temporal_cli import served
from tests.helpers.walk import post_action, wait_until

pytestmark = pytest.mark.slow


async def _claim(insurer: httpx.AsyncClient) -> tuple[str, dict]:
    """A DEMO claim, booked (a concern is raised on an open claim at any stage)."""
    referral = referral_payload("DEMO")
    created = await insurer.post("/v1/claims", json=referral)
    assert created.status_code == 201, created.text
    claim_id = created.json()["claim_id"]
    await wait_until(insurer, claim_id, lambda c: c["appointment"] is not None)
    return claim_id, referral


async def _first_page(api: ApiHarness, claim_id: str) -> dict:
    """The clinician's first page of the claim's case, as queued for the on-call tool."""
    async with asyncio.timeout(15):
        while True:
            for body in await page_bodies(api.pool, api.app.state.sealer, claim_id):
                if body["payload"]["component"] == "clinician":
                    return body
            await asyncio.sleep(0.1)


async def _sent(api: ApiHarness, body: dict, console: str) -> dict:
    """The page as the on-call tool receives it: through the relay's own channel, with the
    console reached at `console`."""
    pager = PagingReceiver()
    async with serving(pager.app()) as pager_url, httpx.AsyncClient() as http:
        settings = api.settings.model_copy(
            update={"paging_url": f"{pager_url}/v2/enqueue", "console_base_url": console}
        )
        await Channels(settings, http, webhooks=http).page("clinician", body)
    (event,) = pager.events
    return event


async def test_a_clinician_opens_the_case_from_its_page_acknowledges_and_resolves(
    api: ApiHarness, browser: Browser
) -> None:
    insurer = await api.as_role(Role.INSURER, insurer="acme-ins")
    ops_key = await api.as_role(Role.OPS)
    on_call = await api.as_role(Role.CLINICIAN)
    (older, _), (newer, referral) = await asyncio.gather(_claim(insurer), _claim(insurer))

    # The older claim: a moderate concern (a referral-to-treatment task), then an imminent one
    # that the on-call clinician acknowledges at once through the API.
    moderate = {"level": "moderate", "toward": "self", "notes": "finds things hard lately"}
    assert (await post_action(insurer, older, "safety-concern", moderate)).status_code == 200
    imminent = {"level": "imminent", "toward": "self", "notes": "stated a plan"}
    assert (await post_action(insurer, older, "safety-concern", imminent)).status_code == 200
    ack = await post_action(on_call, older, "safety-ack", {"clinician_id": "dr-on-call"})
    assert ack.status_code == 200, ack.text
    # The newer one: imminent, toward others (a duty-to-protect task for ops), paged later.
    toward_others = {"level": "imminent", "toward": "others", "notes": "named a coworker"}
    assert (await post_action(insurer, newer, "safety-concern", toward_others)).status_code == 200
    queued = await _first_page(api, newer)

    clinician = await person(api, Role.CLINICIAN, name="Casey Clinician")
    async with served(api) as base:
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        await sign_in(page, base, clinician)
        await page.wait_for_url(f"{base}/console/queue")
        await page.get_by_role("link", name="Safety cases").click()
        await page.wait_for_url(f"{base}/console/safety")

        # Unacknowledged pages first: the newer case above the older, acknowledged one (other
        # tests' cases may be listed too; every unacknowledged one comes before the rest).
        rows = page.locator("#cases tbody tr[data-case]")
        await expect(
            rows.filter(has=page.locator(f"a[href='/console/safety/{newer}']"))
        ).to_have_count(1)
        # Read in one go: the list refreshes itself every 5 s.
        listed = await page.eval_on_selector_all(
            "#cases tbody tr[data-case]",
            "rows => rows.map(r => [r.dataset.state, r.querySelector('a').getAttribute('href')])",
        )
        states = [state for state, _ in listed]
        assert states == sorted(states, key=lambda s: s != "paged"), states
        links = [href for _, href in listed]
        assert links.index(f"/console/safety/{newer}") < links.index(f"/console/safety/{older}")
        newer_row = rows.filter(has=page.locator(f"a[href='/console/safety/{newer}']"))
        await expect(newer_row).to_contain_text("Not acknowledged")
        await expect(newer_row).to_contain_text("toward others")
        await expect(newer_row).to_contain_text("Open")  # its duty-to-protect task
        await checked(page, "safety-cases")

        # The referral to treatment, followed up and marked done with a note.
        task = page.locator(f"#tasks tr:has(a[href='/console/safety/{older}'])")
        await expect(task).to_contain_text("finds things hard lately")
        await task.get_by_label("Note").fill("gave crisis resources; told the treating provider")
        await task.get_by_role("button", name="Mark done").click()
        await page.wait_for_url(f"{base}/console/safety?done=task")
        await expect(page.get_by_role("status")).to_have_text("Done: the task is marked done.")
        await expect(
            page.locator(f"#tasks tr:has(a[href='/console/safety/{older}'])")
        ).to_have_count(0)

        # The page carries a link straight to its case: the console's address and opaque ids,
        # nothing of the examinee, the claim number or the notes.
        event = await _sent(api, queued, base)
        (link,) = event["links"]
        assert link == {"href": f"{base}/console/safety/{newer}", "text": "Open the safety case"}
        sent = json.dumps(event)
        for phi in (referral["claimant"]["full_name"], referral["claim_number"], "coworker"):
            assert phi not in sent

        await page.goto(link["href"])
        case = page.locator("section[data-case]")
        await expect(case).to_have_attribute("data-state", "paged")
        await expect(case).to_contain_text("named a coworker")  # clinical detail, for clinicians
        await checked(page, "safety-case-paged")

        # Acknowledged: the re-pages stop, the claim stays held until it is resolved.
        await page.get_by_role("button", name="Acknowledge").click()
        await page.wait_for_url(f"{base}/console/safety/{newer}?done=safety-ack")
        await expect(page.get_by_role("status")).to_have_text("Done: the case is acknowledged.")
        await expect(case).to_have_attribute("data-state", "acknowledged")
        held = (await insurer.get(f"/v1/claims/{newer}")).json()
        assert held["safety_hold"] is True
        await expect(page.locator("ol.timeline")).to_contain_text(
            "Safety case acknowledged by Casey Clinician (clinician)"
        )

        # Resolving waits for the duty-to-protect task: said at the form, nothing done.
        await page.get_by_label("Warm hand-off to a crisis or treating provider").check()
        await page.get_by_label("Clinical notes").fill("handed over to the crisis team")
        await page.get_by_role("button", name="Resolve").click()
        await expect(page.get_by_role("alert")).to_contain_text("duty-to-protect task")
        await checked(page, "safety-case-refused")
        assert (await insurer.get(f"/v1/claims/{newer}")).json()["safety_hold"] is True

        # Ops warn and close the task; the same form then resolves the case and the hold lifts.
        duty = next(
            i
            for i in (
                await ops_key.get(
                    "/v1/inbox", params={"kind": "duty_to_protect_task", "limit": 500}
                )
            ).json()
            if i["claim_id"] == newer
        )
        closed = await ops_key.post(
            f"/v1/inbox/{duty['id']}/done", json={"note": "called", "warned": ["police"]}
        )
        assert closed.status_code == 200, closed.text
        await page.get_by_label("Warm hand-off to a crisis or treating provider").check()
        await page.get_by_label("Clinical notes").fill("handed over to the crisis team")
        await page.get_by_role("button", name="Resolve").click()
        await page.wait_for_url(f"{base}/console/safety/{newer}?done=safety-resolve")
        # The notes are the case's record now, shown back to the clinician with the step.
        await expect(page.locator("ol.timeline q.note")).to_have_text(
            "handed over to the crisis team"
        )
        await wait_until(insurer, newer, lambda c: not c["safety_hold"])
        await expect(case).to_have_attribute("data-state", "resolved")
        await expect(case).to_contain_text("Closed: 1 warned")
        await checked(page, "safety-case-resolved")

        # Off the open list.
        await page.get_by_role("link", name="Safety cases").click()
        await expect(page.locator(f"#cases a[href='/console/safety/{newer}']")).to_have_count(0)

    # Logged by route template: no claimant data in any console URL.
    log = await person_log(api.pool, clinician.email)
    assert ("/console/safety/{claim_id}/actions/safety-resolve", "safety-resolve", 409) in log
    assert ("/console/safety/{claim_id}/actions/safety-resolve", "safety-resolve", 200) in log
