"""How a workflow refuses an action: the API answers 409 with this message."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

ACTION_NOT_ALLOWED = "ActionNotAllowed"


def refuse(message: str) -> ApplicationError:
    return ApplicationError(message, type=ACTION_NOT_ALLOWED)
