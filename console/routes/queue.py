"""The work queue: the person's team's open items and their own, counted by kind, overdue first,
refreshed live (htmx polls the list; nothing reloads the page); taking an item makes it "mine".
The same service (`work_queue.WorkQueue`) as `GET /v1/inbox`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from console import services
from console.render import fragment, page
from console.session import Acting, Person
from domain.errors import InvalidInput
from domain.models import QueuePage, QueueQuery
from people.accounts import ActiveSession

router = APIRouter(prefix="/console")
REFRESH_SECONDS = 5


def _query(params: dict[str, Any]) -> QueueQuery:
    kept = {k: v for k, v in params.items() if v not in ("", None) and k in QueueQuery.model_fields}
    kept.setdefault("limit", 50)
    try:
        return QueueQuery.model_validate(kept)
    except ValidationError as err:
        raise InvalidInput.from_validation(err, "the filters are invalid") from None


async def _lists(request: Request, person: ActiveSession) -> dict[str, Any]:
    query = _query(dict(request.query_params))
    queue = services.work_queue(request)
    team: QueuePage = await queue.page(person.caller, query)
    mine: QueuePage = await queue.page(
        person.caller, query.model_copy(update={"owner": "me", "cursor": None})
    )
    filters = {k: v for k, v in request.query_params.items() if k != "cursor" and v}
    return {"team": team, "mine": mine, "query": query, "filters": filters,
            "refresh": REFRESH_SECONDS}  # fmt: skip


@router.get("/queue")
async def queue_page(request: Request, person: Person) -> HTMLResponse:
    return page(request, "queue.html", person, title="Work queue", **await _lists(request, person))


@router.get("/queue/items")
async def queue_items(request: Request, person: Person) -> HTMLResponse:
    """The lists alone: what the page's live refresh swaps in."""
    return fragment(request, "_queue_items.html", person=person, **await _lists(request, person))


@router.post("/queue/{item_id}/take")
async def take(request: Request, item_id: str, person: Acting) -> Response:
    await services.work_queue(request).take(person.caller, item_id)
    return RedirectResponse("/console/queue", status_code=303)


@router.post("/queue/{item_id}/release")
async def release(request: Request, item_id: str, person: Acting) -> Response:
    await services.work_queue(request).release(person.caller, item_id)
    return RedirectResponse("/console/queue", status_code=303)
