"""What a request handler needs, as `Annotated` dependency aliases: the claim service, the pool,
the caller, the codec, the claim they may read, the JSON body. Routes declare `claims: ClaimsDep`,
`caller: CallerDep`, ... Dependencies run in the order a route declares them, which is the order
of the checks: who (401, at the boundary), which claim (404), may they (403), what (422).

Every dependency is `async def`, even those that only read state: FastAPI runs a plain `def`
dependency in its thread pool, a thread hop (and GIL hand-over) per dependency per request.
"""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import Authenticator
from claim_service import ClaimService
from codec import EncryptionCodec
from domain.access import Capability
from domain.errors import Unauthenticated
from domain.models import Caller, ClaimStatus
from domain.parsing import parse_json

# Declares the scheme in the OpenAPI document (so /docs has "Authorize"); keys are checked by the
# boundary middleware before any route runs.
bearer = HTTPBearer(auto_error=False, description="an API key: `imek_...`")


async def _pool(request: Request) -> asyncpg.Pool:
    return request.app.state.pool


async def _claims(request: Request) -> ClaimService:
    return request.app.state.claims


async def _codec(request: Request) -> EncryptionCodec:
    return request.app.state.codec


async def _authenticator(request: Request) -> Authenticator:
    return request.app.state.authenticator


async def _caller(
    request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Caller:
    return caller_of(request)


def caller_of(request: Request) -> Caller:
    """The caller the boundary authenticated (401 if none): `CallerDep` without the dependency,
    for the status poll, whose every microsecond counts (FastAPI solves each dependency with
    a walk of its own). Such a route declares `BEARER_SECURITY` in its `openapi_extra`."""
    caller: Caller | None = request.scope.get("state", {}).get("caller")
    if caller is None:
        raise Unauthenticated("a valid API key is required (Authorization: Bearer <key>)")
    return caller


# What a route depending on `bearer` has in the OpenAPI document, for one that does not.
BEARER_SECURITY: dict[str, Any] = {"security": [{bearer.scheme_name: []}]}


async def read_json(request: Request) -> Any:
    """The body as strict JSON (None when empty), read only once the caller may send it."""
    return parse_json(await request.body())


PoolDep = Annotated[asyncpg.Pool, Depends(_pool)]
ClaimsDep = Annotated[ClaimService, Depends(_claims)]
CodecDep = Annotated[EncryptionCodec, Depends(_codec)]
AuthenticatorDep = Annotated[Authenticator, Depends(_authenticator)]
CallerDep = Annotated[Caller, Depends(_caller)]
JsonBody = Annotated[Any, Depends(read_json)]


async def _readable_claim(claim_id: str, claims: ClaimsDep, caller: CallerDep) -> ClaimStatus:
    return await claims.get(claim_id, caller)


# The claim of the path, if the caller may read it (else 404: no existence leak).
ReadableClaim = Annotated[ClaimStatus, Depends(_readable_claim)]


def capability(needed: Capability) -> Any:
    """A dependency refusing (403) callers whose role lacks `needed`."""

    async def check(caller: CallerDep) -> Caller:
        ClaimService.require(caller, needed)
        return caller

    return Depends(check)
