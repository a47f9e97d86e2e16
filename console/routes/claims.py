"""The claims list: the same query as `GET /v1/claims` (filters, order, cursor pages) through the
same service method, and finding a claim by number or by claimant (name and date of birth, sent
in the form body and looked up by keyed hash)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from console import services
from console.audit import record
from console.render import page
from console.session import Acting, Person
from domain.errors import InvalidInput
from domain.models import ClaimantLookup, ClaimPage, ClaimQuery, Outcome, Stage
from domain.parsing import parse_lookup
from domain.profiles import PROFILES

router = APIRouter(prefix="/console")
ROUTE = "/console/claims"


def _query(params: dict[str, Any]) -> ClaimQuery:
    """The filters of the form (empty fields dropped) as the API's query model."""
    kept = {k: v for k, v in params.items() if v not in ("", None) and k in ClaimQuery.model_fields}
    kept.setdefault("sort", "next_deadline")
    try:
        return ClaimQuery.model_validate(kept)
    except ValidationError as err:
        raise InvalidInput.from_validation(err, "the filters are invalid") from None


def _choices() -> dict[str, Any]:
    return {
        "stages": [s.value for s in Stage],
        "outcomes": [o.value for o in Outcome],
        "jurisdictions": sorted(PROFILES),
    }


@router.get(ROUTE.removeprefix("/console"))
async def claims_page(request: Request, person: Person) -> HTMLResponse:
    query = _query(dict(request.query_params))
    found: ClaimPage = await services.claim_service(request).list_claims(query, person.caller)
    await record(request, person, ROUTE)
    return page(
        request, "claims.html", person, title="Claims", claims=found, query=query,
        filters={k: v for k, v in request.query_params.items() if k != "cursor" and v},
        searched=False, **_choices(),
    )  # fmt: skip


@router.post(ROUTE.removeprefix("/console") + "/search")
async def find_by_claimant(request: Request, person: Acting) -> HTMLResponse:
    form = await request.form()
    body = {"full_name": form.get("full_name"), "date_of_birth": form.get("date_of_birth")}
    error = None
    found = ClaimPage(items=[], next_cursor=None)
    try:
        lookup: ClaimantLookup = parse_lookup(body)
        query = ClaimQuery(limit=50, sort="next_deadline")
        found = await services.claim_service(request).list_claims(
            query, person.caller, claimant=lookup
        )
    except InvalidInput:
        # Which field, never what was typed.
        error = "Give the claimant's full name and date of birth (YYYY-MM-DD)."
    await record(request, person, ROUTE + "/search", status=422 if error else 200)
    return page(
        request, "claims.html", person, title="Claims", claims=found, query=ClaimQuery(),
        filters={}, searched=True, search_error=error,
        status_code=422 if error else 200, **_choices(),
    )  # fmt: skip
