"""Webhooks: an insurer's endpoints (ops: every insurer's), register one, rotate its signing
secret, delete it, and an endpoint's deliveries with their state and attempts, a failed one sent
again. Through `webhook_service`, the path `POST /v1/webhooks` and its siblings take, so the
URL's SSRF check and the scope rules (another insurer's endpoint is 404) are the API's own.

A signing secret is in the answer to the POST that made it (register, rotate) and nowhere else:
never in a URL, a redirect or a log, and no later page can show it (only its sealed form is
kept)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from console.acting import form_text, refusal
from console.audit import record
from console.render import page
from console.session import Acting, Person
from domain.access import Capability, may
from domain.delivery import WebhookEvent
from domain.errors import ClaimError, Forbidden, InvalidInput
from domain.models import INTAKE, WebhookIn
from people.accounts import ActiveSession
from webhook_service import WebhookService

router = APIRouter(prefix="/console")
ROUTE = "/console/webhooks"
ENDPOINT_ROUTE = f"{ROUTE}/{{webhook_id}}"
# Deliveries a person may send again (a delivered one is refused by the service: 404).
RETRIABLE = frozenset({"failed", "dead", "held", "pending"})


def _service(request: Request) -> WebhookService:
    return WebhookService(
        request.app.state.pool, request.app.state.sealer, request.app.state.settings
    )


async def _allowed(request: Request, person: ActiveSession, route: str) -> None:
    """The API's capability (403 otherwise), with its access-log row."""
    if not may(person.caller, Capability.MANAGE_WEBHOOKS):
        await record(request, person, route, status=403)
        raise Forbidden(f"the {person.caller.role} role may not do this")


async def _list_page(
    request: Request,
    person: ActiveSession,
    *,
    status_code: int = 200,
    **context: object,
) -> HTMLResponse:
    hooks = await _service(request).endpoints(person.caller)
    return page(
        request, "webhooks.html", person, status_code=status_code, title="Webhooks",
        hooks=hooks, event_types=[e.value for e in WebhookEvent],
        names_insurer=person.caller.insurer_id is None, **context,
    )  # fmt: skip


@router.get("/webhooks")
async def webhooks_page(request: Request, person: Person) -> HTMLResponse:
    await _allowed(request, person, ROUTE)
    answer = await _list_page(request, person)
    await record(request, person, ROUTE)
    return answer


def _wanted(form: FormData) -> WebhookIn:
    """The form as the API's body; refused in the API's words (fields named, values never)."""
    body = {
        "url": form_text(form, "url") or "",
        "event_types": [t for t in form.getlist("event_types") if isinstance(t, str)],
        "insurer_id": form_text(form, "insurer_id"),
    }
    try:
        return WebhookIn.model_validate(body, context=INTAKE)
    except ValidationError as err:
        raise InvalidInput.from_validation(err, "the webhook is invalid") from None


@router.post("/webhooks")
async def register(request: Request, person: Acting) -> HTMLResponse:
    await _allowed(request, person, ROUTE)
    form = await request.form()
    try:
        hook, secret = await _service(request).register(person.caller, _wanted(form))
    except ClaimError as err:
        await record(request, person, ROUTE, action="create_webhook", status=err.status_code)
        if err.status_code == 403:
            raise
        # The URL typed is not echoed back into the page: the person types it again.
        return await _list_page(request, person, status_code=err.status_code, error=refusal(err))
    await record(request, person, ROUTE, action="create_webhook", status=201)
    return await _list_page(request, person, secret=secret, secret_for=hook)


@router.post("/webhooks/{webhook_id}/rotate")
async def rotate(request: Request, webhook_id: str, person: Acting) -> HTMLResponse:
    await _allowed(request, person, ENDPOINT_ROUTE)
    try:
        hook, secret = await _service(request).rotate(person.caller, webhook_id)
    except ClaimError as err:
        await record(request, person, ENDPOINT_ROUTE, action="rotate_webhook_secret",
                     status=err.status_code)  # fmt: skip
        raise
    await record(request, person, ENDPOINT_ROUTE, action="rotate_webhook_secret")
    return await _list_page(request, person, secret=secret, secret_for=hook, rotated=True)


@router.post("/webhooks/{webhook_id}/delete")
async def delete(request: Request, webhook_id: str, person: Acting) -> HTMLResponse:
    await _allowed(request, person, ENDPOINT_ROUTE)
    service = _service(request)
    try:
        hook = await service.endpoint(person.caller, webhook_id)
        await service.delete(person.caller, webhook_id)
    except ClaimError as err:
        await record(request, person, ENDPOINT_ROUTE, action="delete_webhook",
                     status=err.status_code)  # fmt: skip
        raise
    await record(request, person, ENDPOINT_ROUTE, action="delete_webhook")
    notice = f"The endpoint {hook.url} is deleted; its undelivered messages are dropped."
    return await _list_page(request, person, notice=notice)


async def _endpoint_page(
    request: Request, person: ActiveSession, webhook_id: str, *, notice: str | None = None
) -> HTMLResponse:
    service = _service(request)
    try:
        hook = await service.endpoint(person.caller, webhook_id)
    except ClaimError as err:
        await record(request, person, ENDPOINT_ROUTE, status=err.status_code)
        raise
    sent = await service.deliveries(person.caller, hook.id)
    await record(request, person, ENDPOINT_ROUTE)
    return page(
        request, "webhook.html", person, title="Webhook deliveries", hook=hook,
        deliveries=sent, retriable=RETRIABLE, notice=notice,
    )  # fmt: skip


@router.get("/webhooks/{webhook_id}")
async def endpoint_page(
    request: Request, webhook_id: str, person: Person, retried: str | None = None
) -> HTMLResponse:
    await _allowed(request, person, ENDPOINT_ROUTE)
    notice = "The delivery is sent again now, with a fresh retry period." if retried else None
    return await _endpoint_page(request, person, webhook_id, notice=notice)


@router.post("/webhooks/{webhook_id}/deliveries/{delivery_id}/retry")
async def retry(request: Request, webhook_id: str, delivery_id: str, person: Acting) -> Response:
    route = f"{ENDPOINT_ROUTE}/deliveries/{{delivery_id}}/retry"
    await _allowed(request, person, route)
    try:
        await _service(request).retry(person.caller, webhook_id, delivery_id)
    except ClaimError as err:
        await record(request, person, route, action="retry_delivery", status=err.status_code)
        raise
    await record(request, person, route, action="retry_delivery", status=202)
    # Back to the endpoint's page (a reload there sends nothing again).
    return RedirectResponse(f"/console/webhooks/{webhook_id}?retried=1", status_code=303)
