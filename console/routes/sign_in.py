"""Signing in and out, and a new person's sign-up (password and authenticator)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console import services
from console.render import page
from console.session import (
    Acting,
    forget_cookie,
    new_pre_session_token,
    pre_session_cookie,
    pre_session_ok,
    session_cookie,
    set_cookie,
)
from domain.errors import ClaimError, InvalidInput, Unauthenticated

router = APIRouter(prefix="/console")
SIGN_IN = "/console/sign-in"
HOME = "/console/queue"
# One answer for every failed sign-in: nobody learns which of the three was wrong.
REFUSED = "The email, password or authentication code is not right."


def _form_page(
    request: Request,
    *,
    status_code: int = 200,
    message: str | None = None,
    email: str = "",
    notice: str | None = None,
) -> HTMLResponse:
    token = new_pre_session_token()
    answer = page(
        request, "sign_in.html", None, status_code=status_code, title="Sign in",
        csrf=token, message=message, email=email, notice=notice,
    )  # fmt: skip
    settings = request.app.state.settings
    set_cookie(answer, settings, pre_session_cookie(settings), token, max_age=3600)
    return answer


@router.get("")
async def console_home() -> Response:
    return RedirectResponse(HOME, status_code=303)


@router.get("/sign-in")
async def sign_in_form(request: Request, signed_out: str | None = None) -> HTMLResponse:
    notice = "You are signed out." if signed_out else None
    return _form_page(request, notice=notice)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    if not await pre_session_ok(request):
        return _form_page(
            request, status_code=403, message="The form was out of date; please sign in again."
        )
    form = await request.form()
    email = str(form.get("email") or "").strip()
    password = str(form.get("password") or "")
    code = str(form.get("code") or "").strip()
    client = request.client.host if request.client else None
    try:
        new = await services.accounts(request).sign_in(email, password, code, client)
    except Unauthenticated:
        return _form_page(request, status_code=401, message=REFUSED, email=email[:320])
    except ClaimError as err:  # too many attempts (429, with Retry-After)
        refused = _form_page(request, status_code=err.status_code, message=err.message)
        retry_after = getattr(err, "retry_after", None)
        if retry_after:
            refused.headers["Retry-After"] = str(retry_after)
        return refused
    settings = request.app.state.settings
    answer = RedirectResponse(HOME, status_code=303)
    lifetime = int(settings.session_absolute_hours * 3600)
    set_cookie(answer, settings, session_cookie(settings), new.token, max_age=lifetime)
    forget_cookie(answer, settings, pre_session_cookie(settings))
    return answer


def _signed_out(request: Request) -> Response:
    settings = request.app.state.settings
    answer = RedirectResponse(f"{SIGN_IN}?signed_out=1", status_code=303)
    forget_cookie(answer, settings, session_cookie(settings))
    return answer


@router.post("/sign-out")
async def sign_out(request: Request, person: Acting) -> Response:
    token = request.cookies.get(session_cookie(request.app.state.settings)) or ""
    await services.accounts(request).sign_out(token)
    return _signed_out(request)


@router.post("/sign-out-everywhere")
async def sign_out_everywhere(request: Request, person: Acting) -> Response:
    await services.accounts(request).sign_out_everywhere(person.user.id)
    return _signed_out(request)


@router.get("/sign-up/{token}")
async def sign_up_form(request: Request, token: str) -> HTMLResponse:
    enrolment = await services.accounts(request).enrolment(token)
    if enrolment is None:
        return page(
            request, "error.html", None, status_code=404, title="This link does not work",
            message="The sign-up link is unknown, used or expired. Ask operations for a new one.",
        )  # fmt: skip
    return page(request, "sign_up.html", None, title="Set up your account", enrolment=enrolment,
                token=token, errors={})  # fmt: skip


@router.post("/sign-up/{token}")
async def sign_up(request: Request, token: str) -> Response:
    accounts = services.accounts(request)
    form = await request.form()
    password = str(form.get("password") or "")
    again = str(form.get("password_again") or "")
    code = str(form.get("code") or "").strip()
    errors: dict[str, str] = {}
    enrolment = await accounts.enrolment(token)
    if enrolment is None:
        return RedirectResponse(SIGN_IN, status_code=303)
    if enrolment.needs_password and password != again:
        errors["password_again"] = "The two passwords are not the same."
    else:
        try:
            await accounts.complete_sign_up(
                token, password if enrolment.needs_password else None, code
            )
        except InvalidInput as err:
            errors = {d["field"]: d["message"] for d in err.details or [] if "field" in d}
            errors = errors or {"form": err.message}
    if not errors:
        return RedirectResponse(SIGN_IN, status_code=303)
    return page(request, "sign_up.html", None, status_code=422, title="Set up your account",
                enrolment=enrolment, token=token, errors=errors)  # fmt: skip
