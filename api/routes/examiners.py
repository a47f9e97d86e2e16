"""The examiner panel (operations only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import ValidationError

from api.deps import JsonBody, PoolDep, capability
from api.openapi import errors, json_body, who
from domain.access import CAPABILITY_ROLES, Capability
from domain.errors import Conflict, InvalidInput
from domain.models import INTAKE, Caller, Examiner
from store import panel

router = APIRouter(prefix="/v1/examiners", tags=["examiners"])
_WHO = who(r.value for r in CAPABILITY_ROLES[Capability.MANAGE_PANEL])
PanelManager = Annotated[Caller, capability(Capability.MANAGE_PANEL)]


@router.get(
    "",
    response_model=list[Examiner],
    operation_id="list_examiners",
    description=_WHO,
    responses=errors(401, 403, 503),
)
async def list_examiners(caller: PanelManager, db: PoolDep) -> list[Examiner]:
    return await panel.list_examiners(db)


@router.post(
    "",
    response_model=Examiner,
    status_code=201,
    operation_id="add_examiner",
    description=_WHO + " 409 when the id or NPI is already on the panel.",
    responses=errors(401, 403, 409, 413, 415, 422, 503),
    openapi_extra=json_body(Examiner),
)
async def add_examiner(caller: PanelManager, db: PoolDep, body: JsonBody) -> Examiner:
    try:
        examiner = Examiner.model_validate(body, context=INTAKE)
    except ValidationError as err:
        raise InvalidInput.from_validation(err, "the examiner is invalid") from None
    if not await panel.insert_examiner(db, examiner):
        raise Conflict("an examiner with this id or NPI is already on the panel")
    return examiner
