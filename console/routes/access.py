"""The access log (HIPAA 164.312(b)): who read or acted on a claim, or what one person did, newest
first. Ids only: the log holds no PHI."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from claim_service import ClaimService
from console.audit import record
from console.render import page
from console.session import Person
from domain.access import Capability
from domain.ids import plausible_claim_id
from people.accounts import Accounts
from store import access_log

router = APIRouter(prefix="/console")


@router.get("/access")
async def access_page(
    request: Request,
    person: Person,
    claim_id: str | None = None,
    user_id: str | None = None,
    cursor: str | None = None,
) -> HTMLResponse:
    ClaimService.require(person.caller, Capability.READ_ACCESS_LOG)
    pool = request.app.state.pool
    accounts: Accounts = request.app.state.accounts
    users = await accounts.list_users()
    entries = None
    error = None
    if claim_id:
        if plausible_claim_id(claim_id.strip()):
            entries = await access_log.claim_page(pool, claim_id.strip(), cursor=cursor)
        else:
            error = "That is not a claim id (open the claim and follow its access log link)."
    elif user_id:
        entries = await access_log.person_page(pool, user_id, cursor=cursor)
    await record(request, person, "/console/access")
    names = {u.id: u.name for u in users}
    return page(
        request, "access.html", person, title="Access log", users=users, names=names,
        entries=entries, claim_id=claim_id or "", user_id=user_id or "", error=error,
    )  # fmt: skip
