"""How signing in and signing up are refused, reported at every boundary like any `ClaimError`."""

from __future__ import annotations

from domain.errors import ClaimError, NotFound, Unauthenticated

# One message for every refused sign-in: an unknown email, a wrong password, a wrong or replayed
# code, a deactivated account, an account not yet set up. Which of them, is not said: the form
# must not tell an attacker which emails have accounts, nor which half of a pair was right.
SIGN_IN_REFUSED = "the email, password or authenticator code is not right"


class SignInRefused(Unauthenticated):
    def __init__(self) -> None:
        super().__init__(SIGN_IN_REFUSED)


class SignInThrottled(ClaimError):
    """Too many failed sign-ins for this account or from this address within the window: no
    sign-in is tried (not even with the right password) for `retry_after` seconds (429 with
    Retry-After)."""

    status_code = 429
    code = "too_many_requests"

    def __init__(self, retry_after: int) -> None:
        super().__init__("too many failed sign-ins; try again later")
        self.retry_after = retry_after


class SignUpLinkNotValid(NotFound):
    """A sign-up link that is unknown, used, expired, or whose account was deactivated."""

    code = "sign_up_link_not_valid"

    def __init__(self) -> None:
        super().__init__(
            "this sign-up link does not work: it was used, has expired or was replaced;"
            " ask for a new one"
        )
