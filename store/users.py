"""People's accounts (`users`) and their one-time sign-up links (`sign_up_links`).

What an account holds of its credentials (the password's argon2id hash, the sealed authenticator
secret) is read only by `credentials`, for a sign-in; `User` never carries it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
from asyncpg import Record

from domain.names import Role
from store.db import Executor


@dataclass(frozen=True)
class User:
    id: str
    email: str
    name: str
    role: Role
    insurer_id: str | None
    examiner_id: str | None
    active: bool
    # Whether the person has a password, and an authenticator, set (a new account has neither
    # until its sign-up link is used; a reset authenticator is cleared).
    has_password: bool
    mfa_enrolled: bool
    created_at: datetime
    deactivated_at: datetime | None
    last_sign_in_at: datetime | None
    # An insurer's supervisor: the console's team page (their insurer's overdue decisions).
    supervisor: bool = False


@dataclass(frozen=True)
class Credentials:
    user: User
    password_hash: str | None
    sealed_totp_secret: bytes | None


@dataclass(frozen=True)
class Link:
    user: User
    expires_at: datetime
    sealed_pending_secret: bytes | None


# The columns `user_of` reads; `{a}` is the table's alias and a dot in a join, else nothing.
_USER_COLUMNS = (
    "{a}id, {a}email, {a}name, {a}role, {a}insurer_id, {a}examiner_id, {a}active,"
    " {a}password_hash IS NOT NULL AS has_password,"
    " {a}sealed_totp_secret IS NOT NULL AS mfa_enrolled,"
    " {a}created_at, {a}deactivated_at, {a}last_sign_in_at, {a}supervisor"
)
_USER = _USER_COLUMNS.format(a="")


def user_columns(alias: str) -> str:
    """The columns `user_of` reads, of the `users` table named `alias` in a join."""
    return _USER_COLUMNS.format(a=f"{alias}.")


def user_of(row: Record) -> User:
    return User(
        id=str(row["id"]),
        email=row["email"],
        name=row["name"],
        role=Role(row["role"]),
        insurer_id=row["insurer_id"],
        examiner_id=row["examiner_id"],
        active=row["active"],
        has_password=row["has_password"],
        mfa_enrolled=row["mfa_enrolled"],
        created_at=row["created_at"],
        deactivated_at=row["deactivated_at"],
        last_sign_in_at=row["last_sign_in_at"],
        supervisor=row["supervisor"],
    )


async def create(
    conn: Executor,
    *,
    role: Role,
    email: str,
    name: str,
    insurer_id: str | None,
    examiner_id: str | None,
    supervisor: bool = False,
) -> User | None:
    """A new active account without credentials; None when the email (in any case) has one."""
    try:
        row = await conn.fetchrow(
            f"""INSERT INTO users (email, name, role, insurer_id, examiner_id, supervisor)
                VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_USER}""",
            email,
            name,
            role.value,
            insurer_id,
            examiner_id,
            supervisor,
        )
    except asyncpg.UniqueViolationError:
        return None
    assert row is not None  # INSERT ... RETURNING
    return user_of(row)


async def find_by_email(conn: Executor, email: str) -> User | None:
    row = await conn.fetchrow(f"SELECT {_USER} FROM users WHERE lower(email) = lower($1)", email)
    return user_of(row) if row is not None else None


async def credentials(conn: Executor, email: str) -> Credentials | None:
    row = await conn.fetchrow(
        f"SELECT {_USER}, password_hash, sealed_totp_secret FROM users"
        " WHERE lower(email) = lower($1)",
        email,
    )
    if row is None:
        return None
    sealed = row["sealed_totp_secret"]
    return Credentials(user_of(row), row["password_hash"], bytes(sealed) if sealed else None)


async def all_users(conn: Executor) -> list[User]:
    rows = await conn.fetch(f"SELECT {_USER} FROM users ORDER BY lower(email)")
    return [user_of(r) for r in rows]


async def set_credentials(
    conn: Executor, user_id: str, *, password_hash: str | None, sealed_totp_secret: bytes
) -> None:
    """Set the authenticator, and the password unless `password_hash` is None (kept). The step
    last accepted is set by `accept_step` after this (a new secret starts afresh)."""
    await conn.execute(
        """UPDATE users SET password_hash = coalesce($2, password_hash),
                            sealed_totp_secret = $3, last_totp_step = NULL
           WHERE id = $1""",
        user_id,
        password_hash,
        sealed_totp_secret,
    )


async def set_password_hash(conn: Executor, user_id: str, password_hash: str) -> None:
    """A rehash with today's parameters, on a sign-in with the right password."""
    await conn.execute("UPDATE users SET password_hash = $2 WHERE id = $1", user_id, password_hash)


