"""Inboxes as work queues (`work_queue.WorkQueue`): what the caller must act on, by role and
scope, overdue first; taking an item ("mine") and releasing it; `done` closes an item with a
note (a duty-to-protect task: with whom was warned). Items whose step is done close themselves."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import ValidationError

from api.deps import JsonBody, PoolDep, capability
from api.openapi import errors, json_body, who
from domain.access import Capability
from domain.errors import InvalidInput
from domain.models import INTAKE, Caller, InboxDone, InboxHold, InboxItem, QueuePage, QueueQuery
from work_queue import WorkQueue

router = APIRouter(prefix="/v1/inbox", tags=["inbox"])
InboxUser = Annotated[Caller, capability(Capability.USE_INBOX)]
_WHO = who(
    ["every role"],
    "Each sees its own: ops the operations tasks; an examiner those of the claims it is booked "
    "on; reviewers reports to review; clinicians safety pages (with their clinical detail); an "
    "insurer its own, without clinical detail.",
)
_ORDER = (
    " In queue order: overdue first, then by due time, no due time last, then oldest."
    " Filters: `kind`, `jurisdiction`, `insurer_id` (narrows ops' queue; everyone else sees"
    " their own scope whatever it says), `owner` (`me`: taken by the caller, `unowned`,"
    " `anyone`), `include_done`."
)
_HOLD = (
    " The holder is the signed-in person, else the API key. Taking an item someone else holds,"
    " or a closed item, is 409; only the holder releases an item (403 for anyone else) but ops,"
    " who may release anyone's."
)


def _queue(request: Request, db: PoolDep) -> WorkQueue:
    """The app's queue service (the console's too), else one on the request's pool."""
    shared = getattr(request.app.state, "work_queue", None)
    return shared if isinstance(shared, WorkQueue) else WorkQueue(db, request.app.state.sealer)


@router.get(
    "",
    response_model=list[InboxItem],
    operation_id="inbox",
    description=_WHO + _ORDER + " The next page's cursor is in the `Next-Cursor` header.",
    responses={
        200: {
            "description": "the page's items",
            "headers": {
                "Next-Cursor": {
                    "description": "pass as `cursor` for the next page (absent on the last)",
                    "schema": {"type": "string"},
                }
            },
        },
        **errors(401, 422, 503),
    },
)
async def list_inbox(
    request: Request,
    response: Response,
    caller: InboxUser,
    db: PoolDep,
    query: Annotated[QueueQuery, Query()],
) -> list[InboxItem]:
    page = await _queue(request, db).page(caller, query)
    if page.next_cursor:
        response.headers["Next-Cursor"] = page.next_cursor
    return page.items


@router.get(
    "/queue",
    response_model=QueuePage,
    operation_id="inbox_queue",
    description=_WHO + _ORDER + " With the caller's open items counted by kind, and overdue.",
    responses=errors(401, 422, 503),
)
async def queue(
    request: Request, caller: InboxUser, db: PoolDep, query: Annotated[QueueQuery, Query()]
) -> QueuePage:
    return await _queue(request, db).page(caller, query)


def _hold(body: object) -> InboxHold:
    try:
        return InboxHold.model_validate(body, context=INTAKE)
    except ValidationError as err:
        raise InvalidInput.from_validation(err, "the request is invalid") from None


@router.post(
    "/{item_id}/take",
    response_model=InboxItem,
    operation_id="inbox_take",
    description=_WHO + " Takes the item: it is the caller's until released." + _HOLD,
    responses=errors(401, 404, 409, 413, 415, 422, 503),
    openapi_extra=json_body(InboxHold),
)
async def take(
    request: Request, item_id: str, caller: InboxUser, db: PoolDep, body: JsonBody
) -> InboxItem:
    _hold(body)
    return await _queue(request, db).take(caller, item_id)


@router.post(
    "/{item_id}/release",
    response_model=InboxItem,
    operation_id="inbox_release",
    description=_WHO + " Releases the item: it is nobody's again." + _HOLD,
    responses=errors(401, 403, 404, 409, 413, 415, 422, 503),
    openapi_extra=json_body(InboxHold),
)
async def release(
    request: Request, item_id: str, caller: InboxUser, db: PoolDep, body: JsonBody
) -> InboxItem:
    _hold(body)
    return await _queue(request, db).release(caller, item_id)


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
    return await _queue(request, db).done(caller, item_id, body)
