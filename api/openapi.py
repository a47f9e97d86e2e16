"""What the OpenAPI document says beyond what FastAPI infers: the request bodies (read by hand, so
that scope and role are checked before the body), every status a route can answer, who may call
it, and links from a new claim to its reads and actions (for schema-driven clients and fuzzers).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from api.errors import ErrorResponse

_REF = "#/components/schemas/{model}"
_BODY_MODELS: dict[str, type[BaseModel]] = {}

_WHY = {
    401: "no API key, or one that is malformed, unknown, revoked or expired",
    403: "the caller's role may not do this",
    404: "no such claim (or not one the caller may read)",
    408: "the body did not arrive in time",
    409: "not allowed in the claim's current state",
    410: "destroyed at the end of its retention period (the row stays, the contents are gone)",
    413: "the body is larger than the limit",
    415: "the body is not application/json",
    422: "the input is invalid",
    429: "too many failed authentications from this address; retry after `Retry-After` seconds",
    503: "a dependency did not answer in time; retry",
}
# What the boundary may answer besides: 429 wherever a key is checked (401), 408 wherever a body
# is read (413).
_WITH = {401: 429, 413: 408}


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` declaring `model` as the route's JSON request body."""
    _BODY_MODELS[model.__name__] = model
    schema = {"$ref": _REF.format(model=model.__name__)}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The error answers of a route, each in the one error shape."""
    every = sorted({*codes, *(_WITH[c] for c in codes if c in _WITH)})
    return {code: {"model": ErrorResponse, "description": _WHY[code]} for code in every}


def who(roles: Iterable[str], note: str = "") -> str:
    text = "Who may call it: " + ", ".join(sorted(roles)) + "."
    return f"{text} {note}".strip()


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for name, model in _BODY_MODELS.items():
            schema = model.model_json_schema(ref_template=_REF, mode="validation")
            for def_name, definition in schema.pop("$defs", {}).items():
                schemas.setdefault(def_name, definition)
            schemas[name] = schema
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
