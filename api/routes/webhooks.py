"""Insurers' webhook endpoints: register (the signing secret is shown once), list, delete, rotate
the secret, and see or retry their deliveries. An insurer manages its own endpoints (others are
404 to it); ops manage any insurer's."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import ValidationError

from api.deps import JsonBody, PoolDep, capability
from api.openapi import errors, json_body, who
from delivery.ssrf import UrlRefused, check_url, parse_networks
from domain.access import CAPABILITY_ROLES, Capability
from domain.errors import Forbidden, InvalidInput, NotFound
from domain.models import (
    INTAKE,
    Caller,
    DeliveryOut,
    WebhookCreated,
    WebhookIn,
    WebhookOut,
    WebhookSecret,
)
from domain.names import Role
from settings import Settings
from store import webhooks
from store.webhooks import Webhook

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


async def _own(db: PoolDep, caller: Caller, webhook_id: str) -> Webhook:
    hook = await webhooks.find(db, webhook_id)
    if hook is None or (caller.role is Role.INSURER and hook.insurer_id != caller.insurer_id):
        raise NotFound("no such webhook")
    return hook


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
async def create_webhook(
    request: Request, caller: Manager, db: PoolDep, body: JsonBody
) -> WebhookCreated:
    try:
        wanted = WebhookIn.model_validate(body, context=INTAKE)
    except ValidationError as err:
        raise InvalidInput.from_validation(err, "the webhook is invalid") from None
    insurer_id = wanted.insurer_id or caller.insurer_id
    if caller.role is Role.INSURER and insurer_id != caller.insurer_id:
        raise Forbidden("an insurer key registers endpoints for its own insurer only")
    if insurer_id is None:
        raise InvalidInput(
            "the webhook is invalid",
            details=[{"field": "insurer_id", "message": "ops name the insurer"}],
        )
    settings: Settings = request.app.state.settings
    try:
        # Stored as it is called: normalised (scheme and host in lower case, IDNA, no default
        # port), and checked once here; each send checks the address it connects to.
        url = await check_url(
            wanted.url,
            allow_http=settings.development,
            allowed=parse_networks(settings.webhook_allowed_networks),
        )
    except UrlRefused as refused:
        raise InvalidInput(
            "the webhook URL may not be called", details=[{"field": "url", "message": str(refused)}]
        ) from None
    hook, secret = await webhooks.create(
        db,
        request.app.state.sealer,
        insurer_id=insurer_id,
        url=url,
        event_types=list(wanted.event_types),
    )
    return WebhookCreated(**_out(hook).model_dump(), secret=secret)


@router.get(
    "",
    response_model=list[WebhookOut],
    operation_id="list_webhooks",
    description=_WHO + " Never the secret.",
    responses=errors(401, 403, 422, 503),
)
async def list_webhooks(
    caller: Manager,
    db: PoolDep,
    insurer_id: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")] = None,
) -> list[WebhookOut]:
    scope = caller.insurer_id if caller.role is Role.INSURER else insurer_id
    return [_out(h) for h in await webhooks.for_insurer(db, scope)]


@router.delete(
    "/{webhook_id}",
    status_code=204,
    operation_id="delete_webhook",
    description=_WHO + " Its undelivered messages are dropped.",
    responses=errors(401, 403, 404, 503),
)
async def delete_webhook(webhook_id: str, caller: Manager, db: PoolDep) -> Response:
    hook = await _own(db, caller, webhook_id)
    async with db.acquire() as conn:
        await webhooks.delete(conn, hook.id)
    return Response(status_code=204)


@router.post(
    "/{webhook_id}/rotate-secret",
    response_model=WebhookSecret,
    operation_id="rotate_webhook_secret",
    description=_WHO + " A new signing secret, shown once; deliveries sign with it from now on.",
    responses=errors(401, 403, 404, 503),
)
async def rotate_secret(
    request: Request, webhook_id: str, caller: Manager, db: PoolDep
) -> WebhookSecret:
    hook = await _own(db, caller, webhook_id)
    secret = await webhooks.rotate(db, request.app.state.sealer, hook.id)
    return WebhookSecret(id=hook.id, secret=secret)


@router.get(
    "/{webhook_id}/deliveries",
    response_model=list[DeliveryOut],
    operation_id="webhook_deliveries",
    description=_WHO + " The newest first: status, attempts, next attempt, last error.",
    responses=errors(401, 403, 404, 503),
)
async def deliveries(webhook_id: str, caller: Manager, db: PoolDep) -> list[DeliveryOut]:
    hook = await _own(db, caller, webhook_id)
    return [DeliveryOut(**vars(d)) for d in await webhooks.deliveries(db, hook.id)]


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/retry",
    status_code=202,
    operation_id="retry_delivery",
    description=_WHO + " Sends a delivery again now (a dead one too), with a fresh retry period.",
    responses=errors(401, 403, 404, 503),
)
async def retry_delivery(
    webhook_id: str, delivery_id: str, caller: Manager, db: PoolDep
) -> Response:
    hook = await _own(db, caller, webhook_id)
    try:
        found = await webhooks.retry(db, hook.id, delivery_id, retry_hours=24)
    except ValueError:
        found = False
    if not found:
        raise NotFound("no such undelivered delivery")
    return Response(status_code=202)
