"""An examiner's away dates at the console (issue 18), the door beside `GET`/`PUT
/v1/examiners/{id}/away`: in real Chromium an examiner opens Away dates from the nav, adds a
period (the API then shows exactly the days typed), sees a period ending before it starts and an
overlapping one refused at the form in the API's words with nothing stored, and removes it. Without
a browser: the CSRF token (403, nothing stored), who may open which page (an insurer and another
examiner 403, no nav item; ops from the Panel, any examiner; 404 for an unknown one), a booking
already made on an away day listed, and the access-log rows."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from domain.names import Role
from tests.helpers.app import ApiHarness
from tests.helpers.browser import (
    Person,
    checked,
    person,
    sign_in,
)
from tests.helpers.referrals import referral_payload
from tests.helpers.temporal_cli import served
from tests.helpers.walk import wait_until

# Two orthopedic surgeons of the seeded panel (New York): DEMO books the first, least loaded.
ORTHO_1, ORTHO_2 = "ex-ny-orthopedic-surgery-1", "ex-ny-orthopedic-surgery-2"
BACKWARDS = (
    "the away periods is invalid (periods.0.ends_on: Value error, must be on or after starts_on)"
)
OVERLAP = "the away periods is invalid (periods: Value error, periods 0 and 1 overlap)"


async def add(page: Page, first: str, last: str) -> None:
    """Type a period and send it from the keyboard (Enter in the last field)."""
    await page.get_by_label("First day away").fill(first)
    await page.get_by_label("Last day away (included)").fill(last)
    await page.get_by_label("Last day away (included)").press("Enter")


@pytest.mark.slow
async def test_an_examiner_adds_and_removes_away_dates(
    api: ApiHarness, api_client: httpx.AsyncClient, browser: Browser
) -> None:
    ops = api_client
    url = f"/v1/examiners/{ORTHO_1}/away"
    examiner = await person(api, Role.EXAMINER, examiner=ORTHO_1)
    async with served(api) as base:
        page = await browser.new_page()
        await sign_in(page, base, examiner)
        await page.wait_for_url(f"{base}/console/queue")
        await page.get_by_role("link", name="Away dates").click()
        await page.wait_for_url(f"{base}/console/away/{ORTHO_1}")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Your away dates")
        await expect(page.locator("#away-periods tbody")).to_have_text("No away dates.")

        await add(page, "2031-03-03", "2031-03-07")
        await page.wait_for_url(f"{base}/console/away/{ORTHO_1}?done=added")
        await expect(page.get_by_role("status")).to_have_text("The away dates are added.")
        row = page.locator("#away-periods tbody tr")
        await expect(row).to_have_count(1)
        await expect(row.locator("td")).to_have_text(
            [
                "1",
                "Mon 03 Mar 2031",
                "Fri 07 Mar 2031",
                "5",
                "Remove Mon 03 Mar 2031 to Fri 07 Mar 2031",
            ]
        )
        await checked(page, "away-added")
        added = {
            "examiner_id": ORTHO_1,
            "periods": [{"starts_on": "2031-03-03", "ends_on": "2031-03-07"}],
            "conflicts": [],
        }
        assert (await ops.get(url)).json() == added

        # Refused at the form in the API's words; nothing stored.
        await add(page, "2031-07-19", "2031-07-13")
        await expect(page.locator("#away-error")).to_have_text(BACKWARDS)
        await checked(page, "away-refused")
        await add(page, "2031-03-07", "2031-03-09")
        await expect(page.locator("#away-error")).to_have_text(OVERLAP)
        assert (await ops.get(url)).json() == added

        await page.get_by_role("button", name="Remove Mon 03 Mar 2031 to Fri 07 Mar 2031").click()
        await page.wait_for_url(f"{base}/console/away/{ORTHO_1}?done=removed")
        await expect(page.get_by_role("status")).to_have_text("The away dates are removed.")
        await expect(page.locator("#away-periods tbody")).to_have_text("No away dates.")
        assert (await ops.get(url)).json()["periods"] == []


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


async def test_who_may_keep_whose_away_dates_and_the_csrf_token(
    api: ApiHarness, api_client: httpx.AsyncClient
) -> None:
    ops_api = api_client
    period = {"starts_on": "2031-05-04", "ends_on": "2031-05-08"}
    insurer_person = await person(api, Role.INSURER, insurer="acme-ins")
    examiner_person = await person(api, Role.EXAMINER, examiner=ORTHO_1)
    ops_person = await person(api, Role.OPS, name="Olga Ops")
    insurer, insurer_csrf = await console(api, insurer_person)
    examiner, examiner_csrf = await console(api, examiner_person)
    ops, ops_csrf = await console(api, ops_person)

    # An insurer: no nav item, 403 on every page and form, nothing stored.
    assert 'href="/console/away"' not in (await insurer.get("/console/queue")).text
    assert (await insurer.get("/console/away")).status_code == 403
    assert (await insurer.get(f"/console/away/{ORTHO_1}")).status_code == 403
    sent = await insurer.post(
        f"/console/away/{ORTHO_1}", data={"csrf_token": insurer_csrf, **period}
    )
    assert sent.status_code == 403

    # The examiner: the nav item; another examiner's page 403; without the CSRF token 403.
    assert 'href="/console/away"' in (await examiner.get("/console/queue")).text
    own = await examiner.get("/console/away")
    assert (own.status_code, own.headers["location"]) == (303, f"/console/away/{ORTHO_1}")
    assert (await examiner.get(f"/console/away/{ORTHO_2}")).status_code == 403
    bare = await examiner.post(f"/console/away/{ORTHO_1}", data=period)
    assert bare.status_code == 403
    assert (await ops_api.get(f"/v1/examiners/{ORTHO_1}/away")).json()["periods"] == []

    # Ops: no nav item, but any examiner's page from the Panel; 404 for an unknown one.
    panel = await ops.get("/console/panel")
    assert 'href="/console/away"' not in panel.text
    assert f'href="/console/away/{ORTHO_2}"' in panel.text
    assert (await ops.get("/console/away/ex-nobody")).status_code == 404
    page = await ops.get(f"/console/away/{ORTHO_2}")
    assert page.status_code == 200
    done = await ops.post(f"/console/away/{ORTHO_2}", data={"csrf_token": ops_csrf, **period})
    assert (done.status_code, done.headers["location"]) == (
        303,
        f"/console/away/{ORTHO_2}?done=added",
    )
    # Sent twice (a double click): added once.
    again = await ops.post(f"/console/away/{ORTHO_2}", data={"csrf_token": ops_csrf, **period})
    assert again.status_code == 303
    assert (await ops_api.get(f"/v1/examiners/{ORTHO_2}/away")).json()["periods"] == [period]

    # A DEMO claim booked today with the first surgeon; they go away around today: the booking
    # is listed on their page by its claim number, not moved.
    created = await ops_api.post("/v1/claims", json=referral_payload("DEMO"))
    assert created.status_code == 201, created.text
    claim_id, number = created.json()["claim_id"], created.json()["claim_number"]
    claim = await wait_until(ops_api, claim_id, lambda c: c["appointment"])
    assert claim["examiner"]["id"] == ORTHO_1
    today = datetime.now(ZoneInfo("America/New_York")).date()
    around = {
        "csrf_token": examiner_csrf,
        "starts_on": (today - timedelta(days=1)).isoformat(),
        "ends_on": (today + timedelta(days=1)).isoformat(),
    }
    assert (await examiner.post(f"/console/away/{ORTHO_1}", data=around)).status_code == 303
    listed = await examiner.get(f"/console/away/{ORTHO_1}?done=added")
    assert "The away dates are added." in listed.text
    assert (
        f'<li data-claim="{claim_id}"><a href="/console/claims/{claim_id}">Claim {number}</a></li>'
        in listed.text
    )
    still = (await ops_api.get(f"/v1/claims/{claim_id}")).json()
    assert still["examiner"]["id"] == ORTHO_1

    # The Panel page too is read with a row of the person's own (as every console page).
    panel_rows = await api.pool.fetch(
        "SELECT a.action, a.status FROM access_log a JOIN users u ON u.id::text = a.user_id"
        " WHERE a.route = '/console/panel' AND u.email = $1",
        ops_person.email,
    )
    assert [(r["action"], r["status"]) for r in panel_rows] == [(None, 200)]

    # Every page read and form an access-log row with the person's account id.
    rows = await api.pool.fetch(
        "SELECT u.email, a.route, a.action, a.status FROM access_log a"
        " JOIN users u ON u.id::text = a.user_id WHERE a.route LIKE '/console/away%'"
        " ORDER BY a.id"
    )
    got = [(r["email"], r["route"], r["action"], r["status"]) for r in rows]
    route = "/console/away/{examiner_id}"
    assert got == [
        (insurer_person.email, "/console/away", None, 403),
        (insurer_person.email, route, None, 403),
        (insurer_person.email, route, "away_add", 403),
        (examiner_person.email, route, None, 403),
        (ops_person.email, route, None, 404),
        (ops_person.email, route, None, 200),
        (ops_person.email, route, "away_add", 200),
        (ops_person.email, route, "away_add", 200),
        (examiner_person.email, route, "away_add", 200),
        (examiner_person.email, route, None, 200),
    ]
    for http in (insurer, examiner, ops):
        await http.aclose()
