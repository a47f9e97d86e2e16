"""The access log of the console: what each person read and did, with their account id, in the
same append-only log as the API's (HIPAA 164.312(b))."""

from __future__ import annotations

import logging

from fastapi import Request

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
