"""Passwords as NIST SP 800-63B (5.1.1.2) asks: at least 12 characters and at most 256 (counted as
code points, so any script and spaces count alike), refused when on a list of common passwords,
and no composition rules (no "a digit and a symbol"); stored as argon2id hashes only.

The list (`common_passwords.txt`, beside this module) is the one Django ships
(`django/contrib/auth/common-passwords.txt.gz` of the PyPI package Django 5.2.20: 20,000 common
passwords created by Royce Williams, lowercased), reduced to its entries of 8 characters or more;
Django's BSD 3-Clause licence, its copyright line kept in the file's header. Compared
case-insensitively.

Hashing runs argon2-cffi's `PasswordHasher` with its defaults (argon2id, RFC 9106's low-memory
profile); a hash made with weaker parameters than today's is made again at the next sign-in
(`needs_rehash`). Hashing costs tens of milliseconds of CPU: callers on an event loop run these
functions in a thread.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12
MAX_LENGTH = 256
_LIST = Path(__file__).with_name("common_passwords.txt")
_hasher = PasswordHasher()


@cache
def common_passwords() -> frozenset[str]:
    lines = _LIST.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("# "))


def problem(password: str) -> str | None:
    """What is wrong with `password` as a new password, in words fit for a form; None when it
    may be used. Never says anything of the password itself."""
    if len(password) < MIN_LENGTH:
        return f"at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"at most {MAX_LENGTH} characters"
    if password.lower() in common_passwords():
        return "too common: it is on a list of passwords often used; choose another"
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


@cache
def _dummy_hash() -> str:
    return _hasher.hash("a password nobody has: it only spends the time a real check would")


def spend_a_check(password: str) -> None:
    """Verify `password` against a hash of nobody's, so that an email naming no account (or one
    without a password) takes as long to refuse as a wrong password."""
    verify(_dummy_hash(), password)
