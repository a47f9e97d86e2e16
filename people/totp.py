"""Authenticator codes (RFC 6238 TOTP, pyotp): 30-second steps, 6 digits, a code of the step
before or after the current one accepted too (clocks drift; `valid_window=1`). Which step a code
matched is returned so that the caller can refuse a code used before (`store.users`
remembers the last accepted step per person): a code seen over a shoulder or replayed from a
phishing proxy is good only once.

The enrolment shows the secret as an `otpauth://` URI (issuer "IME Claims Orchestrator") and as
a QR code of it, an SVG made by segno that the console puts in its page as it is.
"""

from __future__ import annotations

import binascii
import hmac
import io
from datetime import datetime

import pyotp
import segno

ISSUER = "IME Claims Orchestrator"
DIGITS = 6
STEP_SECONDS = 30
VALID_WINDOW = 1
# A secret is at least 128 bits (RFC 4226 section 4 asks 128, recommends 160: what
# `new_secret` makes).
MIN_SECRET_BYTES = 16


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS, issuer=ISSUER)


def new_secret() -> str:
    """A new base32 secret of 160 bits."""
    return pyotp.random_base32()


def valid_secret(secret: str) -> bool:
    """Whether `secret` is base32 (as authenticator apps show it) of at least 128 bits."""
    try:
        raw = _totp(secret).byte_secret()
    except (binascii.Error, ValueError):
        return False
    return len(raw) >= MIN_SECRET_BYTES


def matching_step(secret: str, code: str, at: datetime) -> int | None:
    """The time-step whose code `code` is (the current step at `at`, the one before or the one
    after), or None when it is none of them. Spaces are ignored (apps show "123 456")."""
    code = code.replace(" ", "")
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    totp = _totp(secret)
    now = totp.timecode(at)
    found = None
    # Every candidate is compared (no early return), in constant time each.
    for step in range(now - VALID_WINDOW, now + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code) and found is None:
            found = step
    return found


def otpauth_uri(secret: str, account: str) -> str:
    """The URI an authenticator app reads: `account` (the person's email) under the issuer."""
    return _totp(secret).provisioning_uri(name=account, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The QR code of `uri` as an SVG element (no XML declaration: it goes inside a page)."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(
        buffer,
        kind="svg",
        xmldecl=False,
        scale=5,
        border=4,
        title="QR code to add this account to an authenticator app",
    )
    return buffer.getvalue().decode()
