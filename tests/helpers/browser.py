"""Real Chromium for the console's tests: Debian's `chromium` driven by Playwright (its own
browser downloads are never used), axe-core injected into a page to check it against the WCAG
2.1 AA rules, screenshots kept as test output, and people with real passwords and authenticator
secrets to sign in as."""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
from playwright.async_api import Browser, Page, async_playwright

from domain.names import Role
from people.accounts import Accounts
from settings import PROJECT_ROOT
from tests.helpers.app import ApiHarness

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE = PROJECT_ROOT / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
# Every page's screenshot, kept after the run (`make test` output; a few are copied to docs/).
SCREENSHOTS = PROJECT_ROOT / ".data" / "test-output" / "screenshots"
# Chromium as root, headless, with nothing reaching out of this machine (the network is closed:
# without these flags it keeps trying Google's hosts).
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--no-first-run",
    "--disable-quic",
]
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser
        finally:
            await browser.close()


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """The serious and critical WCAG 2.1 AA violations axe-core finds on the page as it is."""
    # Through the DevTools protocol, which the page's CSP (no inline script) does not govern.
    await page.evaluate(AXE.read_text())
    result = await page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})",
        WCAG_AA,
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


async def assert_accessible(page: Page) -> None:
    found = await axe_violations(page)
    assert found == [], json.dumps(found, indent=1)


async def checked(page: Page, name: str) -> None:
    """Every page the tests visit: axe-clean, and kept as a screenshot named `name`."""
    await assert_accessible(page)
    await screenshot(page, name)


async def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


@dataclass
class Person:
    """Someone with an account: email, password and authenticator secret."""

    email: str
    password: str
    secret: str
    name: str
    role: Role

    def code(self, *, ahead: int = 0) -> str:
        """The authenticator's code now (or `ahead` steps later: a code once used is refused
        for the rest of its step, so a second sign-in within 30 s takes the next one)."""
        return pyotp.TOTP(self.secret).at(time.time() + 30 * ahead)


async def person(
    api: ApiHarness,
    role: Role,
    *,
    name: str | None = None,
    insurer: str | None = None,
    examiner: str | None = None,
    supervisor: bool = False,
) -> Person:
    accounts: Accounts = api.app.state.accounts
    tag = secrets.token_hex(4)
    someone = Person(
        email=f"{role.value}-{tag}@example.test",
        password=f"correct horse battery {tag}",
        secret=pyotp.random_base32(),
        name=name or f"Test {role.value.title()} {tag}",
        role=role,
    )
    await accounts.create_user(
        role=role, email=someone.email, name=someone.name,
        insurer_id=insurer, examiner_id=examiner, by=None, supervisor=supervisor,
    )  # fmt: skip
    await accounts.set_credentials(someone.email, someone.password, someone.secret)
    return someone


async def sign_in(page: Page, base: str, who: Person, *, code: str | None = None) -> None:
    await page.goto(f"{base}/console")
    await page.get_by_label("Email").fill(who.email)
    await page.get_by_label("Password").fill(who.password)
    await page.get_by_label("Authentication code").fill(code or who.code())
    await page.get_by_role("button", name="Sign in").click()
