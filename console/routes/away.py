"""An examiner's away dates (`/console/away`): the periods they are away, whole days read where
each exam takes place, so that no booking is offered a slot then; add one, remove one. The
examiner keeps their own (the nav item, which leads to `/console/away/{examiner_id}`); ops keep
any examiner's from the Panel.

The same service method as `GET`/`PUT /v1/examiners/{id}/away` (`panel_service.Panel.away` and
`set_away`, with its `may_keep_away`: 403 for anyone but ops and that examiner, whatever the id,
then 404). `PUT` replaces the whole list, so a form sends the list as just read with one period
more (add) or one fewer (remove); the API's validation (end before start, overlapping, too long,
too many) is the only one, its 422 shown at the form in its own words. Setting them moves no
booking: the claims already booked on an away day are listed (`conflicts`), as the API's answer
lists them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from console import services
from console.acting import form_text, refusal
from console.audit import record
from console.render import page
from console.session import Acting, Person
from domain.access import Capability, may
from domain.errors import ClaimError, Forbidden, NotFound
from domain.models import AwayPeriod
from people.accounts import ActiveSession

router = APIRouter(prefix="/console")
OWN = "/console/away"
ROUTE = f"{OWN}/{{examiner_id}}"
ADD, REMOVE = "away_add", "away_remove"
# What the page says after a form (never a value the person typed).
_DONE = {"added": "The away dates are added.", "removed": "The away dates are removed."}
# A form's change to the list as read: the list to send, or None when nothing changes.
Change = Callable[[list[dict[str, str]], FormData], list[dict[str, Any]] | None]


def period_json(period: AwayPeriod) -> dict[str, str]:
    return {"starts_on": period.starts_on.isoformat(), "ends_on": period.ends_on.isoformat()}


def day(value: date) -> str:
    """A whole day as the examiner reads it (no time, no zone: the day where the exam is)."""
    return value.strftime("%a %d %b %Y")


async def _page(
    request: Request,
    person: ActiveSession,
    examiner_id: str,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    panel = services.panel(request)
    away = await panel.away(person.caller, examiner_id)
    # Ops open someone else's: their name heads the page (the panel's own read, ops only).
    whose = (
        (await panel.get(person.caller, examiner_id)).name
        if may(person.caller, Capability.MANAGE_PANEL)
        else None
    )
    return page(
        request, "away.html", person, status_code=status_code, title="Away dates", away=away,
        whose=whose, day=day, conflicts=await _numbers(request, person, away.conflicts),
        **context,
    )  # fmt: skip


async def _numbers(
    request: Request, person: ActiveSession, claim_ids: list[str]
) -> list[tuple[str, str]]:
    """Each claim booked on an away day with its claim number, read as `GET /v1/claims/{id}`
    reads it for the person (their own bookings, so readable; else named by its id)."""
    claims = services.claim_service(request)
    named = []
    for claim_id in claim_ids:
        try:
            named.append((claim_id, (await claims.get(claim_id, person.caller)).claim_number))
        except NotFound:
            named.append((claim_id, claim_id))
    return named


@router.get("/away")
async def own_away(request: Request, person: Person) -> Response:
    """The nav item's address: an examiner's own page (its address names their examiner id,
    which is no one's PHI). Ops open an examiner's from the Panel; anyone else: 403."""
    examiner_id = person.caller.examiner_id
    if not may(person.caller, Capability.WORK_EXAMINATIONS) or examiner_id is None:
        await record(request, person, OWN, status=403)
        raise Forbidden("away dates are kept by the examiner, and by operations from the Panel")
    return RedirectResponse(f"{OWN}/{examiner_id}", status_code=303)


@router.get("/away/{examiner_id}")
async def away_page(
    request: Request, examiner_id: str, person: Person, done: str | None = None
) -> HTMLResponse:
    try:
        answer = await _page(request, person, examiner_id, notice=_DONE.get(done or ""))
    except ClaimError as err:
        await record(request, person, ROUTE, status=err.status_code)
        raise
    await record(request, person, ROUTE)
    return answer


async def _replace(
    request: Request,
    person: ActiveSession,
    examiner_id: str,
    action: str,
    change: Change,
) -> Response:
    """Read the list, change it, send it whole through `set_away` as `PUT` does; a 422 at the
    form, any other refusal (403, 404) as the error page, each an access-log row."""
    panel = services.panel(request)
    form = await request.form()
    try:
        current = [period_json(p) for p in (await panel.away(person.caller, examiner_id)).periods]
        sent = change(current, form)
        if sent is not None:
            await panel.set_away(person.caller, examiner_id, {"periods": sent})
    except ClaimError as err:
        await record(request, person, ROUTE, action=action, status=err.status_code)
        if err.status_code != 422:
            raise
        # What was typed stays in the add form (dates, no one's PHI); the message never has it.
        typed = {k: form_text(form, k) for k in ("starts_on", "ends_on")} if action == ADD else {}
        return await _page(
            request, person, examiner_id, status_code=422, refused=refusal(err), typed=typed
        )
    await record(request, person, ROUTE, action=action)
    done = "added" if action == ADD else "removed"
    return RedirectResponse(f"{OWN}/{examiner_id}?done={done}", status_code=303)


def _added(current: list[dict[str, str]], form: FormData) -> list[dict[str, Any]] | None:
    """The typed period first (so a refusal naming `periods.0` names it; the listed ones are
    numbered from 1 on the page, as they are sent), then the list as read. A period already
    listed as typed is not sent again: a form sent twice adds it once."""
    new = {"starts_on": form_text(form, "starts_on"), "ends_on": form_text(form, "ends_on")}
    if new in current:
        return None
    return [new, *current]


def _removed(current: list[dict[str, str]], form: FormData) -> list[dict[str, Any]] | None:
    """The list as read without the period named; None when it is not there (already gone)."""
    gone = {"starts_on": form_text(form, "starts_on"), "ends_on": form_text(form, "ends_on")}
    kept = [p for p in current if p != gone]
    return kept if len(kept) < len(current) else None


@router.post("/away/{examiner_id}")
async def add_away(request: Request, examiner_id: str, person: Acting) -> Response:
    return await _replace(request, person, examiner_id, ADD, _added)


@router.post("/away/{examiner_id}/remove")
async def remove_away(request: Request, examiner_id: str, person: Acting) -> Response:
    return await _replace(request, person, examiner_id, REMOVE, _removed)
