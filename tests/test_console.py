"""The operations console in real Chromium (Debian's, driven by Playwright) against the real app
served on loopback, the dev server, a worker and Postgres: signing in with a password and an
authenticator code, the refusals, the idle timeout, signing out everywhere, a form posted without
its CSRF token; then an ops day: a bulk upload watched to its end, the queue emptying itself as a
step is done through the API, an examiner assigned, an exam with an imminent risk screen holding
the claim, another claim withdrawn. Every page is checked with axe-core (WCAG 2.1 AA: no serious
or critical violation) and kept as a screenshot."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, expect

from domain.names import Role
from tests.helpers.app import ApiHarness
from tests.helpers.browser import (
    Person,
    checked,
    person,
    sign_in,
)
from tests.helpers.probes import idle_out, last_seen, person_log, seen_a_minute_ago
from tests.helpers.referrals import referral_payload
from tests.helpers.temporal_cli import served
from tests.helpers.walk import post_action, wait_until

pytestmark = pytest.mark.slow
REFUSED = "The email, password or authentication code is not right."


async def test_sign_in_refusals_idle_timeout_and_sign_out_everywhere(
    api: ApiHarness, browser: Browser
) -> None:
    ops = await person(api, Role.OPS)
    other = await person(api, Role.OPS)
    async with served(api) as base:
        page = await browser.new_page()
        # /console without a session leads to the sign-in form.
        await page.goto(f"{base}/console")
        assert page.url == f"{base}/console/sign-in"
        await checked(page, "sign-in")

        # A wrong password and a wrong code get the same answer, which names neither.
        wrong_password = Person(
            ops.email, "not the password at all", ops.secret, ops.name, ops.role
        )
        await sign_in(page, base, wrong_password)
        await expect(page.get_by_role("alert")).to_have_text(REFUSED)
        await sign_in(page, base, ops, code="000000" if ops.code() != "000000" else "111111")
        await expect(page.get_by_role("alert")).to_have_text(REFUSED)
        await checked(page, "sign-in-refused")
        # Three more failures reach the account's limit (5): now even the right password and
        # code are refused until the window passes.
        for _ in range(3):
            await sign_in(page, base, wrong_password)
        await sign_in(page, base, ops)
        await expect(page.get_by_role("alert")).to_have_text(
            re.compile("too many failed sign-ins", re.I)
        )
        assert page.url == f"{base}/console/sign-in"

        # Keyboard only: the fields in order, Enter to submit.
        await page.goto(f"{base}/console/sign-in")
        await page.get_by_label("Email").focus()
        await page.keyboard.type(other.email)
        await page.keyboard.press("Tab")
        await page.keyboard.type(other.password)
        await page.keyboard.press("Tab")
        await page.keyboard.type(other.code())
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"{base}/console/queue")
        await expect(page.get_by_text(other.name)).to_be_visible()

        # A second browser signs in as the same person (the next code: a code is used once).
        second = await browser.new_page()
        await sign_in(second, base, other, code=other.code(ahead=1))
        await second.wait_for_url(f"{base}/console/queue")

        # Idle for longer than the timeout: the next request leads to the sign-in form.
        assert await idle_out(api.pool, other.email) == 2
        await page.goto(f"{base}/console/claims")
        assert page.url == f"{base}/console/sign-in"

    third_code_person = await person(api, Role.OPS)
    async with served(api) as base:
        one, two = await browser.new_page(), await browser.new_page()
        await sign_in(one, base, third_code_person)
        await one.wait_for_url(f"{base}/console/queue")
        await sign_in(two, base, third_code_person, code=third_code_person.code(ahead=1))
        await two.wait_for_url(f"{base}/console/queue")
        await one.get_by_role("button", name="Sign out everywhere").click()
        await one.wait_for_url(f"{base}/console/sign-in?signed_out=1")
        await expect(one.get_by_role("status")).to_have_text("You are signed out.")
        await two.goto(f"{base}/console/claims")
        assert two.url == f"{base}/console/sign-in"

    actions = [action for _, action, _ in await person_log(api.pool, ops.email)]
    assert actions.count("sign_in_failed") == 5 and "sign_in" not in actions
    logged = [action for _, action, _ in await person_log(api.pool, third_code_person.email)]
    assert logged == ["sign_in", "sign_in", "sign_out_everywhere"]


async def _signed_in_client(base: str, who: Person) -> tuple[httpx.AsyncClient, str]:
    """A plain HTTP client signed in as `who` through the form; (client, the session's CSRF
    token as the pages carry it)."""
    http = httpx.AsyncClient(base_url=base, follow_redirects=False)
    form = await http.get("/console/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    answer = await http.post(
        "/console/sign-in",
        data={"csrf_token": token.group(1), "email": who.email, "password": who.password,
              "code": who.code()},
    )  # fmt: skip
    assert answer.status_code == 303 and answer.headers["location"] == "/console/queue"
    page = await http.get("/console/queue")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    return http, csrf.group(1)


async def test_a_post_without_its_csrf_token_is_refused_and_changes_nothing(
    api: ApiHarness,
) -> None:
    ops = await person(api, Role.OPS)
    insurer = await api.as_role(Role.INSURER, insurer="acme-ins")
    claim_id = (await insurer.post("/v1/claims", json=referral_payload())).json()["claim_id"]
    async with served(api) as base:
        # The sign-in form itself is refused without its own token.
        bare = await httpx.AsyncClient(base_url=base).post(
            "/console/sign-in", data={"email": ops.email, "password": ops.password, "code": "1"}
        )
        assert bare.status_code == 403
        http, csrf = await _signed_in_client(base, ops)
        try:
            withdraw = f"/console/claims/{claim_id}/actions/withdraw"
            refused = await http.post(withdraw, data={"reason": "duplicate referral"})
            assert refused.status_code == 403
            assert "out of date" in refused.text
            forged = await http.post(withdraw, data={"reason": "dup", "csrf_token": "x" * 43})
            assert forged.status_code == 403
            assert (await insurer.get(f"/v1/claims/{claim_id}")).json()["status"] == "open"
            # Security headers of a page showing a claim.
            page = await http.get(f"/console/claims/{claim_id}")
            assert page.status_code == 200
            assert page.headers["cache-control"] == "no-store"
            assert page.headers["referrer-policy"] == "no-referrer"
            assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
            assert "script-src 'self';" in page.headers["content-security-policy"]
            assert "<script>" not in page.text and " on" + "click=" not in page.text
            cookie = next(c for c in http.cookies.jar if c.name == "ime_console")
            assert cookie.has_nonstandard_attr("HttpOnly")
            # With the token, the same form withdraws the claim.
            done = await http.post(
                withdraw, data={"reason": "duplicate referral", "csrf_token": csrf}
            )
            assert done.status_code == 303
            closed = await wait_until(insurer, claim_id, lambda c: c["status"] == "closed")
            assert closed["outcome"] == "cancelled_by_ops"
            events = (
                await api.client(await api.key(Role.OPS)).get(f"/v1/claims/{claim_id}/events")
            ).json()
            withdrawn = [e for e in events if e["acted_by"] and e["acted_by"].get("user_id")]
            assert [e["acted_by"]["user_name"] for e in withdrawn] == [ops.name]
        finally:
            await http.aclose()


async def test_an_ops_day_in_the_browser(api: ApiHarness, browser: Browser, tmp_path: Path) -> None:
    ops = await person(api, Role.OPS, name="Olivia Ops")
    insurer = await api.as_role(Role.INSURER, insurer="acme-ins")
    ops_key = await api.as_role(Role.OPS)
    lines = [json.dumps(referral_payload()) for _ in range(20)]
    upload = tmp_path / "referrals.jsonl"
    upload.write_text("\n".join(lines) + "\n")
    async with served(api) as base:
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        await sign_in(page, base, ops)
        await page.wait_for_url(f"{base}/console/queue")
        await checked(page, "queue")

        # Bulk start: 20 referrals, the progress bar followed to its summary.
        await page.get_by_role("link", name="Bulk start").click()
        await checked(page, "bulk")
        # A file with a bad line starts nothing and names the line, not what it holds.
        bad = json.loads(lines[0]) | {"claim_type": "pet_insurance"}
        broken = tmp_path / "broken.jsonl"
        broken.write_text(json.dumps(json.loads(lines[1])) + "\n" + json.dumps(bad) + "\n")
        await page.get_by_label("Referral file (.csv or .jsonl)").set_input_files(str(broken))
        await page.get_by_role("button", name="Check and start").click()
        problems = page.locator("ul.problems li")
        await expect(problems).to_have_count(1)
        await expect(problems).to_contain_text("line 2: claim_type:")
        assert bad["claimant"]["full_name"] not in await page.content()
        assert "pet_insurance" not in await page.content()
        await checked(page, "bulk-refused")
        await page.get_by_label("Referral file (.csv or .jsonl)").set_input_files(str(upload))
        await page.get_by_role("button", name="Check and start").click()
        await expect(page.get_by_role("progressbar")).to_be_visible()
        summary = page.locator("#bulk-summary")
        await expect(summary).to_contain_text(
            "20 lines: 20 started, 0 already started, 0 conflicting, 0 failed.", timeout=60_000
        )
        assert await page.get_by_role("progressbar").get_attribute("value") == "20"
        await checked(page, "bulk-finished")

        # The claims page lists them (soonest deadline first); one opens the claim page.
        await page.get_by_role("link", name="Claims", exact=True).click()
        await checked(page, "claims")
        number = json.loads(lines[0])["claim_number"]
        await page.get_by_label("Claim number").fill(number)
        await page.get_by_role("button", name="Show claims").click()
        await page.get_by_role("link", name=number).click()
        claim_id = page.url.rsplit("/", 1)[1]
        booked = await wait_until(insurer, claim_id, lambda c: c["appointment"] is not None)
        await page.reload()
        await checked(page, "claim")

        # Assign another examiner from the form (the eligible ones are listed).
        first = booked["examiner"]["id"]
        options = await page.locator("#assign-examiner option").all()
        choices = [await o.get_attribute("value") for o in options]
        labels = [await o.inner_text() for o in options]
        # The seeded DEMO panel: two examiners of the requested specialty licensed for the
        # sample claimant's state; the booked one and the other.
        assert len(choices) == 2 and first in choices, labels
        other = next(value for value in choices if value != first)
        await page.get_by_text("Why the others cannot be booked").click()
        assert "Licence" in await page.locator("details ul").inner_text()
        await page.locator("#assign-examiner").select_option(other)
        await page.get_by_role("button", name="Assign").click()
        await page.wait_for_url(re.compile(r".*\?done=assign$"))
        await expect(page.get_by_role("status")).to_have_text("Done: Assign.")
        assigned = await wait_until(insurer, claim_id, lambda c: c["examiner"]["id"] == other)
        assert assigned["stage"] == "SCHEDULING"

        # The examiner's queue holds the request; confirmed through the API, it leaves the
        # examiner's queue by itself, without a reload.
        examiner = await person(api, Role.EXAMINER, examiner=other)
        theirs = await browser.new_page()
        await sign_in(theirs, base, examiner)
        await theirs.wait_for_url(f"{base}/console/queue")
        row = f"tr[data-kind='appointment_request']:has(a[href='/console/claims/{claim_id}'])"
        request, mine = theirs.locator(f"#team {row}"), theirs.locator(f"#mine {row}")
        await expect(request).to_have_count(1)
        await expect(mine).to_have_count(0)
        # Taken, it is the examiner's own ("Mine"), with their name as its owner.
        await request.get_by_role("button", name="Take this Appointment request item").click()
        await expect(mine).to_have_count(1)
        await expect(mine.locator("td").nth(4)).to_have_text(examiner.name)
        await checked(theirs, "queue-examiner")
        confirmed = await post_action(ops_key, claim_id, "confirm-appointment")
        assert confirmed.status_code == 200
        await expect(request).to_have_count(0, timeout=15_000)
        await expect(mine).to_have_count(0)

        # The exam, recorded from the form with an imminent risk screen: the claim is held.
        starts = datetime.fromisoformat(confirmed.json()["appointment"]["starts_at"])
        await asyncio.sleep(max(0.0, (starts - datetime.now(UTC)).total_seconds()) + 0.5)
        await page.reload()
        await page.get_by_label("Attended").check()
        await page.get_by_label("Risk screen").select_option("imminent")
        await page.get_by_label("Risk toward").select_option("self")
        await page.get_by_role("button", name="Exam").click()
        await page.wait_for_url(re.compile(r".*\?done=exam$"))
        await expect(page.locator(".tag.hold")).to_have_text("On hold")
        # At once, what is happening and what to do with the examinee now.
        paged = page.get_by_role("alert")
        await expect(paged.get_by_role("heading")).to_have_text(
            "The clinician on call is being paged now"
        )
        await expect(paged).to_contain_text("Stay with the examinee and do not leave them alone.")
        await expect(paged).to_contain_text("call or text 988")
        held = (await insurer.get(f"/v1/claims/{claim_id}")).json()
        assert held["safety_hold"] is True and held["stage"] == "REPORT"
        await checked(page, "claim-held")
        timeline = page.locator("ol.timeline")
        await expect(timeline).to_contain_text("by Olivia Ops (ops)")

        # Another claim withdrawn from its page.
        second = json.loads(lines[1])["claim_number"]
        await page.goto(f"{base}/console/claims?claim_number={second}")
        await page.get_by_role("link", name=second).click()
        await page.locator("#withdraw-reason").fill("the claimant withdrew the claim")
        await page.get_by_role("button", name="Withdraw").click()
        await page.wait_for_url(re.compile(r".*\?done=withdraw$"))
        withdrawn_id = page.url.split("?")[0].rsplit("/", 1)[1]
        closed = await wait_until(insurer, withdrawn_id, lambda c: c["status"] == "closed")
        assert closed["outcome"] == "cancelled_by_ops"

        # The other operations pages, each axe-clean.
        for label, name in [("Panel", "panel"), ("Deliveries", "deliveries"),
                            ("Access log", "access"), ("Accounts", "accounts")]:  # fmt: skip
            await page.get_by_role("link", name=label, exact=True).click()
            await checked(page, name)

        # A phone screen: the claim page fits its width and passes axe.
        phone = await browser.new_page(viewport={"width": 390, "height": 844})
        await sign_in(phone, base, ops, code=ops.code(ahead=1))
        await phone.wait_for_url(f"{base}/console/queue")
        await phone.goto(f"{base}/console/claims/{claim_id}")
        width = await phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390
        await checked(phone, "claim-phone")
    # No claimant data in any console URL the browser visited.
    log = await person_log(api.pool, ops.email)
    assert ("/console/claims/{claim_id}/actions/exam", "exam", 200) in log


def test_vendored_assets_match_their_pins_and_no_page_has_inline_script() -> None:
    """What the browser is told to expect (SRI) is what is served, and no template carries
    script or styles the CSP would have to allow."""
    from console.render import STATIC, TEMPLATES, VENDORED, integrity

    for name, pinned in VENDORED.items():
        assert integrity(STATIC / name) == pinned
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        assert re.search(r"<script(?![^>]*\bsrc=)", text) is None, template.name
        assert re.search(r"\son[a-z]+=", text) is None, template.name
        assert re.search(r"\sstyle=", text) is None, template.name


def test_in_production_the_session_cookie_is_secure_and_host_only() -> None:
    """`__Host-`: no Domain, path `/`, `Secure`, so no other host or path can set or read it."""
    from types import SimpleNamespace

    from fastapi import Response

    from console.session import session_cookie, set_cookie

    production = SimpleNamespace(development=False)
    answer = Response()
    set_cookie(answer, production, session_cookie(production), "token", max_age=60)  # type: ignore[arg-type]
    header = answer.headers["set-cookie"]
    assert header.startswith("__Host-ime_console=token;")
    assert {"HttpOnly", "Path=/", "SameSite=lax", "Secure"} <= {
        part.strip() for part in header.split(";")
    }
    assert "Domain" not in header


async def test_a_page_refreshing_itself_does_not_keep_an_unattended_session_alive(
    api: ApiHarness,
) -> None:
    ops = await person(api, Role.OPS)
    async with served(api) as base:
        http, _ = await _signed_in_client(base, ops)
        try:
            quiet_since = await seen_a_minute_ago(api.pool, ops.email)
            # The queue's live refresh (as htmx sends it) is no activity of the person's.
            polled = await http.get("/console/queue/items", headers={"X-Console-Poll": "1"})
            assert polled.status_code == 200
            assert await last_seen(api.pool, ops.email) == quiet_since
            # Opening a page is.
            assert (await http.get("/console/queue")).status_code == 200
            assert await last_seen(api.pool, ops.email) > quiet_since
        finally:
            await http.aclose()


async def test_a_new_person_signs_up_from_their_link(api: ApiHarness, browser: Browser) -> None:
    """The one-time link `users create` prints: a password and an authenticator, then sign-in;
    the link works once."""
    import pyotp

    accounts = api.app.state.accounts
    _, link = await accounts.create_user(
        role=Role.OPS, email="new.person@example.test", name="Nora New",
        insurer_id=None, examiner_id=None, by=None,
    )  # fmt: skip
    path = "/console/sign-up/" + link.rsplit("/console/sign-up/", 1)[1]
    async with served(api) as base:
        page = await browser.new_page()
        await page.goto(base + path)
        await checked(page, "sign-up")
        secret = (await page.locator("figcaption code").inner_text()).strip()
        await page.get_by_label("New password").fill("short")
        await page.get_by_label("The same password again").fill("short")
        await page.get_by_label("Authentication code").fill(pyotp.TOTP(secret).now())
        await page.get_by_role("button", name="Set up").click()
        await expect(page.locator("#password-error")).to_have_text(
            re.compile("at least 12 characters")
        )
        phrase = "four words make a passphrase"
        await page.get_by_label("New password").fill(phrase)
        await page.get_by_label("The same password again").fill(phrase)
        await page.get_by_label("Authentication code").fill(pyotp.TOTP(secret).now())
        await page.get_by_role("button", name="Set up").click()
        await page.wait_for_url(f"{base}/console/sign-in")
        nora = Person("new.person@example.test", phrase, secret, "Nora New", Role.OPS)
        await sign_in(page, base, nora, code=nora.code(ahead=1))
        await page.wait_for_url(f"{base}/console/queue")
        await expect(page.get_by_text("Nora New")).to_be_visible()
        # The link is spent.
        answer = await page.goto(base + path)
        assert answer is not None and answer.status == 404
        await checked(page, "sign-up-spent")
