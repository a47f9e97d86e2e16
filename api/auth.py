"""Who is calling: an API key (`Authorization: Bearer imek_...`) or, for the codec only, an SRE's
session cookie obtained with their key.

A key is found by its public id with one indexed lookup, checked against its keyed hash, and
refused when revoked or expired. What a process read of a key it trusts for at most
`api_key_cache_seconds` (≤ 5 s), so a revocation reaches every API process within that time
while a busy caller costs no lookup per request. An id that names no key is remembered as
unknown for as long, in a cache of bounded size (`UNKNOWN_KEYS_CACHED`): made-up ids cannot grow
the process's memory, and one repeated costs no lookup.

Failed authentications are limited per client address (`FailureLimiter`): past
`auth_failure_limit` failures within `auth_failure_window_seconds`, a request that does not
authenticate is answered 429 with `Retry-After`, without a lookup for an id this process has not
found before. A request that authenticates is never limited.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
from cachetools import TTLCache

from api.errors import TooManyFailures
from domain.errors import Unauthenticated
from domain.keys import is_key_id, key_id_of, matches
from domain.models import Caller
from settings import Settings
from store import api_keys
from store.api_keys import ApiKey

CODEC_SESSION_COOKIE = "ime_codec_session"
# last_used_at is written at most this often per key and process: it is for humans, not audits.
_LAST_USED_EVERY = timedelta(minutes=1)
# How many ids naming no key a process remembers (each for api_key_cache_seconds), and how many
# client addresses the failure limiter follows.
UNKNOWN_KEYS_CACHED = 10_000
ADDRESSES_FOLLOWED = 100_000


class FailureLimiter:
    """Failed authentications per client address: a token bucket each, of `limit` failures
    refilled over `window_seconds`; 0 turns the limit off. Addresses are followed in a bounded
    cache and forgotten once their bucket would be full again."""

    def __init__(
        self, limit: int, window_seconds: float, *, addresses: int = ADDRESSES_FOLLOWED
    ) -> None:
        self._limit = limit
        self._rate = limit / window_seconds
        self._buckets: TTLCache[str, tuple[float, float]] = TTLCache(
            maxsize=addresses, ttl=window_seconds
        )

    def retry_after(self, address: str | None) -> int | None:
        """Whole seconds until `address` may fail again; None while it may."""
        if address is None or self._limit <= 0:
            return None
        tokens = self._tokens(address, time.monotonic())
        if tokens >= 1:
            return None
        return max(1, math.ceil((1 - tokens) / self._rate))

    def failed(self, address: str | None) -> None:
        if address is None or self._limit <= 0:
            return
        now = time.monotonic()
        self._buckets[address] = (self._tokens(address, now) - 1, now)

    def _tokens(self, address: str, now: float) -> float:
        found = self._buckets.get(address)
        if found is None:
            return float(self._limit)
        tokens, at = found
        return min(float(self._limit), tokens + (now - at) * self._rate)


_THROTTLED = "too many failed authentications from this address; retry later"


@dataclass
class _Cached:
    key: ApiKey
    read_at: float


class Authenticator:
    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: Settings,
        *,
        unknown_keys_cached: int = UNKNOWN_KEYS_CACHED,
    ) -> None:
        self._pool = pool
        self._secret = settings.api_key_secret
        self._ttl = settings.api_key_cache_seconds
        self._timeout = settings.database_statement_timeout_seconds
        self._session_ttl = timedelta(hours=settings.codec_session_hours)
        # Keys found in Postgres (as many as there are keys: callers cannot add to it).
        self._keys: dict[str, _Cached] = {}
        # Ids that named no key: bounded, each forgotten after the cache period.
        self._unknown: TTLCache[str, bool] = TTLCache(
            maxsize=unknown_keys_cached, ttl=max(self._ttl, 0.001)
        )
        self._limiter = FailureLimiter(
            settings.auth_failure_limit, settings.auth_failure_window_seconds
        )
        self._used_at: dict[str, datetime] = {}
        self._touches: set[asyncio.Task[None]] = set()

    async def from_bearer(self, authorization: str | None, client: str | None = None) -> Caller:
        """The caller of an `Authorization` header, or Unauthenticated (401); TooManyFailures
        (429) instead when `client` (the caller's address) failed too often."""
        scheme, _, token = (authorization or "").partition(" ")
        key_id = key_id_of(token.strip()) if scheme.lower() == "bearer" else None
        async with self._limited(client, key_id):
            if key_id is None:
                raise Unauthenticated("a valid API key is required (Authorization: Bearer <key>)")
            key = await self._find(key_id)
            if key is None or not matches(self._secret, token.strip(), key.secret_hash):
                raise Unauthenticated("the API key is not valid")
            return self._caller(key)

    async def from_session(self, cookie: str | None, client: str | None = None) -> Caller:
        """The caller of a codec session cookie (see `session_cookie`), or Unauthenticated;
        limited like `from_bearer`."""
        key_id, expires = _open_session(self._secret, cookie or "")
        async with self._limited(client, key_id):
            if key_id is None or expires is None or expires <= time.time():
                raise Unauthenticated("sign in to the codec with an sre or ops key")
            key = await self._find(key_id)
            if key is None:
                raise Unauthenticated("the API key is not valid")
            return self._caller(key)

    @contextlib.asynccontextmanager
    async def _limited(self, client: str | None, key_id: str | None) -> AsyncIterator[None]:
        """Count a failed authentication against `client`. Past its limit, a failure is answered
        429, and an id this process never found is refused before any lookup; a key it found
        goes on to be checked, and passes if it is good (success is never limited)."""
        wait = self._limiter.retry_after(client)
        if wait is not None and (key_id is None or key_id not in self._keys):
            raise TooManyFailures(_THROTTLED, retry_after=wait)
        try:
            yield
        except Unauthenticated:
            self._limiter.failed(client)
            if wait is None:  # within the limit: said as it is
                raise
            wait = self._limiter.retry_after(client) or wait
            raise TooManyFailures(_THROTTLED, retry_after=wait) from None

    def cached(self) -> tuple[int, int]:
        """How many keys, and how many unknown ids, this process remembers."""
        return len(self._keys), len(self._unknown)

    def session_cookie(self, caller: Caller) -> tuple[str, int]:
        """A signed session for `caller`'s key: (cookie value, max age in seconds). It lasts no
        longer than the key: revoking the key ends it."""
        assert caller.key_id is not None
        max_age = int(self._session_ttl.total_seconds())
        expires = int(time.time()) + max_age
        return _seal_session(self._secret, caller.key_id, expires), max_age

    def forget(self) -> None:
        """Drop what this process cached (tests; a manual "revoke now")."""
        self._keys.clear()
        self._unknown.clear()

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
        cached = self._keys.get(key_id)
        if cached is not None and time.monotonic() - cached.read_at < self._ttl:
            return cached.key
        if key_id in self._unknown:
            return None
        async with asyncio.timeout(self._timeout):
            key = await api_keys.find(self._pool, key_id)
        if key is None:
            self._keys.pop(key_id, None)  # deleted since
            if self._ttl > 0:
                self._unknown[key_id] = True
        else:
            self._keys[key_id] = _Cached(key, time.monotonic())
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
