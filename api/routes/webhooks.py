"""Insurers' webhook endpoints: register (the signing secret is shown once), list, delete, rotate
the secret, and see or retry their deliveries. An insurer manages its own endpoints (others are
404 to it); ops manage any insurer's. The rules are `webhook_service`'s, shared with the console."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import ValidationError

from api.deps import JsonBody, capability
from api.openapi import errors, json_body, who
from domain.access import CAPABILITY_ROLES, Capability
from domain.errors import InvalidInput
from domain.models import (
    INTAKE,
    Caller,
    DeliveryOut,
    WebhookCreated,
    WebhookIn,
    WebhookOut,
    WebhookSecret,
)
from store.webhooks import Webhook
from webhook_service import WebhookService

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
Manager = Annotated[Caller, capability(Capability.MANAGE_WEBHOOKS)]
_WHO = who(
    (r.value for r in CAPABILITY_ROLES[Capability.MANAGE_WEBHOOKS]),
    "An insurer key manages its own insurer's endpoints; ops any insurer's.",
)


def _out(hook: Webhook) -> WebhookOut:
    return WebhookOut(
        id=hook.id,
        insurer_id=hook.insurer_id,
        url=hook.url,
        event_types=hook.event_types,
        created_at=hook.created_at,
        rotated_at=hook.rotated_at,
    )


def _service(request: Request) -> WebhookService:
    return WebhookService(
        request.app.state.pool, request.app.state.sealer, request.app.state.settings
    )


@router.post(
    "",
    response_model=WebhookCreated,
    status_code=201,
    operation_id="create_webhook",
    description=_WHO + " The answer carries the signing secret (`whsec_...`), once. The URL "
    "must be https and resolve to public addresses only, with no userinfo, fragment, port 0, "
    "whitespace or control character (422 otherwise); it is stored normalised.",
    responses=errors(401, 403, 413, 415, 422, 503),
    openapi_extra=json_body(WebhookIn),
)
async def create_webhook(request: Request, caller: Manager, body: JsonBody) -> WebhookCreated:
    try:
        wanted = WebhookIn.model_validate(body, context=INTAKE)
    except ValidationError as err:
        raise InvalidInput.from_validation(err, "the webhook is invalid") from None
    hook, secret = await _service(request).register(caller, wanted)
    return WebhookCreated(**_out(hook).model_dump(), secret=secret)


@router.get(
    "",
    response_model=list[WebhookOut],
    operation_id="list_webhooks",
    description=_WHO + " Never the secret.",
    responses=errors(401, 403, 422, 503),
)
async def list_webhooks(
    request: Request,
    caller: Manager,
    insurer_id: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")] = None,
) -> list[WebhookOut]:
    return [_out(h) for h in await _service(request).endpoints(caller, insurer_id)]


@router.delete(
    "/{webhook_id}",
    status_code=204,
    operation_id="delete_webhook",
    description=_WHO + " Its undelivered messages are dropped.",
    responses=errors(401, 403, 404, 503),
)
async def delete_webhook(request: Request, webhook_id: str, caller: Manager) -> Response:
    await _service(request).delete(caller, webhook_id)
    return Response(status_code=204)


@router.post(
    "/{webhook_id}/rotate-secret",
    response_model=WebhookSecret,
    operation_id="rotate_webhook_secret",
    description=_WHO + " A new signing secret, shown once; deliveries sign with it from now on.",
    responses=errors(401, 403, 404, 503),
)
async def rotate_secret(request: Request, webhook_id: str, caller: Manager) -> WebhookSecret:
    hook, secret = await _service(request).rotate(caller, webhook_id)
    return WebhookSecret(id=hook.id, secret=secret)


@router.get(
    "/{webhook_id}/deliveries",
    response_model=list[DeliveryOut],
    operation_id="webhook_deliveries",
    description=_WHO + " The newest first: status, attempts, next attempt, last error.",
    responses=errors(401, 403, 404, 503),
)
async def deliveries(request: Request, webhook_id: str, caller: Manager) -> list[DeliveryOut]:
    return [DeliveryOut(**vars(d)) for d in await _service(request).deliveries(caller, webhook_id)]


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/retry",
    status_code=202,
    operation_id="retry_delivery",
    description=_WHO + " Sends a delivery again now (a dead one too), with a fresh retry period.",
    responses=errors(401, 403, 404, 503),
)
async def retry_delivery(
    request: Request, webhook_id: str, delivery_id: str, caller: Manager
) -> Response:
    await _service(request).retry(caller, webhook_id, delivery_id)
    return Response(status_code=202)
