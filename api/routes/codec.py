"""Codec server: the Temporal UI and CLI decode (and encode) payloads through the API, so the key
ring never leaves the service. Only `sre` and `ops` keys may use it.

Two ways in: `Authorization: Bearer <key>` (the `temporal` CLI's `--codec-auth`, scripts), or a
session cookie for the Temporal UI in a browser: an SRE signs in once at `/codec/sign-in` with
their key, and the UI, configured to include cross-origin credentials, sends the cookie with each
decode. The session ends when it expires or when the key is revoked.

Empty `Payloads` (`{}`, `{"payloads": []}`) are valid: the `temporal` CLI sends `{}` for a signal
without input and for a query's missing arguments. Every encode and decode is a row of the access
log, written before the answer leaves: the key and how it was presented (key or codec session),
how many payloads (never what they hold), the `X-Namespace` the Temporal UI and CLI send, and the
workflow (with its claim) when the caller names one of ours in `X-Workflow-Id`: the UI (2.54) and
the CLI (1.9) name none by themselves; with the CLI an operator may add
`--codec-header X-Workflow-Id=ime-claim-<id>`.
"""

from __future__ import annotations

import logging
import re
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from pydantic import BaseModel, Field, ValidationError
from temporalio.api.common.v1 import Payload, Payloads

from api.auth import CODEC_SESSION_COOKIE
from api.deps import AuthenticatorDep, CodecDep, capability
from api.openapi import errors, json_body, who
from codec import CodecError
from domain.access import CAPABILITY_ROLES, Capability
from domain.errors import InvalidInput, Unavailable
from domain.ids import WORKFLOW_ID_PREFIX, claim_id_from_workflow_id, plausible_claim_id
from domain.models import Caller
from domain.parsing import parse_json
from settings import Settings
from store.access_log import CREDENTIAL_CODEC_SESSION, CREDENTIAL_KEY, AccessEntry

log = logging.getLogger("ime.api")

router = APIRouter(prefix="/codec", tags=["codec"])
CodecUser = Annotated[Caller, capability(Capability.USE_CODEC)]
_WHO = who(r.value for r in CAPABILITY_ROLES[Capability.USE_CODEC])


class PayloadJson(BaseModel):
    metadata: dict[str, str] = Field(default_factory=dict, description="base64 values")
    data: str = Field(default="", description="base64")


class PayloadsJson(BaseModel):
    """Temporal's `Payloads` message in its JSON form; `{}` is the empty one."""

    payloads: list[PayloadJson] = Field(default_factory=list)


async def _payloads(request: Request) -> Payloads:
    raw = await request.body()
    try:
        PayloadsJson.model_validate(parse_json(raw))  # the declared shape, strictly
        return json_format.Parse(raw, Payloads())
    except (ValidationError, json_format.ParseError, ValueError, RecursionError):
        raise InvalidInput("the body is not a JSON Payloads message") from None


def _answer(payloads: list[Payload]) -> JSONResponse:
    # Built field by field: protobuf's JSON drops an empty list, which the schema requires.
    return JSONResponse({"payloads": [json_format.MessageToDict(p) for p in payloads]})


_CODEC_ROUTE = {
    "response_model": PayloadsJson,
    "responses": errors(401, 403, 413, 415, 422, 503),
    "openapi_extra": json_body(PayloadsJson),
    "description": _WHO,
}


@router.post("/encode", operation_id="codec_encode", **_CODEC_ROUTE)  # type: ignore[arg-type]
async def encode(request: Request, caller: CodecUser, codec: CodecDep) -> Response:
    payloads = await _payloads(request)
    encoded = await codec.encode(payloads.payloads)
    await _log(request, caller, "/codec/encode", len(payloads.payloads), 200)
    return _answer(encoded)


@router.post("/decode", operation_id="codec_decode", **_CODEC_ROUTE)  # type: ignore[arg-type]
async def decode(request: Request, caller: CodecUser, codec: CodecDep) -> Response:
    payloads = await _payloads(request)
    try:
        decoded = await codec.decode(payloads.payloads)
    except (CodecError, DecodeError):
        await _log(request, caller, "/codec/decode", len(payloads.payloads), 422)
        raise InvalidInput("a payload could not be decrypted") from None
    await _log(request, caller, "/codec/decode", len(payloads.payloads), 200)
    return _answer(decoded)


