"""Console sessions (`console_sessions`) and failed sign-ins (`sign_in_failures`).

Every time is Postgres's `now()`: API processes on several hosts agree on when a session ends
and on how many failures a window holds, whatever their clocks say.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from asyncpg import Record

from store.db import Executor
from store.users import User, user_columns, user_of


@dataclass(frozen=True)
class StoredSession:
    id: bytes
    user: User
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    idle_expires_at: datetime
    absolute_expires_at: datetime


_SESSION = """s.id AS session_id, s.csrf_token, s.created_at AS session_created_at,
    s.last_seen_at, s.idle_expires_at, s.absolute_expires_at"""


async def create(
    conn: Executor,
    *,
    session_id: bytes,
    user_id: str,
    csrf_token: str,
    idle: timedelta,
    absolute: timedelta,
) -> StoredSession:
    row = await conn.fetchrow(
        f"""WITH s AS (
                INSERT INTO console_sessions
                    (id, user_id, csrf_token, idle_expires_at, absolute_expires_at)
                VALUES ($1, $2, $3, now() + least($4::interval, $5::interval), now() + $5::interval)
                RETURNING *)
            SELECT {_SESSION}, {user_columns("u")} FROM s JOIN users u ON u.id = s.user_id""",
        session_id,
        user_id,
        csrf_token,
        idle,
        absolute,
    )
    assert row is not None  # INSERT ... RETURNING
    return _session(row)


async def find_live(conn: Executor, session_id: bytes) -> StoredSession | None:
    """The session while it lasts: not revoked, neither idle nor absolute expiry passed, its
    person's account active. One indexed lookup."""
    row = await conn.fetchrow(
        f"""SELECT {_SESSION}, {user_columns("u")}
            FROM console_sessions s JOIN users u ON u.id = s.user_id
            WHERE s.id = $1 AND s.revoked_at IS NULL AND u.active
              AND s.idle_expires_at > now() AND s.absolute_expires_at > now()""",
        session_id,
    )
    return _session(row) if row is not None else None


async def touch(
    conn: Executor, session_id: bytes, *, idle: timedelta, every: timedelta
) -> datetime | None:
    """Push the idle expiry on (never past the absolute one), unless done within `every`
    already; returns the new idle expiry, None when nothing was written."""
    value = await conn.fetchval(
        """UPDATE console_sessions
           SET last_seen_at = now(),
               idle_expires_at = least(now() + $2::interval, absolute_expires_at)
           WHERE id = $1 AND revoked_at IS NULL AND last_seen_at <= now() - $3::interval
             AND idle_expires_at > now()
           RETURNING idle_expires_at""",
        session_id,
        idle,
        every,
    )
    return value if isinstance(value, datetime) else None


async def revoke(conn: Executor, session_id: bytes) -> str | None:
    """End a session; returns its person's account id, None when it was not live."""
    user_id = await conn.fetchval(
        """UPDATE console_sessions SET revoked_at = now()
           WHERE id = $1 AND revoked_at IS NULL RETURNING user_id""",
        session_id,
    )
    return str(user_id) if user_id is not None else None


async def revoke_all(conn: Executor, user_id: str) -> int:
    """End every session of a person; returns how many were live (those already expired are
    marked too, so that none is ever counted again)."""
    rows = await conn.fetch(
        """UPDATE console_sessions SET revoked_at = now()
           WHERE user_id = $1 AND revoked_at IS NULL
           RETURNING idle_expires_at > now() AND absolute_expires_at > now() AS live""",
        user_id,
    )
    return sum(1 for r in rows if r["live"])


def _session(row: Record) -> StoredSession:
    return StoredSession(
        id=bytes(row["session_id"]),
        user=user_of(row),
        csrf_token=row["csrf_token"],
        created_at=row["session_created_at"],
        last_seen_at=row["last_seen_at"],
        idle_expires_at=row["idle_expires_at"],
        absolute_expires_at=row["absolute_expires_at"],
    )


# Failed sign-ins


async def retry_after(
    conn: Executor,
    *,
    account: str,
    address: str | None,
    window: timedelta,
    per_account: int,
    per_address: int,
) -> int | None:
    """Whole seconds until a sign-in for `account` from `address` may be tried again; None while
    both hold fewer failures within `window` than their limit. (A sliding window: the wait ends
    when the limit-th most recent failure leaves it.)"""
    row = await conn.fetchrow(
        """SELECT
             (SELECT at FROM sign_in_failures WHERE account = $1 AND at > now() - $3::interval
              ORDER BY at DESC OFFSET $4::int - 1 LIMIT 1) AS account_at,
             (SELECT at FROM sign_in_failures WHERE address = $2::text
                AND at > now() - $3::interval
              ORDER BY at DESC OFFSET $5::int - 1 LIMIT 1) AS address_at,
             now() AS now""",
        account,
        address,
        window,
        per_account,
        per_address,
    )
    assert row is not None
    limiting = [at for at in (row["account_at"], row["address_at"]) if at is not None]
    if not limiting:
        return None
    wait = (max(limiting) + window - row["now"]).total_seconds()
    return max(1, math.ceil(wait))


async def record_failure(
    conn: Executor, *, account: str, address: str | None, window: timedelta
) -> None:
    """Count a failed sign-in; failures older than the window are dropped on the way (they no
    longer count, and the table stays as small as the window's failures)."""
    await conn.execute(
        """WITH gone AS (DELETE FROM sign_in_failures WHERE at <= now() - $3::interval)
           INSERT INTO sign_in_failures (account, address) VALUES ($1, $2)""",
        account,
        address,
        window,
    )


async def forget_failures(conn: Executor, account: str) -> None:
    """A successful sign-in clears its account's failures (not its address's)."""
    await conn.execute("DELETE FROM sign_in_failures WHERE account = $1", account)
