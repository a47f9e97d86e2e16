"""The examiner panel (operations only): list with load, add, edit, deactivate. The work is
`panel_service.Panel`'s, shared with the CLI and the console."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import CallerDep, ClaimsDep, JsonBody, PoolDep, capability
from api.openapi import errors, json_body, who
from domain.access import CAPABILITY_ROLES, Capability
from domain.models import (
    Caller,
    Examiner,
    ExaminerEdited,
    ExaminerPatch,
    ExaminerWithLoad,
)
from panel_service import Panel

router = APIRouter(prefix="/v1/examiners", tags=["examiners"])
_WHO = who(r.value for r in CAPABILITY_ROLES[Capability.MANAGE_PANEL])
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
