"""How a claim refuses an action: an `ApplicationError` of one type, which the API answers with 409
and the message (written by us, never echoing input, so it carries no PHI).

Raised by the claim state's checks, from update validators (the update never reaches history) and
from handlers that waited their turn and found the action no longer allowed.
"""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

ACTION_NOT_ALLOWED = "ActionNotAllowed"


def refuse(message: str) -> ApplicationError:
    return ApplicationError(message, type=ACTION_NOT_ALLOWED)
