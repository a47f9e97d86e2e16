"""The examiner panel (operations only): list with load, add, edit, deactivate; and an examiner's
away periods (ops, and the examiner themself). The work is `panel_service.Panel`'s, shared with
the CLI and the console."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import CallerDep, ClaimsDep, JsonBody, PoolDep, capability
from api.openapi import errors, json_body, who
from domain.access import AWAY_ROLES, CAPABILITY_ROLES, Capability
from domain.models import (
    AwayPeriods,
    Caller,
    Examiner,
    ExaminerAway,
    ExaminerEdited,
    ExaminerPatch,
    ExaminerWithLoad,
)
from panel_service import Panel

router = APIRouter(prefix="/v1/examiners", tags=["examiners"])
_WHO = who(r.value for r in CAPABILITY_ROLES[Capability.MANAGE_PANEL])
_AWAY_WHO = who(
    (r.value for r in AWAY_ROLES),
    "An examiner only their own (403 for another examiner, and for every other role, whatever"
    " the id; then 404 for an unknown examiner).",
)
PanelManager = Annotated[Caller, capability(Capability.MANAGE_PANEL)]


async def _panel(db: PoolDep, claims: ClaimsDep) -> Panel:
    return Panel(db, claims)


PanelDep = Annotated[Panel, Depends(_panel)]


async def _examiner(examiner_id: str, caller: PanelManager, panel: PanelDep) -> ExaminerWithLoad:
    """The examiner of the path (404), once the caller may manage the panel (403 first: the
    panel is ops' only, so an unknown id tells others nothing)."""
    return await panel.get(caller, examiner_id)


KnownExaminer = Annotated[ExaminerWithLoad, Depends(_examiner)]


@router.get(
    "",
    response_model=list[ExaminerWithLoad],
    operation_id="list_examiners",
    description=_WHO + " Each examiner with their load: open bookings, and open / capacity.",
    responses=errors(401, 403, 503),
)
async def list_examiners(caller: PanelManager, panel: PanelDep) -> list[ExaminerWithLoad]:
    return await panel.list(caller)


@router.post(
    "",
    response_model=Examiner,
    status_code=201,
    operation_id="add_examiner",
    description=_WHO + " 409 when the id or NPI is already on the panel.",
    responses=errors(401, 403, 409, 413, 415, 422, 503),
    openapi_extra=json_body(Examiner),
)
async def add_examiner(caller: PanelManager, panel: PanelDep, body: JsonBody) -> Examiner:
    return await panel.add(caller, body)


@router.patch(
    "/{examiner_id}",
    response_model=ExaminerEdited,
    operation_id="edit_examiner",
    description=_WHO
    + " A JSON merge patch of name, specialty, licensed_states, capacity, location, email"
    " and active (id and NPI never change; `null` removes only the email). The answer is the"
    " examiner as listed. `active: false` takes them off the panel and moves their open"
    " bookings to other examiners through each claim's own action (`decline-appointment`"
    " before confirmation, `reschedule` once confirmed); `deactivation` then lists the claims"
    " re-booked and those left with them, each with its reason. Sending it again completes an"
    " interrupted deactivation and moves nothing twice.",
    responses=errors(401, 403, 404, 413, 415, 422, 503),
    openapi_extra=json_body(ExaminerPatch),
)
async def edit_examiner(
    examiner: KnownExaminer, caller: CallerDep, panel: PanelDep, body: JsonBody
) -> ExaminerEdited:
    return await panel.edit(caller, examiner.id, body)


_AWAY_NOTE = (
    " Whole days, `ends_on` inclusive, read in the timezone the booking uses (the claim's"
    " profile timezone): no booking is offered a slot on an away day. `conflicts` lists the"
    " claims already booked with the examiner on an away day; they are not moved (ops"
    " reschedule or assign them)."
)


@router.get(
    "/{examiner_id}/away",
    response_model=ExaminerAway,
    operation_id="get_examiner_away",
    description=_AWAY_WHO + " The examiner's away periods, soonest first." + _AWAY_NOTE,
    responses=errors(401, 403, 404, 503),
)
async def get_examiner_away(examiner_id: str, caller: CallerDep, panel: PanelDep) -> ExaminerAway:
    return await panel.away(caller, examiner_id)


async def _away_keeper(examiner_id: str, caller: CallerDep, panel: PanelDep) -> str:
    """The examiner of the path, once the caller may keep their away periods (403) and they
    are on the panel (404): before the body is read."""
    await panel.may_keep_away(caller, examiner_id)
    return examiner_id


@router.put(
    "/{examiner_id}/away",
    response_model=ExaminerAway,
    operation_id="set_examiner_away",
    description=_AWAY_WHO
    + " Replaces the examiner's away periods with the list sent (at most 100, each at most"
    " 366 days, none overlapping; past periods are kept as sent); `[]` clears them." + _AWAY_NOTE,
    responses=errors(401, 403, 404, 413, 415, 422, 503),
    openapi_extra=json_body(AwayPeriods),
)
async def set_examiner_away(
    examiner: Annotated[str, Depends(_away_keeper)],
    caller: CallerDep,
    panel: PanelDep,
    body: JsonBody,
) -> ExaminerAway:
    return await panel.set_away(caller, examiner, body)
