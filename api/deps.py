"""What a request handler needs, as `Annotated` dependency aliases: the claim service, the pool,
the caller, the JSON body. Routes declare `claims: ClaimsDep`, `caller: CallerDep`, ...
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import Depends, Request

from claim_service import ClaimService
from codec import EncryptionCodec
from domain.errors import InvalidInput

Role = Literal["ops", "insurer", "examiner", "reviewer", "clinician", "sre"]


@dataclass(frozen=True)
class Principal:
    role: Role
    insurer_id: str | None = None
    examiner_id: str | None = None


def _pool(request: Request) -> asyncpg.Pool:
    return request.app.state.pool


def _claims(request: Request) -> ClaimService:
    return request.app.state.claims


def _codec(request: Request) -> EncryptionCodec:
    return request.app.state.codec


def _caller(request: Request) -> Principal:
    """Who is calling. Until API keys are enforced every caller acts as operations; routes already
    depend on this so scoping slots in without touching them."""
    return Principal(role="ops")


async def _json_body(request: Request) -> Any:
    """The body as JSON (None when empty). Read raw, so that the error never echoes it."""
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise InvalidInput("the request body is not valid JSON") from None


PoolDep = Annotated[asyncpg.Pool, Depends(_pool)]
ClaimsDep = Annotated[ClaimService, Depends(_claims)]
CodecDep = Annotated[EncryptionCodec, Depends(_codec)]
CallerDep = Annotated[Principal, Depends(_caller)]
JsonBody = Annotated[Any, Depends(_json_body)]
