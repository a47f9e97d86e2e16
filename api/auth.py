"""Who is calling: an API key (`Authorization: Bearer imek_...`) or, for the codec only, an SRE's
session cookie obtained with their key.

A key is found by its public id with one indexed lookup, checked against its keyed hash, and
refused when revoked or expired. What a process read of a key it trusts for at most
`api_key_cache_seconds` (≤ 5 s), so a revocation reaches every API process within that time
while a busy caller costs no lookup per request.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from domain.errors import Unauthenticated
from domain.keys import is_key_id, key_id_of, matches
from domain.models import Caller
from settings import Settings
from store import api_keys
from store.api_keys import ApiKey

CODEC_SESSION_COOKIE = "ime_codec_session"
# last_used_at is written at most this often per key and process: it is for humans, not audits.
_LAST_USED_EVERY = timedelta(minutes=1)


@dataclass
class _Cached:
    key: ApiKey | None  # None: no such key
    read_at: float


class Authenticator:
    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self._pool = pool
        self._secret = settings.api_key_secret
        self._ttl = settings.api_key_cache_seconds
        self._timeout = settings.database_statement_timeout_seconds
        self._session_ttl = timedelta(hours=settings.codec_session_hours)
        self._cache: dict[str, _Cached] = {}
        self._used_at: dict[str, datetime] = {}
        self._touches: set[asyncio.Task[None]] = set()

    async def from_bearer(self, authorization: str | None) -> Caller:
        """The caller of an `Authorization` header, or Unauthenticated (401)."""
        scheme, _, token = (authorization or "").partition(" ")
        key_id = key_id_of(token.strip()) if scheme.lower() == "bearer" else None
        if key_id is None:
            raise Unauthenticated("a valid API key is required (Authorization: Bearer <key>)")
        key = await self._find(key_id)
        if key is None or not matches(self._secret, token.strip(), key.secret_hash):
            raise Unauthenticated("the API key is not valid")
        return self._caller(key)

    async def from_session(self, cookie: str | None) -> Caller:
        """The caller of a codec session cookie (see `session_cookie`), or Unauthenticated."""
        key_id, expires = _open_session(self._secret, cookie or "")
        if key_id is None or expires is None or expires <= time.time():
            raise Unauthenticated("sign in to the codec with an sre or ops key")
        key = await self._find(key_id)
        if key is None:
            raise Unauthenticated("the API key is not valid")
        return self._caller(key)

    def session_cookie(self, caller: Caller) -> tuple[str, int]:
        """A signed session for `caller`'s key: (cookie value, max age in seconds). It lasts no
        longer than the key: revoking the key ends it."""
        assert caller.key_id is not None
        max_age = int(self._session_ttl.total_seconds())
        expires = int(time.time()) + max_age
        return _seal_session(self._secret, caller.key_id, expires), max_age

    def forget(self) -> None:
        """Drop what this process cached (tests; a manual "revoke now")."""
        self._cache.clear()

    async def close(self) -> None:
        for task in list(self._touches):
            task.cancel()

    def _caller(self, key: ApiKey) -> Caller:
        now = datetime.now(UTC)
        if not key.usable_at(now):
            raise Unauthenticated("the API key is not valid")
        self._note_use(key.id, now)
        return Caller(
            role=key.role,
            key_id=key.id,
            key_name=key.name,
            insurer_id=key.insurer_id,
            examiner_id=key.examiner_id,
        )

    async def _find(self, key_id: str) -> ApiKey | None:
        cached = self._cache.get(key_id)
        if cached is not None and time.monotonic() - cached.read_at < self._ttl:
            return cached.key
        async with asyncio.timeout(self._timeout):
            key = await api_keys.find(self._pool, key_id)
        self._cache[key_id] = _Cached(key, time.monotonic())
        return key

    def _note_use(self, key_id: str, now: datetime) -> None:
        last = self._used_at.get(key_id)
        if last is not None and now - last < _LAST_USED_EVERY:
            return
        self._used_at[key_id] = now
        task = asyncio.create_task(self._touch(key_id, now))
        self._touches.add(task)
        task.add_done_callback(self._touches.discard)

    async def _touch(self, key_id: str, now: datetime) -> None:
        with contextlib.suppress(Exception):  # a missed "last used" never fails a request
            async with asyncio.timeout(self._timeout):
                await api_keys.mark_used(self._pool, key_id, now)


def _signature(secret: str, key_id: str, expires: int) -> str:
    message = f"codec-session\x1f{key_id}\x1f{expires}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _seal_session(secret: str, key_id: str, expires: int) -> str:
    return f"{key_id}.{expires}.{_signature(secret, key_id, expires)}"


def _open_session(secret: str, cookie: str) -> tuple[str | None, int | None]:
    key_id, _, rest = cookie.partition(".")
    expires_text, _, signature = rest.partition(".")
    if not is_key_id(key_id) or not expires_text.isdigit() or len(expires_text) > 12:
        return None, None
    expires = int(expires_text)
    if not hmac.compare_digest(signature, _signature(secret, key_id, expires)):
        return None, None
    return key_id, expires