# Temporal namespace names; anything else a caller sends there is not recorded (nor echoed).
_NAMESPACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
# One of ours: a claim's workflow, or one of its safety cases.
_CASE_SUFFIX = re.compile(r"^-safety-[0-9]{1,6}$")


def _our_workflow_id(text: str | None) -> str | None:
    if text is None or not text.startswith(WORKFLOW_ID_PREFIX):
        return None
    claim_id = claim_id_from_workflow_id(text)[:24]
    rest = text[len(WORKFLOW_ID_PREFIX) + len(claim_id) :]
    if not plausible_claim_id(claim_id) or (rest and not _CASE_SUFFIX.match(rest)):
        return None
    return text


async def _log(request: Request, caller: Caller, route: str, payloads: int, status: int) -> None:
    """The access-log row of one encode or decode, stored before the answer leaves (nothing is
    decrypted unlogged: a 503 instead when the log cannot be written)."""
    headers = request.headers
    namespace = headers.get("x-namespace")
    workflow_id = _our_workflow_id(headers.get("x-workflow-id"))
    entry = AccessEntry(
        key_id=caller.key_id,
        role=caller.role.value,
        insurer_id=caller.insurer_id,
        examiner_id=caller.examiner_id,
        method="POST",
        route=route,
        claim_id=claim_id_from_workflow_id(workflow_id)[:24] if workflow_id else None,
        action=None,
        status=status,
        request_id=request.scope["state"].get("request_id"),
        # The boundary reads a session cookie only when no Authorization header came.
        credential=CREDENTIAL_KEY if "authorization" in headers else CREDENTIAL_CODEC_SESSION,
        payloads=payloads,
        namespace=namespace if namespace and _NAMESPACE.match(namespace) else None,
        workflow_id=workflow_id,
    )
    try:
        await request.app.state.access_log.record(entry)
    except Exception as err:
        log.warning("access log unavailable: %s", type(err).__name__)
        raise Unavailable("the access log is unavailable; retry shortly") from None


@router.post(
    "/session",
    status_code=204,
    operation_id="codec_sign_in",
    description=_WHO + " Sets the session cookie the Temporal UI sends to decode payloads.",
    responses=errors(401, 403, 503),
)
async def sign_in(request: Request, caller: CodecUser, authenticator: AuthenticatorDep) -> Response:
    value, max_age = authenticator.session_cookie(caller)
    settings: Settings = request.app.state.settings
    response = Response(status_code=204)
    response.set_cookie(
        CODEC_SESSION_COOKIE,
        value,
        max_age=max_age,
        path="/codec",
        httponly=True,
        secure=not settings.development,
        samesite="lax",
    )
    return response


@router.delete(
    "/session",
    status_code=204,
    operation_id="codec_sign_out",
    description=_WHO,
    responses=errors(401, 403),
)
async def sign_out(caller: CodecUser) -> Response:
    response = Response(status_code=204)
    response.delete_cookie(CODEC_SESSION_COOKIE, path="/codec")
    return response


@router.get("/sign-in", include_in_schema=False)
async def sign_in_page() -> HTMLResponse:
    return HTMLResponse(_SIGN_IN_PAGE)


# A key typed here goes only to /codec/session (same origin) and is not kept by the page.
_SIGN_IN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Codec sign-in</title></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 3em auto">
<h1>Sign in to decode payloads</h1>
<p>Paste an <code>sre</code> or <code>ops</code> API key. The Temporal UI then shows payloads
decrypted while this session lasts (turn on "Include cross-origin credentials" in its codec
settings).</p>
<form id="f"><input id="k" type="password" size="60" autocomplete="off" required>
<button>Sign in</button></form><p id="r" role="status"></p>
<script>
document.getElementById("f").addEventListener("submit", async (e) => {
  e.preventDefault();
  const key = document.getElementById("k");
  const answer = await fetch("session", {method: "POST", credentials: "same-origin",
    headers: {"Authorization": "Bearer " + key.value}});
  key.value = "";
  document.getElementById("r").textContent =
    answer.ok ? "Signed in." : "Refused (" + answer.status + ").";
});
</script></body></html>
"""
