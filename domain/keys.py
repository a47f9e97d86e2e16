"""API keys: their shape, how they are made and how they are checked.

A key reads `imek_<id>_<secret>`: `id` is a public prefix (12 base32 characters) by which the key
is found, `secret` 256 random bits. Only a keyed hash of the whole key is stored (HMAC-SHA256 with
the service's key secret): keys are high-entropy, so a fast keyed hash is enough, and a leaked
table gives nothing to try offline without the secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

PREFIX = "imek_"
_KEY = re.compile(rf"^{PREFIX}([a-z2-7]{{12}})_([A-Za-z0-9_-]{{43}})$")
_ID = re.compile(r"^[a-z2-7]{12}$")


def new_key() -> tuple[str, str]:
    """A fresh key: (its id, the whole key to hand over once)."""
    key_id = base64.b32encode(secrets.token_bytes(10)).decode().lower()[:12]
    secret = secrets.token_urlsafe(32)  # 32 bytes -> 43 characters
    return key_id, f"{PREFIX}{key_id}_{secret}"


def key_id_of(token: str) -> str | None:
    """The id of a well-formed key, else None."""
    match = _KEY.match(token)
    return match.group(1) if match else None


def is_key_id(text: str) -> bool:
    return bool(_ID.match(text))


def key_hash(service_secret: str, key: str) -> bytes:
    return hmac.new(service_secret.encode(), key.encode(), hashlib.sha256).digest()


def matches(service_secret: str, key: str, stored_hash: bytes) -> bool:
    return hmac.compare_digest(key_hash(service_secret, key), stored_hash)
