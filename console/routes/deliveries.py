"""Deliveries: the backlog by channel and state, the dead ones, and sending a channel's dead
deliveries again (what `starter.py deliveries retry` does)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from claim_service import ClaimService
from console.render import page
from console.session import Acting, Person
from domain.access import Capability
from domain.delivery import Channel
from domain.errors import InvalidInput
from store import deliveries, outbox

router = APIRouter(prefix="/console")
RETRY_PERIOD = timedelta(hours=24)


@router.get("/deliveries")
async def deliveries_page(
    request: Request, person: Person, retried: str | None = None
) -> HTMLResponse:
    ClaimService.require(person.caller, Capability.READ_DELIVERIES)
    pool = request.app.state.pool
    backlog = await outbox.backlog(pool)
    dead = await deliveries.dead(pool)
    notice = None
    if retried and retried.isdigit():
        notice = f"{retried} dead deliveries queued again."
    return page(request, "deliveries.html", person, title="Deliveries",
                backlog=sorted(backlog.items()), dead=dead, channels=[c.value for c in Channel],
                notice=notice)  # fmt: skip


@router.post("/deliveries/retry")
async def retry(request: Request, person: Acting) -> Response:
    ClaimService.require(person.caller, Capability.READ_DELIVERIES)
    form = await request.form()
    try:
        channel = Channel(str(form.get("channel")))
    except ValueError:
        raise InvalidInput("choose a channel: webhook, email or page") from None
    count = await outbox.retry_dead(request.app.state.pool, channel, retry=RETRY_PERIOD)
    return RedirectResponse(f"/console/deliveries?retried={count}", status_code=303)
