"""From what a caller sends to our models, or a structured error that echoes none of it.

JSON is parsed strictly (no NaN or Infinity, a bounded depth), text is checked at intake (no
control characters), and every failure is an `InvalidInput` (422) naming fields, never values.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from domain.actions import ACTION_MODELS
from domain.errors import InvalidInput, NotFound
from domain.ids import claimant_key
from domain.models import (
    INTAKE,
    ActionInput,
    Caller,
    ClaimantLookup,
    ClaimIntake,
    ClaimStatus,
    Referral,
)
from domain.names import Action
from domain.retention import LegalHoldInput

# Deeper than any payload of ours; Python's own limit would raise RecursionError much later.
MAX_JSON_DEPTH = 32


def _refuse_constant(name: str) -> Any:
    raise InvalidInput(
        "the request body is not valid JSON",
        details=[{"field": "(body)", "message": f"{name} is not a JSON number"}],
    )


def parse_json(raw: bytes | str) -> Any:
    """Strict JSON: None for an empty body; 422 for anything that is not plain JSON."""
    if not raw.strip():
        return None
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise InvalidInput("the request body is not valid JSON") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise InvalidInput(f"the request body is nested deeper than {MAX_JSON_DEPTH} levels")
    return value


def _depth(value: Any) -> int:
    # Iterative: a body nested thousands deep must not exhaust the stack here either.
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def parse_referral(body: Any) -> Referral:
    try:
        return Referral.model_validate(body, context=INTAKE)
    except ValidationError as err:
        raise InvalidInput.from_validation(err, "the referral is invalid") from None


def parse_legal_hold(body: Any) -> LegalHoldInput:
    try:
        return LegalHoldInput.model_validate(body, context=INTAKE)
    except ValidationError as err:
        raise InvalidInput.from_validation(err, "the legal hold request is invalid") from None


def parse_lookup(body: Any) -> ClaimantLookup:
    try:
        return ClaimantLookup.model_validate(body, context=INTAKE)
    except ValidationError as err:
        raise InvalidInput.from_validation(err, "the claimant to look for is invalid") from None


def known_action(action: str) -> Action:
    try:
        return Action(action)
    except ValueError:
        # The name is not echoed: it is whatever the caller put in the URL.
        raise NotFound("unknown action", details={"actions": sorted(ACTION_MODELS)}) from None


# Fields of a payload that the service sets and a caller never does.
SERVICE_SET = ("acted_by", "cause")


def parse_action(
    action: Action, body: Any, caller: Caller, *, cause: str | None = None
) -> ActionInput:
    """The action's payload, stamped with who acts (a caller cannot set `acted_by` itself) and,
    for a release the service itself makes, why (`cause`)."""
    for name in SERVICE_SET:
        if isinstance(body, dict) and name in body:
            raise InvalidInput(
                f"the {action} payload is invalid",
                details=[{"field": name, "message": "Extra inputs are not permitted"}],
            )
    try:
        payload = ACTION_MODELS[action].model_validate(
            body if body is not None else {}, context=INTAKE
        )
    except ValidationError as err:
        raise InvalidInput.from_validation(err, f"the {action} payload is invalid") from None
    stamped = payload.model_copy(update={"acted_by": caller})
    if cause is not None:
        stamped = stamped.model_validate({**stamped.model_dump(), "cause": cause})
    return stamped


def request_fingerprint(claim_id: str, action: Action, body: Any) -> str:
    """What makes two requests "the same request" for an Idempotency-Key."""
    canonical = json.dumps([claim_id, action, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def claim_intake(
    referral: Referral, id_secret: str, referred_by: Caller | None = None
) -> ClaimIntake:
    """The workflow's input: the referral, who referred it, and the claimant's conflict-check
    key, computed once here so no later step needs the claimant's name and date of birth."""
    claimant = referral.claimant
    key = claimant_key(id_secret, claimant.full_name, claimant.date_of_birth.isoformat())
    return ClaimIntake.model_validate(
        {**referral.model_dump(), "claimant_key": key, "referred_by": referred_by}
    )


def referral_fingerprint(referral: Referral) -> str:
    return hashlib.sha256(referral.model_dump_json().encode()).hexdigest()


# The sort key of a claim without a next deadline (`infinity` in Postgres): after every other.
NO_DEADLINE = "infinity"


def encode_cursor(status: ClaimStatus, sort: str = "updated") -> str:
    if sort == "next_deadline":
        due = status.next_deadline.isoformat() if status.next_deadline else NO_DEADLINE
        raw = f"d|{due}|{status.claim_id}"
    else:
        raw = f"{status.updated_at.isoformat()}|{status.claim_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str = "updated") -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if sort == "next_deadline":
            # A cursor of the other order is refused, not misread.
            mark, raw = raw.split("|", 1)
            if mark != "d":
                raise ValueError("another order's cursor")
        elif raw.startswith("d|"):
            raise ValueError("another order's cursor")
        updated_at, claim_id = raw.split("|", 1)
        if updated_at == NO_DEADLINE:
            return datetime.max.replace(tzinfo=UTC), claim_id
        at = datetime.fromisoformat(updated_at)
        if at.tzinfo is None:
            raise ValueError("naive")
        return at.astimezone(UTC), claim_id
    except (ValueError, UnicodeDecodeError, binascii.Error, OverflowError):
        raise InvalidInput(
            "the cursor is not valid", details=[{"field": "cursor", "message": "unknown cursor"}]
        ) from None
