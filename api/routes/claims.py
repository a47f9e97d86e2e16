"""Claims: start, read, audit timeline, actions."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from api.deps import Principal, claim_service, principal
from claim_service import ClaimService, parse_referral
from domain.errors import InvalidInput
from domain.models import ClaimEvent, ClaimPage, ClaimQuery, ClaimStatus

router = APIRouter(prefix="/v1/claims", tags=["claims"])


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise InvalidInput("the request body is not valid JSON") from None


@router.post("", response_model=ClaimStatus, status_code=201)
async def start_claim(
    response: Response,
    body: Any = Depends(json_body),
    claims: ClaimService = Depends(claim_service),
    _: Principal = Depends(principal),
) -> ClaimStatus:
    referral = parse_referral(body)
    status, created = await claims.start(referral)
    if not created:
        response.status_code = 200
    return status


@router.get("", response_model=ClaimPage)
async def list_claims(
    query: Annotated[ClaimQuery, Query()],
    claims: ClaimService = Depends(claim_service),
    caller: Principal = Depends(principal),
) -> ClaimPage:
    return await claims.list(query, insurer_id=caller.insurer_id)


@router.get("/{claim_id}", response_model=ClaimStatus)
async def get_claim(
    claim_id: str,
    claims: ClaimService = Depends(claim_service),
    _: Principal = Depends(principal),
) -> ClaimStatus:
    return await claims.get(claim_id)


@router.get("/{claim_id}/events", response_model=list[ClaimEvent])
async def claim_events(
    claim_id: str,
    claims: ClaimService = Depends(claim_service),
    _: Principal = Depends(principal),
) -> list[ClaimEvent]:
    return await claims.events(claim_id)


@router.post("/{claim_id}/actions/{action}", response_model=ClaimStatus)
async def act(
    claim_id: str,
    action: str,
    idempotency_key: Annotated[
        str | None,
        Header(max_length=200, description="retries with the same key are applied once"),
    ] = None,
    body: Any = Depends(json_body),
    claims: ClaimService = Depends(claim_service),
    _: Principal = Depends(principal),
) -> ClaimStatus:
    return await claims.act(claim_id, action, body, idempotency_key=idempotency_key)
