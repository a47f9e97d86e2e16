"""Inboxes: what the caller must act on now, by role and scope; `done` closes an item with a
note (a duty-to-protect task: with whom was warned)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import ValidationError

from api.deps import JsonBody, PoolDep, capability
from api.openapi import errors, json_body, who
from domain.access import Capability
from domain.delivery import NEEDS_WARNED_RECORD
from domain.errors import Conflict, InvalidInput, NotFound
from domain.models import INTAKE, Caller, InboxDone, InboxItem
from store import inbox

router = APIRouter(prefix="/v1/inbox", tags=["inbox"])
InboxUser = Annotated[Caller, capability(Capability.USE_INBOX)]
_WHO = who(
    ["every role"],
    "Each sees its own: ops the operations tasks; an examiner those of the claims it is booked "
    "on; reviewers reports to review; clinicians safety pages (with their clinical detail); an "
    "insurer its own, without clinical detail.",
)


@router.get(
    "",
    response_model=list[InboxItem],
    operation_id="inbox",
    description=_WHO,
    responses=errors(401, 422, 503),
)
async def list_inbox(
    request: Request,
    caller: InboxUser,
    db: PoolDep,
    include_done: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[InboxItem]:
    sealer = request.app.state.sealer
    return await inbox.for_caller(db, sealer, caller, include_done=include_done, limit=limit)


@router.post(
    "/{item_id}/done",
    response_model=InboxItem,
    operation_id="inbox_done",
    description=_WHO + " 409 when the item is closed already.",
    responses=errors(401, 404, 409, 413, 415, 422, 503),
    openapi_extra=json_body(InboxDone),
)
async def done(
    request: Request, item_id: str, caller: InboxUser, db: PoolDep, body: JsonBody
) -> InboxItem:
    sealer = request.app.state.sealer
    item = await inbox.find_for(db, sealer, caller, item_id)
    if item is None:
        raise NotFound("no such inbox item")
    try:
        record = InboxDone.model_validate(body, context=INTAKE)
    except ValidationError as err:
        raise InvalidInput.from_validation(err, "the note is invalid") from None
    if item.kind in NEEDS_WARNED_RECORD and not record.warned:
        raise InvalidInput(
            "a duty-to-protect task closes with whom was warned or which authority was told",
            details=[{"field": "warned", "message": "name at least one"}],
        )
    async with db.acquire() as conn:
        # A duty-to-protect task's closing is also a step of its safety case's timeline.
        closed = await inbox.close(conn, sealer, item, caller, record.model_dump())
    if closed is None:
        raise Conflict("the item is closed already")
    return item.model_copy(update={"done_at": closed})
