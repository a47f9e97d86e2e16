"""The access log (HIPAA 164.312(b) audit controls): who read or acted on which claim, when, with
what answer. Append-only in Postgres (a trigger refuses UPDATE and DELETE); no PHI.

Entries are written by group commit: concurrent requests share one INSERT, and each request waits
for its entry to be stored before it answers, so nothing is served that is not logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import operator
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from domain.errors import InvalidInput
from store.db import Executor

CREDENTIAL_KEY = "key"
CREDENTIAL_CODEC_SESSION = "codec_session"
# A person at the console: signing in (a password and an authenticator code), then their session.
CREDENTIAL_PASSWORD = "password"
CREDENTIAL_CONSOLE_SESSION = "console_session"

_FIELDS = (
    "key_id",
    "role",
    "insurer_id",
    "examiner_id",
    "method",
    "route",
    "claim_id",
    "action",
    "status",
    "request_id",
    "credential",
    "payloads",
    "namespace",
    "workflow_id",
    "user_id",
    "target_user_id",
    "document_id",
)
# An entry as the row COPY takes (`dataclasses.astuple` deep-copies every value: too slow for
# every read).
_row = operator.attrgetter(*_FIELDS)


@dataclass(frozen=True)
class AccessEntry:
    key_id: str | None
    role: str | None
    insurer_id: str | None
    examiner_id: str | None
    method: str
    route: str
    claim_id: str | None
    action: str | None
    status: int
    request_id: str | None
    # How the caller proved who they are: `key` (an API key) or `codec_session` (the codec's
    # session cookie, which the Temporal UI sends).
    credential: str | None = CREDENTIAL_KEY
    # A codec request: how many payloads it carried (never what they hold), the namespace the
    # Temporal UI or CLI names (`X-Namespace`), and the workflow when the caller names one.
    payloads: int | None = None
    namespace: str | None = None
    workflow_id: str | None = None
    # A person signed in at the console (`people`): their account id, as `key_id` is a key's.
    user_id: str | None = None
    # An account event about someone other than who acted (ops deactivating a person, resetting
    # their authenticator): that person's account id.
    target_user_id: str | None = None
    # A document of the claim uploaded or downloaded (`api.routes.documents`).
    document_id: str | None = None


@dataclass(frozen=True)
class LoggedAccess:
    at: datetime
    entry: AccessEntry
    # The row's place in the log: what a page's cursor points after.
    id: int = 0


@dataclass(frozen=True)
class AccessPage:
    """Newest first; `next_cursor` names where the next (older) page starts, None at the end."""

    entries: list[LoggedAccess]
    next_cursor: str | None


class AccessLog:
    """Batches entries from concurrent requests into one INSERT each round."""

    def __init__(self, pool: asyncpg.Pool, *, timeout: float) -> None:
        self._pool = pool
        self._timeout = timeout
        self._pending: list[tuple[AccessEntry, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None

    async def record(self, entry: AccessEntry) -> None:
        """Store `entry`; returns once it is in Postgres (raises if it could not be stored)."""
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_forever())
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((entry, done))
        self._wake.set()
        await done

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer

    async def _write_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            if not batch:
                continue
            try:
                async with asyncio.timeout(self._timeout):
                    await self._pool.copy_records_to_table(
                        "access_log", records=[_row(e) for e, _ in batch], columns=_FIELDS
                    )
            except Exception as err:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(err)
                continue
            for _, done in batch:
                if not done.done():
                    done.set_result(None)


async def for_claim(conn: Executor, claim_id: str) -> list[LoggedAccess]:
    rows = await conn.fetch(
        f"SELECT at, {', '.join(_FIELDS)} FROM access_log WHERE claim_id = $1 ORDER BY id",
        claim_id,
    )
    return [_logged(r) for r in rows]


async def codec_uses(conn: Executor, key_id: str) -> list[LoggedAccess]:
    """What a key encoded and decoded through the codec server, oldest first."""
    rows = await conn.fetch(
        f"SELECT at, {', '.join(_FIELDS)} FROM access_log"
        " WHERE key_id = $1 AND route LIKE '/codec/%' ORDER BY id",
        key_id,
    )
    return [_logged(r) for r in rows]


async def claim_page(
    conn: Executor, claim_id: str, *, cursor: str | None = None, limit: int = 50
) -> AccessPage:
    """Who read or acted on a claim, newest first, a page at a time."""
    return await _page(conn, "claim_id = $1", claim_id, cursor, limit)


async def person_page(
    conn: Executor, user_id: str, *, cursor: str | None = None, limit: int = 50
) -> AccessPage:
    """What a person did (signed in, read, acted) and what was done to their account (deactivated,
    authenticator reset), newest first, a page at a time."""
    return await _page(conn, "(user_id = $1 OR target_user_id = $1)", user_id, cursor, limit)


async def _page(
    conn: Executor, where: str, value: str, cursor: str | None, limit: int
) -> AccessPage:
    before = _cursor_id(cursor)
    rows = await conn.fetch(
        f"SELECT id, at, {', '.join(_FIELDS)} FROM access_log"
        f" WHERE {where} AND id < $2 ORDER BY id DESC LIMIT $3",
        value,
        before,
        limit + 1,
    )
    entries = [_logged(r) for r in rows[:limit]]
    more = len(rows) > limit
    return AccessPage(entries, str(entries[-1].id) if more and entries else None)


def _cursor_id(cursor: str | None) -> int:
    """The id a cursor points before (none: from the newest)."""
    if cursor is None:
        return 2**63 - 1
    if cursor.isascii() and cursor.isdigit() and len(cursor) < 19:
        return int(cursor)
    raise InvalidInput(
        "the cursor is not valid", details=[{"field": "cursor", "message": "not a cursor"}]
    )


def _logged(row: asyncpg.Record) -> LoggedAccess:
    return LoggedAccess(
        at=row["at"],
        entry=AccessEntry(**{f: row[f] for f in _FIELDS}),
        id=row.get("id", 0),
    )