async def accept_step(conn: Executor, user_id: str, step: int) -> bool:
    """Remember `step` as the last authenticator time-step accepted; False (nothing changed) when
    it is not later than the last one: the code was used before."""
    status = await conn.execute(
        "UPDATE users SET last_totp_step = $2"
        " WHERE id = $1 AND (last_totp_step IS NULL OR last_totp_step < $2)",
        user_id,
        step,
    )
    return status.endswith(" 1")


async def signed_in(conn: Executor, user_id: str) -> None:
    await conn.execute("UPDATE users SET last_sign_in_at = now() WHERE id = $1", user_id)


async def deactivate(conn: Executor, email: str) -> User | None:
    """Take an account out of use (once; again changes nothing). None when there is none."""
    row = await conn.fetchrow(
        f"""UPDATE users SET active = false, deactivated_at = coalesce(deactivated_at, now())
            WHERE lower(email) = lower($1) RETURNING {_USER}""",
        email,
    )
    return user_of(row) if row is not None else None


async def clear_authenticator(conn: Executor, user_id: str) -> None:
    await conn.execute(
        "UPDATE users SET sealed_totp_secret = NULL, last_totp_step = NULL WHERE id = $1", user_id
    )


# Sign-up links


async def create_link(
    conn: Executor, user_id: str, token_hash: bytes, lifetime: timedelta
) -> datetime:
    """A new link for the account; returns when it expires. The account's earlier links that are
    still open stop working (call in a transaction with `void_links`)."""
    expires_at = await conn.fetchval(
        """INSERT INTO sign_up_links (token_hash, user_id, expires_at)
           VALUES ($1, $2, now() + $3::interval) RETURNING expires_at""",
        token_hash,
        user_id,
        lifetime,
    )
    assert isinstance(expires_at, datetime)
    return expires_at


async def void_links(conn: Executor, user_id: str) -> None:
    """The account's open links stop working."""
    await conn.execute(
        "UPDATE sign_up_links SET used_at = now() WHERE user_id = $1 AND used_at IS NULL", user_id
    )


async def open_link(conn: Executor, token_hash: bytes, *, lock: bool = False) -> Link | None:
    """The link of `token_hash` while it may be used: unused, unexpired, its account active.
    `lock`: the link's row stays locked until the transaction ends (completing a sign-up)."""
    row = await conn.fetchrow(
        f"""SELECT {user_columns("u")}, l.expires_at, l.sealed_pending_secret
            FROM sign_up_links l JOIN users u ON u.id = l.user_id
            WHERE l.token_hash = $1 AND l.used_at IS NULL AND l.expires_at > now() AND u.active
            {"FOR UPDATE OF l" if lock else ""}""",
        token_hash,
    )
    if row is None:
        return None
    sealed = row["sealed_pending_secret"]
    return Link(user_of(row), row["expires_at"], bytes(sealed) if sealed else None)


async def keep_pending_secret(conn: Executor, token_hash: bytes, sealed: bytes) -> bytes:
    """Keep `sealed` as the link's pending secret unless it has one already (two tabs opening
    the link at once): returns the one kept."""
    kept = await conn.fetchval(
        """UPDATE sign_up_links SET sealed_pending_secret = coalesce(sealed_pending_secret, $2)
           WHERE token_hash = $1 RETURNING sealed_pending_secret""",
        token_hash,
        sealed,
    )
    assert kept is not None
    return bytes(kept)


async def use_link(conn: Executor, token_hash: bytes) -> None:
    await conn.execute("UPDATE sign_up_links SET used_at = now() WHERE token_hash = $1", token_hash)
