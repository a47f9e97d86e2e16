"""Accounts (ops): the people who sign in, their roles; adding one (a one-time sign-up link to
hand over), deactivating (their sessions end at once) and resetting an authenticator."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from claim_service import ClaimService
from console import services
from console.render import page
from console.session import Acting, Person
from domain.access import Capability
from domain.errors import ClaimError, NotFound
from domain.names import Role
from people.accounts import Accounts
from store.users import User

router = APIRouter(prefix="/console")


async def _page(
    request: Request, person: Person, *, status_code: int = 200, **context: object
) -> HTMLResponse:
    users = await services.accounts(request).list_users()
    return page(request, "accounts.html", person, status_code=status_code, title="Accounts",
                users=users, roles=[r.value for r in Role], **context)  # fmt: skip


@router.get("/accounts")
async def accounts_page(request: Request, person: Person) -> HTMLResponse:
    ClaimService.require(person.caller, Capability.MANAGE_ACCOUNTS)
    return await _page(request, person)


def _field(form: object, name: str) -> str | None:
    value = form.get(name) if hasattr(form, "get") else None
    return value.strip() if isinstance(value, str) and value.strip() else None


@router.post("/accounts")
async def add_person(request: Request, person: Acting) -> Response:
    ClaimService.require(person.caller, Capability.MANAGE_ACCOUNTS)
    form = await request.form()
    try:
        role = Role(_field(form, "role") or "")
    except ValueError:
        return await _page(request, person, status_code=422, error="Choose a role.")
    try:
        _, link = await services.accounts(request).create_user(
            role=role,
            email=_field(form, "email") or "",
            name=_field(form, "name") or "",
            insurer_id=_field(form, "insurer_id") if role is Role.INSURER else None,
            examiner_id=_field(form, "examiner_id") if role is Role.EXAMINER else None,
            by=person.caller,
            # An unticked box sends nothing; ticked for a role other than insurer: 422.
            supervisor=_field(form, "supervisor") == "yes",
        )
    except ClaimError as err:
        return await _page(request, person, status_code=err.status_code, error=err.message)
    return await _page(request, person, link=link)


async def _find(accounts: Accounts, user_id: str) -> User:
    found = next((u for u in await accounts.list_users() if u.id == user_id), None)
    if found is None:
        raise NotFound("no such person")
    return found


@router.post("/accounts/{user_id}/deactivate")
async def deactivate(request: Request, user_id: str, person: Acting) -> Response:
    ClaimService.require(person.caller, Capability.MANAGE_ACCOUNTS)
    accounts = services.accounts(request)
    user = await _find(accounts, user_id)
    await accounts.deactivate(user.email, by=person.caller)
    return await _page(request, person, notice=f"{user.name} is deactivated; their sessions ended.")


@router.post("/accounts/{user_id}/reset-mfa")
async def reset_mfa(request: Request, user_id: str, person: Acting) -> Response:
    ClaimService.require(person.caller, Capability.MANAGE_ACCOUNTS)
    accounts = services.accounts(request)
    user = await _find(accounts, user_id)
    link = await accounts.reset_mfa(user.email, by=person.caller)
    notice = f"{user.name}'s authenticator is reset; their sessions ended."
    return await _page(request, person, link=link, notice=notice)
