"""The console's place in the API process: its routes, its static assets, its headers and its
error pages. `api.app` calls `install`; nothing here is a second implementation of a rule — every
page asks the same services the API routes ask (`claim_service`, `work_queue`, `panel_service`,
`people`)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.formparsers import MultiPartParser

from api.errors import error_response
from console.headers import ConsoleHeaders
from console.render import render_error
from console.routes import (
    access,
    accounts,
    away,
    bulk,
    claim,
    claims,
    clinician,
    deliveries,
    panel,
    queue,
    report,
    reviews,
    sign_in,
    team,
    webhooks,
    worklist,
)
from console.session import SignInRequired
from domain.errors import ClaimError
from settings import Settings

STATIC = Path(__file__).parent / "static"
PREFIX = "/console"


def install(app: FastAPI, settings: Settings) -> None:
    # A form's file (a bulk start's referrals: names, dates of birth) stays in memory, bounded by
    # the boundary's form limit, rather than spooling to a temporary file past 1 MB: PHI never
    # reaches the disk unsealed. (Starlette's parser setting; the console's forms are this
    # process's only parsed multipart bodies.)
    MultiPartParser.spool_max_size = max(MultiPartParser.spool_max_size, settings.max_form_bytes)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="console-static")
    modules = (
        sign_in, queue, clinician, worklist, away, report, reviews, claims, claim, bulk, panel,
        deliveries, access, accounts, webhooks, team,
    )  # fmt: skip
    for module in modules:
        app.include_router(module.router, include_in_schema=False)
    app.add_middleware(ConsoleHeaders, prefix=PREFIX)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, _: SignInRequired) -> Response:
        # An htmx request (a live refresh) takes the whole page to the sign-in form.
        if request.headers.get("hx-request"):
            return Response(status_code=204, headers={"HX-Redirect": sign_in.SIGN_IN})
        return RedirectResponse(sign_in.SIGN_IN, status_code=303)

    @app.exception_handler(ClaimError)
    async def _claim_error(request: Request, err: ClaimError) -> Response:
        # The API's answers stay JSON; a console page says the same thing as a page.
        if request.scope["path"].startswith(PREFIX):
            return render_error(request, err)
        answer: JSONResponse = error_response(err)
        return answer
