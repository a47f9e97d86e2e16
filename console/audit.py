"""The access log of the console: what each person read and did, with their account id, in the
same append-only log as the API's (HIPAA 164.312(b))."""

from __future__ import annotations

import logging

from fastapi import Request

from domain.errors import NotFound
from domain.models import ClaimStatus
from people.accounts import ActiveSession
from store.access_log import AccessEntry, AccessLog

log = logging.getLogger("ime.console")


async def record(
    request: Request,
    person: ActiveSession,
    route: str,
    *,
    claim_id: str | None = None,
    action: str | None = None,
    status: int = 200,
    document_id: str | None = None,
) -> None:
    """One row per page read or action, before the page leaves (a page that cannot be logged
    is not shown: the caller's exception becomes a 503)."""
    access_log: AccessLog = request.app.state.access_log
    caller = person.caller
    await access_log.record(
        AccessEntry(
            key_id=None,
            user_id=caller.user_id,
            role=caller.role.value,
            insurer_id=caller.insurer_id,
            examiner_id=caller.examiner_id,
            method=request.method,
            route=route,
            claim_id=claim_id,
            action=action,
            status=status,
            request_id=request.scope.get("state", {}).get("request_id"),
            credential="console_session",
            document_id=document_id,
        )
    )


async def read_claim(
    request: Request, person: ActiveSession, claim_id: str, route: str, *, action: str | None = None
) -> ClaimStatus:
    """The claim as the person may read it (`ClaimService.get`, as the API reads it); one outside
    their scope is an access-log row (404) and raises. The caller logs what it then does."""
    try:
        claim: ClaimStatus = await request.app.state.claims.get(claim_id, person.caller)
    except NotFound:
        await record(request, person, route, action=action, status=404)
        raise
    return claim
