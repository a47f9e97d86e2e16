"""Codec server: the Temporal UI and CLI decode (and encode) payloads through the API, so the key
ring never leaves the service. `temporal server start-dev --ui-codec-endpoint <api>/codec`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from api.deps import CallerDep, CodecDep
from codec import CodecError
from domain.errors import InvalidInput

router = APIRouter(prefix="/codec", tags=["codec"])


async def _payloads(request: Request) -> Payloads:
    try:
        return json_format.Parse(await request.body(), Payloads())
    except json_format.ParseError:
        raise InvalidInput("the body is not a JSON Payloads message") from None


def _answer(payloads: list) -> Response:
    body = json_format.MessageToJson(Payloads(payloads=payloads))
    return Response(content=body, media_type="application/json")


@router.post("/encode")
async def encode(request: Request, codec: CodecDep, caller: CallerDep) -> Response:
    payloads = await _payloads(request)
    return _answer(await codec.encode(payloads.payloads))


@router.post("/decode")
async def decode(request: Request, codec: CodecDep, caller: CallerDep) -> Response:
    payloads = await _payloads(request)
    try:
        return _answer(await codec.decode(payloads.payloads))
    except CodecError as err:
        raise InvalidInput(str(err)) from None
