"""Taking an action from a console form: one path for every page that offers one (the claim page,
the safety case page). As the API's action route: the claim (404), the role (403), the payload
(422), the claim's state (409), with the form's idempotency key so a double click or a resent
form is applied once; every attempt an access-log row with the person's id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from starlette.datastructures import FormData

from claim_service import ClaimService
from console.audit import read_claim, record
from domain.errors import ClaimError
from domain.names import Action
from people.accounts import ActiveSession

BodyOf = Callable[[Action, FormData], dict[str, Any]]


def form_text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value.strip() if isinstance(value, str) and value.strip() else None


def refusal(err: ClaimError) -> str:
    """The API's own words, with the fields it names (never a value the person typed)."""
    message = err.message
    for detail in err.details if isinstance(err.details, list) else []:
        if isinstance(detail, dict) and detail.get("field"):
            message += f" ({detail['field']}: {detail.get('message', 'invalid')})"
    return message


async def take_action(
    request: Request,
    person: ActiveSession,
    claim_id: str,
    action: Action,
    route: str,
    body_of: BodyOf,
) -> ClaimError | None:
    """Perform the form's action; None when done, else the refusal to show at the form (409,
    422). A claim the person may not read (404) or an action their role may not take (403)
    raises, as for the API."""
    claims: ClaimService = request.app.state.claims
    current = await read_claim(request, person, claim_id, route, action=action.value)
    form = await request.form()
    key = form_text(form, "idempotency_key")
    try:
        claims.authorize(person.caller, action)
        await claims.act_on(
            current, action, body_of(action, form), person.caller,
            idempotency_key=f"console:{key}" if key else None,
        )  # fmt: skip
    except ClaimError as err:
        await record(
            request, person, route, claim_id=claim_id, action=action.value, status=err.status_code
        )
        if err.status_code == 403:
            raise
        return err
    await record(request, person, route, claim_id=claim_id, action=action.value)
    return None
