"""The examiner panel: every examiner with their load; add, edit, deactivate. The same service
(`panel_service.Panel`) as `PATCH /v1/examiners/{id}` and `starter.py panel`: a deactivation
moves the examiner's open bookings on through each claim's own action. Every view and form is an
access-log row with the person's account id, as on the other pages."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from console import services
from console.audit import record
from console.render import page
from console.session import Acting, Person
from domain.errors import ClaimError
from domain.models import Specialty

router = APIRouter(prefix="/console")
ROUTE = "/console/panel"
EXAMINER_ROUTE = "/console/panel/{examiner_id}"


async def _page(
    request: Request, person: Person, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    examiners = await services.panel(request).list(person.caller)
    return page(request, "panel.html", person, status_code=status_code, title="Panel",
                examiners=examiners, specialties=[s.value for s in Specialty],
                **context)  # fmt: skip


@router.get("/panel")
async def panel_page(request: Request, person: Person) -> HTMLResponse:
    await record(request, person, ROUTE)
    return await _page(request, person)


def _examiner_fields(form: FormData, *, new: bool) -> dict[str, Any]:
    """The form as the API's JSON body: empty fields left out (a merge patch keeps them)."""
    body: dict[str, Any] = {}
    for name in (
        ("id", "npi", "name", "specialty", "location", "email")
        if new
        else ("name", "specialty", "location")
    ):
        value = form.get(name)
        if isinstance(value, str) and value.strip():
            body[name] = value.strip()
    states = form.get("licensed_states")
    if isinstance(states, str) and states.strip():
        body["licensed_states"] = [s.strip().upper() for s in states.split(",") if s.strip()]
    capacity = form.get("capacity")
    if isinstance(capacity, str) and capacity.strip():
        body["capacity"] = int(capacity) if capacity.strip().isdigit() else capacity.strip()
    return body


@router.post("/panel")
async def add_examiner(request: Request, person: Acting) -> Response:
    form = await request.form()
    try:
        await services.panel(request).add(person.caller, _examiner_fields(form, new=True))
    except ClaimError as err:
        await record(request, person, ROUTE, action="examiner_add", status=err.status_code)
        if err.status_code == 403:
            raise
        return await _page(request, person, status_code=err.status_code, error=_said(err))
    await record(request, person, ROUTE, action="examiner_add")
    return await _page(request, person, notice="Examiner added.")


@router.post("/panel/{examiner_id}")
async def edit_examiner(request: Request, examiner_id: str, person: Acting) -> Response:
    form = await request.form()
    try:
        await services.panel(request).edit(
            person.caller, examiner_id, _examiner_fields(form, new=False)
        )
    except ClaimError as err:
        await record(
            request, person, EXAMINER_ROUTE, action="examiner_edit", status=err.status_code
        )
        if err.status_code in (403, 404):
            raise
        return await _page(request, person, status_code=err.status_code, error=_said(err))
    await record(request, person, EXAMINER_ROUTE, action="examiner_edit")
    return await _page(request, person, notice="Examiner updated.")


@router.post("/panel/{examiner_id}/deactivate")
async def deactivate(request: Request, examiner_id: str, person: Acting) -> Response:
    route = f"{EXAMINER_ROUTE}/deactivate"
    try:
        done = await services.panel(request).deactivate(person.caller, examiner_id)
    except ClaimError as err:
        await record(request, person, route, action="examiner_deactivate", status=err.status_code)
        raise
    await record(request, person, route, action="examiner_deactivate")
    return await _page(request, person, deactivation=done,
                       notice=f"{done.examiner.name} is off the panel.")  # fmt: skip


def _said(err: ClaimError) -> str:
    fields = [
        f"{d['field']}: {d.get('message', 'invalid')}"
        for d in (err.details if isinstance(err.details, list) else [])
        if isinstance(d, dict) and d.get("field")
    ]
    return err.message + (f" ({'; '.join(fields)})" if fields else "")
