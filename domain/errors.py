"""Errors every boundary (HTTP, CLI) reports the same way: a code, a message, details.

Messages are written by us and never include submitted values, so they cannot leak PHI.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError


class ClaimError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(ClaimError):
    status_code = 422
    code = "invalid_input"

    @classmethod
    def from_validation(cls, err: ValidationError, message: str) -> InvalidInput:
        return cls(message, details=validation_details(err))


class Unauthenticated(ClaimError):
    """No key, or one that is malformed, unknown, revoked or expired (which, is not said)."""

    status_code = 401
    code = "unauthenticated"


class Forbidden(ClaimError):
    status_code = 403
    code = "forbidden"


class PayloadTooLarge(ClaimError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(ClaimError):
    status_code = 415
    code = "unsupported_media_type"


class IdempotencyKeyReused(InvalidInput):
    code = "idempotency_key_reused"


class NotFound(ClaimError):
    status_code = 404
    code = "not_found"


class ReportNotAvailable(NotFound):
    """A claim the caller may read whose report has not been filed (or stored) yet."""

    code = "report_not_available"


class Gone(NotFound):
    """What was there is no more: a document or a report's contents destroyed under the claim's
    retention period. Answered 410; a NotFound still, so a page that shows what it finds (the
    console's claim page and its report) treats it as absent."""

    status_code = 410
    code = "gone"


class Conflict(ClaimError):
    status_code = 409
    code = "conflict"


class ActionNotAllowed(Conflict):
    code = "action_not_allowed"


class DuplicateClaimNumber(Conflict):
    code = "duplicate_claim_number"


class Unavailable(ClaimError):
    status_code = 503
    code = "unavailable"


def validation_details(err: ValidationError) -> list[dict[str, Any]]:
    """Field, reason and error type only: the rejected input is deliberately left out."""
    return describe_errors(
        err.errors(include_url=False, include_input=False, include_context=False)
    )


UNKNOWN_FIELD = "(unknown field)"
# Errors whose message quotes what was sent (a union's tag): said in words of our own instead.
_QUOTING = {"union_tag_invalid": "the tag does not name a known kind"}


def describe_errors(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Validation errors as details: field, reason, error type. Nothing the caller sent comes
    back: not the value, and not the name of a field we do not know (a key can hold anything, a
    name and a date of birth among them), which is said as `(unknown field)`."""
    details = []
    for e in errors:
        loc = [str(p) for p in e.get("loc", ())]
        kind = str(e.get("type", ""))
        if kind == "extra_forbidden" and loc:
            loc[-1] = UNKNOWN_FIELD
        details.append(
            {
                "field": ".".join(loc) or "(body)",
                "message": _QUOTING.get(kind, str(e.get("msg", ""))),
                "type": kind,
            }
        )
    return details
