"""Who is at the console: the signed-in person of the session cookie (`people.accounts`), and the
CSRF check of every state-changing request.

The cookie holds only a random token (its hash is the session's key in Postgres): `HttpOnly`,
`SameSite=Lax`, and in production `Secure` with the `__Host-` prefix (no Domain, path `/`, so no
other host or path can set or shadow it). Every POST carries the session's CSRF token, as the
form field `csrf_token` or the `X-CSRF-Token` header htmx sends; without it: 403, nothing done.
Before sign-in there is no session, so the sign-in form is guarded by a double-submit token
(a cookie of its own and the same value in the form).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Request, Response

from domain.errors import Forbidden
from domain.models import Caller
from people.accounts import Accounts, ActiveSession
from settings import Settings

CSRF_FIELD = "csrf_token"
# Sent by a page's own live refresh (htmx polling): not the person's activity, so it does not
# push the idle timeout on (an unattended queue page still signs out after 15 minutes).
POLL_HEADER = "x-console-poll"
CSRF_HEADER = "x-csrf-token"


class SignInRequired(Exception):
    """No live session: the answer is the sign-in page (`console.app`)."""


def session_cookie(settings: Settings) -> str:
    return "ime_console" if settings.development else "__Host-ime_console"


def pre_session_cookie(settings: Settings) -> str:
    return "ime_console_csrf" if settings.development else "__Host-ime_console_csrf"


def set_cookie(response: Response, settings: Settings, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=not settings.development,
    )


def forget_cookie(response: Response, settings: Settings, name: str) -> None:
    response.delete_cookie(
        name, path="/", httponly=True, samesite="lax", secure=not settings.development
    )


async def _person(request: Request) -> ActiveSession:
    accounts: Accounts = request.app.state.accounts
    token = request.cookies.get(session_cookie(request.app.state.settings))
    polled = request.headers.get(POLL_HEADER) == "1"
    person = await accounts.session(token, activity=not polled) if token else None
    if person is None:
        raise SignInRequired()
    request.state.person = person
    return person


async def _submitted_token(request: Request) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    form = await request.form()
    value = form.get(CSRF_FIELD)
    return value if isinstance(value, str) else None


def check_csrf(person: ActiveSession, token: str | None) -> None:
    """403 unless `token` is the session's CSRF token (also for a streamed upload's form,
    `console.routes.report`, which cannot be parsed here without reading its file)."""
    if not person.csrf_ok(token):
        raise Forbidden("the form is out of date or was not sent from the console; reload it")


async def _checked_person(request: Request) -> ActiveSession:
    """The person of a state-changing request whose CSRF token is the session's."""
    person = await _person(request)
    check_csrf(person, await _submitted_token(request))
    return person


async def pre_session_ok(request: Request) -> bool:
    """The sign-in form's double-submit token matches its cookie."""
    cookie = request.cookies.get(pre_session_cookie(request.app.state.settings)) or ""
    submitted = await _submitted_token(request) or ""
    return bool(cookie) and hmac.compare_digest(cookie.encode(), submitted.encode())


def new_pre_session_token() -> str:
    return secrets.token_urlsafe(32)


Person = Annotated[ActiveSession, Depends(_person)]
# For every POST: the person, with the CSRF token checked before anything is read or done.
Acting = Annotated[ActiveSession, Depends(_checked_person)]


def caller(person: ActiveSession) -> Caller:
    return person.caller
