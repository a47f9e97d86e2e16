"""The examiner panel."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import ValidationError

from api.deps import CallerDep, JsonBody, PoolDep
from domain.errors import Conflict, InvalidInput
from domain.models import Examiner
from store import panel

router = APIRouter(prefix="/v1/examiners", tags=["examiners"])


@router.get("", response_model=list[Examiner])
async def list_examiners(db: PoolDep, caller: CallerDep) -> list[Examiner]:
    return await panel.list_examiners(db)


@router.post("", response_model=Examiner, status_code=201)
async def add_examiner(body: JsonBody, db: PoolDep, caller: CallerDep) -> Examiner:
    try:
        examiner = Examiner.model_validate(body)
    except ValidationError as err:
        raise InvalidInput.from_validation(err, "the examiner is invalid") from None
    if not await panel.insert_examiner(db, examiner):
        raise Conflict("an examiner with this id or NPI is already on the panel")
    return examiner
