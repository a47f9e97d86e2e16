"""A claimant no log line, span or error may ever show: distinctive values, and the spellings
under which each could leak (a date of birth in any common format, a phone number with or
without its punctuation)."""

from __future__ import annotations

from datetime import date
from typing import Any

from tests.helpers.referrals import referral_payload

NAME = "Zebediah Quillfeather"
DOB = date(1961, 7, 23)
PHONE = "+1-646-555-0142"
EMAIL = "zeb.quillfeather@example.org"
STREET = "77 Marigold Crescent"
INJURY = "fell from the Zanzibar scaffold"
NOTES = "spoke of the Kestrel Bridge at dusk"


def dob_spellings(day: date) -> set[str]:
    m, d, y = day.month, day.day, day.year
    numeric = {
        f"{y}-{m:02}-{d:02}", f"{y}/{m:02}/{d:02}", f"{y}{m:02}{d:02}",
        f"{m:02}/{d:02}/{y}", f"{m}/{d}/{y}", f"{m:02}-{d:02}-{y}",
        f"{d:02}/{m:02}/{y}", f"{d}/{m}/{y}", f"{d:02}.{m:02}.{y}", f"{d:02}-{m:02}-{y}",
    }  # fmt: skip
    words = {day.strftime(f) for f in ("%b %d, %Y", "%B %d, %Y", "%d %b %Y", "%d %B %Y")}
    return numeric | words


def phone_spellings(phone: str) -> set[str]:
    digits = "".join(c for c in phone if c.isdigit())
    local = digits[-10:]
    area, exchange, line = local[:3], local[3:6], local[6:]
    return {
        phone, digits, local, f"({area}) {exchange}-{line}", f"{area}-{exchange}-{line}",
        f"{area}.{exchange}.{line}", f"{area} {exchange} {line}",
    }  # fmt: skip


FORBIDDEN = {
    NAME, *NAME.split(), EMAIL, EMAIL.split("@")[0], STREET, INJURY, NOTES,
    *dob_spellings(DOB), *phone_spellings(PHONE),
}  # fmt: skip


def distinctive_referral() -> dict[str, Any]:
    referral = referral_payload("DEMO")
    claimant = referral["claimant"]
    claimant.update(full_name=NAME, date_of_birth=DOB.isoformat(), phone=PHONE, email=EMAIL)
    claimant["address"]["line1"] = STREET
    referral["injury"]["description"] = INJURY
    return referral


def leaked(text: str) -> list[str]:
    """The distinctive values found in `text`, in any case."""
    folded = text.casefold()
    return sorted(phi for phi in FORBIDDEN if phi.casefold() in folded)
