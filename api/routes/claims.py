"""Claims: start, read, audit timeline, actions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from api.deps import CallerDep, ClaimsDep, JsonBody
from claim_service import parse_referral
from domain.models import ClaimEvent, ClaimPage, ClaimQuery, ClaimStatus

router = APIRouter(prefix="/v1/claims", tags=["claims"])


@router.post("", response_model=ClaimStatus, status_code=201)
async def start_claim(
    response: Response, body: JsonBody, claims: ClaimsDep, caller: CallerDep
) -> ClaimStatus:
    referral = parse_referral(body)
    status, created = await claims.start(referral)
    if not created:
        response.status_code = 200
    return status


@router.get("", response_model=ClaimPage)
async def list_claims(
    query: Annotated[ClaimQuery, Query()], claims: ClaimsDep, caller: CallerDep
) -> ClaimPage:
    return await claims.list_claims(query, insurer_id=caller.insurer_id)


@router.get("/{claim_id}", response_model=ClaimStatus)
async def get_claim(claim_id: str, claims: ClaimsDep, caller: CallerDep) -> ClaimStatus:
    return await claims.get(claim_id)


@router.get("/{claim_id}/events", response_model=list[ClaimEvent])
async def claim_events(claim_id: str, claims: ClaimsDep, caller: CallerDep) -> list[ClaimEvent]:
    return await claims.events(claim_id)


@router.post("/{claim_id}/actions/{action}", response_model=ClaimStatus)
async def act(
    claim_id: str,
    action: str,
    body: JsonBody,
    claims: ClaimsDep,
    caller: CallerDep,
    idempotency_key: Annotated[
        str | None,
        Header(max_length=200, description="retries with the same key are applied once"),
    ] = None,
) -> ClaimStatus:
    return await claims.act(claim_id, action, body, idempotency_key=idempotency_key)
