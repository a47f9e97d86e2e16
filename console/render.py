"""Pages: one Jinja2 environment (autoescaped), the layout's navigation for the person's role
(the same capability table as the API: a page the role may not use is neither shown nor served),
the vendored assets with their pinned integrity hashes, and error pages."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from cli.bulk import Result
from domain.access import Capability, may_supervised
from domain.errors import ClaimError
from domain.profiles import PROFILES
from people.accounts import ActiveSession

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

# Vendored files and the SRI hash each must have (a test checks the files against these pins, so
# a changed file is a reviewed change).
VENDORED = {
    "vendor/htmx-2.0.11.min.js": (
        "sha384-2OatzQy1H+Zd/IIrjr1TcuDGqLXeHhbooAyJY1KdQMKnr4LZ22k31GBLdYKHmVjg"
    ),
}


def integrity(path: Path) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(path.read_bytes()).digest()).decode()


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str
    needs: Capability


NAV = (
    NavItem("Work queue", "/console/queue", Capability.USE_INBOX),
    NavItem("Safety cases", "/console/safety", Capability.WORK_SAFETY_CASES),
    NavItem("Worklist", "/console/worklist", Capability.WORK_EXAMINATIONS),
    NavItem("Away dates", "/console/away", Capability.WORK_EXAMINATIONS),
    NavItem("Reviews", "/console/reviews", Capability.REVIEW_REPORTS),
    NavItem("Claims", "/console/claims", Capability.LIST_CLAIMS),
    NavItem("Bulk start", "/console/bulk", Capability.START_CLAIM),
    NavItem("Panel", "/console/panel", Capability.MANAGE_PANEL),
    NavItem("Deliveries", "/console/deliveries", Capability.READ_DELIVERIES),
    NavItem("Access log", "/console/access", Capability.READ_ACCESS_LOG),
    NavItem("Accounts", "/console/accounts", Capability.MANAGE_ACCOUNTS),
    NavItem("Webhooks", "/console/webhooks", Capability.MANAGE_WEBHOOKS),
    NavItem("Team", "/console/team", Capability.SUPERVISE_DECISIONS),
)


def allowed(person: ActiveSession, capability: Capability) -> bool:
    """The role's capability, and for a supervisor's page the account's `supervisor` flag."""
    return may_supervised(person.caller, capability, supervisor=person.user.supervisor)


def local_time(value: datetime | None, timezone: str | None = None) -> str:
    """A time as people there read it: in the given zone (a jurisdiction's), with its name."""
    if value is None:
        return "—"
    zone = ZoneInfo(timezone) if timezone else None
    shown = value.astimezone(zone) if zone else value
    return shown.strftime("%a %d %b %Y, %H:%M %Z")


def iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def label(value: object) -> str:
    """An enum or snake_case name as words."""
    text = str(getattr(value, "value", value))
    return text.replace("_", " ").replace("-", " ").capitalize()


templates = Jinja2Templates(directory=TEMPLATES)
templates.env.filters["local_time"] = local_time
templates.env.filters["iso"] = iso
templates.env.filters["label"] = label
templates.env.globals["vendored"] = VENDORED
templates.env.globals["zones"] = {name: p.timezone for name, p in PROFILES.items()}
templates.env.globals["Result"] = Result


def page(
    request: Request,
    template: str,
    person: ActiveSession | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    nav = [item for item in NAV if person and allowed(person, item.needs)]
    return templates.TemplateResponse(
        request,
        template,
        {"person": person, "nav": nav, "path": request.scope["path"], **context},
        status_code=status_code,
    )


def fragment(request: Request, template: str, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, template, context)


_TITLES = {
    401: "Sign in again",
    403: "Not allowed",
    404: "Not found",
    409: "Not possible now",
    422: "Check the form",
    429: "Too many attempts",
    503: "Try again shortly",
}


def render_error(request: Request, err: ClaimError) -> HTMLResponse:
    """A refusal as a page: the API's own message (never a value the person typed)."""
    person = getattr(request.state, "person", None)
    answer = page(
        request,
        "error.html",
        person,
        status_code=err.status_code,
        title=_TITLES.get(err.status_code, "Something went wrong"),
        message=err.message,
    )
    retry_after = getattr(err, "retry_after", None)
    if retry_after:
        answer.headers["Retry-After"] = str(retry_after)
    return answer
