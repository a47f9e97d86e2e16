"""People's accounts at the console: creating them, signing up through a one-time link, signing
in with a password and an authenticator code, sessions, and what ops do to an account.

A sign-in needs the password and a fresh authenticator code (NIST SP 800-63B AAL2). Every refusal
says the same (`SignInRefused`), and failures are limited per account and per client address in
Postgres (`SignInThrottled`, shared by every API process). Sessions end after
`session_idle_minutes` without use (HIPAA 164.312(a)(2)(iii)), `session_absolute_hours` after
sign-in in any case, when their person signs out, or when ops deactivate the account.

Only hashes of the tokens (sign-up links, session cookies) are stored, and the authenticator
secret is sealed with the payload key ring. Each sign-in, failure, sign-out and account change
is an access-log row naming the person (never the email typed, never a secret).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from codec import Sealer
from domain.errors import Conflict, InvalidInput, NotFound
from domain.models import Caller
from domain.names import Role
from people import passwords, totp
from people.errors import SignInRefused, SignInThrottled, SignUpLinkNotValid
from settings import Settings
from store import sessions as session_store
from store import users as user_store
from store.access_log import (
    CREDENTIAL_CONSOLE_SESSION,
    CREDENTIAL_PASSWORD,
    AccessEntry,
    AccessLog,
)
from store.db import Connection
from store.users import User

# The roles an account may have: those of API keys (the `users.role` CHECK, migration 0018).
ACCOUNT_ROLES = frozenset(
    {
        Role.OPS,
        Role.INSURER,
        Role.EXAMINER,
        Role.REVIEWER,
        Role.SENIOR_REVIEWER,
        Role.CLINICIAN,
        Role.SRE,
    }
)
# How often a session's idle expiry is pushed on at most: a page's burst of requests costs one
# write, and the expiry is at most this much earlier than exact.
TOUCH_EVERY = timedelta(seconds=10)
# Routes of the access-log rows this module writes (the console's pages for them).
ROUTE_SIGN_IN = "/console/sign-in"
ROUTE_SIGN_UP = "/console/sign-up"
ROUTE_SIGN_OUT = "/console/sign-out"
ROUTE_USERS = "/console/users"
# Tokens are 32 random bytes in URL-safe base64 (43 characters); anything much longer is not one.
_TOKEN_MAX = 64
_EMAIL_MAX = 254
_NAME_MAX = 200


@dataclass(frozen=True)
class Enrolment:
    """What a sign-up page shows: who is signing up, the authenticator's secret, its
    `otpauth://` URI and a QR code of it (an `<svg>` element), and whether a password is to be
    chosen (a new person) or only the authenticator set (after an authenticator reset)."""

    name: str
    email: str
    secret: str
    otpauth_uri: str
    qr_svg: str
    needs_password: bool


@dataclass(frozen=True)
class ActiveSession:
    id: str
    user: User
    caller: Caller
    csrf_token: str
    idle_expires_at: datetime
    absolute_expires_at: datetime

    def csrf_ok(self, candidate: str | None) -> bool:
        """Whether a form's (or header's) CSRF token is this session's, compared in constant
        time."""
        if candidate is None:
            return False
        return hmac.compare_digest(candidate.encode(), self.csrf_token.encode())


@dataclass(frozen=True)
class NewSession:
    """A session just signed in: `token` is the cookie's value, shown this once."""

    token: str
    session: ActiveSession


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _token_hash(token: str) -> bytes:
    # The token holds 256 random bits: a plain SHA-256 cannot be reversed by guessing.
    return hashlib.sha256(token.encode()).digest()


def _token_shaped(token: str | None) -> bool:
    return bool(token) and len(token or "") <= _TOKEN_MAX and (token or "").isascii()


class Accounts:
    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: Settings,
        sealer: Sealer,
        access_log: AccessLog,
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        """`clock` is the time authenticator codes are checked at (tests move it); every other
        time is Postgres's."""
        self._pool = pool
        self._settings = settings
        self._sealer = sealer
        self._log = access_log
        self._clock = clock
        self._idle = timedelta(minutes=settings.session_idle_minutes)
        self._absolute = timedelta(hours=settings.session_absolute_hours)
        self._link_lifetime = timedelta(hours=settings.sign_up_link_hours)
        self._window = timedelta(minutes=settings.sign_in_failure_window_minutes)

    # Accounts

    async def create_user(
        self,
        *,
        role: Role,
        email: str,
        name: str,
        insurer_id: str | None,
        examiner_id: str | None,
        by: Caller | None,
        supervisor: bool = False,
    ) -> tuple[User, str]:
        """A new account and its one-time sign-up link (URL), valid `sign_up_link_hours`.
        `supervisor`: an insurer's supervisor (the console's team page); insurers only."""
        email, name = email.strip(), name.strip()
        _check_account(role, email, name, insurer_id, examiner_id)
        if supervisor and role is not Role.INSURER:
            raise InvalidInput(
                "the account cannot be created",
                details=[{"field": "supervisor", "message": "only an insurer account may be one"}],
            )
        async with self._pool.acquire() as conn, conn.transaction():
            user = await user_store.create(
                conn,
                role=role,
                email=email,
                name=name,
                insurer_id=insurer_id,
                examiner_id=examiner_id,
                supervisor=supervisor,
            )
            if user is None:
                raise Conflict(
                    "an account with this email exists already",
                    details=[{"field": "email", "message": "already has an account"}],
                )
            link = await self._new_link(conn, user.id)
        await self._record(ROUTE_USERS, "user_created", 201, actor=by, target=user)
        return user, link

    async def set_credentials(self, email: str, password: str, totp_secret: str) -> None:
        """Set a person's password and authenticator secret directly (scripts and tests: the
        CLI's `--password-stdin --totp-secret-file`); their open sign-up links stop working."""
        user = await user_store.find_by_email(self._pool, email.strip())
        if user is None:
            raise NotFound("no account has this email")
        if not user.active:
            raise Conflict("the account is deactivated")
        problems = []
        if (problem := passwords.problem(password)) is not None:
            problems.append({"field": "password", "message": problem})
        if not totp.valid_secret(totp_secret):
            problems.append(
                {"field": "totp_secret", "message": "not a base32 secret of 128 bits or more"}
            )
        if problems:
            raise InvalidInput("the credentials cannot be used", details=problems)
        password_hash = await asyncio.to_thread(passwords.hash_password, password)
        async with self._pool.acquire() as conn, conn.transaction():
            await user_store.set_credentials(
                conn,
                user.id,
                password_hash=password_hash,
                sealed_totp_secret=self._sealer.seal(totp_secret.encode()),
            )
            await user_store.void_links(conn, user.id)
        await self._record(ROUTE_USERS, "credentials_set", 200, actor=None, target=user)

    async def list_users(self) -> list[User]:
        return await user_store.all_users(self._pool)

    async def deactivate(self, email: str, by: Caller | None) -> User:
        """Take an account out of use: its sessions end at once, its links stop working."""
        async with self._pool.acquire() as conn, conn.transaction():
            user = await user_store.deactivate(conn, email.strip())
            if user is None:
                raise NotFound("no account has this email")
            await session_store.revoke_all(conn, user.id)
            await user_store.void_links(conn, user.id)
        await self._record(ROUTE_USERS, "deactivated", 200, actor=by, target=user)
        return user

    async def reset_mfa(self, email: str, by: Caller | None) -> str:
        """Clear a person's authenticator (a lost phone): their sessions end, and the link
        returned sets a new authenticator. Their password is kept, and the link does not ask for
        it: whoever holds the link still needs the password to sign in."""
        async with self._pool.acquire() as conn, conn.transaction():
            user = await user_store.find_by_email(conn, email.strip())
            if user is None:
                raise NotFound("no account has this email")
            if not user.active:
                raise Conflict("the account is deactivated")
            await user_store.clear_authenticator(conn, user.id)
            await session_store.revoke_all(conn, user.id)
            link = await self._new_link(conn, user.id)
        await self._record(ROUTE_USERS, "mfa_reset", 200, actor=by, target=user)
        return link

    # Signing up

    async def enrolment(self, token: str) -> Enrolment | None:
        """The sign-up page of a link; None when the link is unknown, used, expired or its
        account deactivated. The authenticator secret is made the first time the link is
        opened and kept (sealed) for it: reloading the page shows the same one."""
        if not _token_shaped(token):
            return None
        token_hash = _token_hash(token)
        link = await user_store.open_link(self._pool, token_hash)
        if link is None:
            return None
        sealed = link.sealed_pending_secret
        if sealed is None:
            fresh = self._sealer.seal(totp.new_secret().encode())
            sealed = await user_store.keep_pending_secret(self._pool, token_hash, fresh)
        secret = self._sealer.open(sealed).decode()
        uri = totp.otpauth_uri(secret, link.user.email)
        return Enrolment(
            name=link.user.name,
            email=link.user.email,
            secret=secret,
            otpauth_uri=uri,
            qr_svg=totp.qr_svg(uri),
            needs_password=not link.user.has_password,
        )

    async def complete_sign_up(self, token: str, password: str | None, code: str) -> None:
        """Finish a sign-up: the password chosen (a new person; None or empty after an
        authenticator reset, which keeps the password) and the authenticator's current code.
        Refused with InvalidInput naming the fields at fault (never their values), or
        SignUpLinkNotValid; the link works once."""
        if not _token_shaped(token):
            raise SignUpLinkNotValid()
        token_hash = _token_hash(token)
        async with self._pool.acquire() as conn, conn.transaction():
            link = await user_store.open_link(conn, token_hash, lock=True)
            if link is None or link.sealed_pending_secret is None:
                # Never opened: nobody was shown the secret, so no code can be right.
                raise SignUpLinkNotValid()
            problems = []
            if link.user.has_password:
                if password:
                    problems.append(
                        {"field": "password", "message": "this link keeps your password as it is"}
                    )
            elif (problem := passwords.problem(password or "")) is not None:
                problems.append({"field": "password", "message": problem})
            secret = self._sealer.open(link.sealed_pending_secret).decode()
            step = totp.matching_step(secret, code, self._clock())
            if step is None:
                problems.append({"field": "code", "message": "not the current code"})
            if problems:
                raise InvalidInput("the sign-up cannot be completed", details=problems)
            assert step is not None
            password_hash = (
                None
                if link.user.has_password
                else await asyncio.to_thread(passwords.hash_password, password or "")
            )
            await user_store.set_credentials(
                conn,
                link.user.id,
                password_hash=password_hash,
                sealed_totp_secret=link.sealed_pending_secret,
            )
            await user_store.accept_step(conn, link.user.id, step)
            await user_store.use_link(conn, token_hash)
        await self._record(
            ROUTE_SIGN_UP, "mfa_enrolled", 200, actor=_caller(link.user), target=None
        )

    # Signing in and out

    async def sign_in(self, email: str, password: str, code: str, client: str | None) -> NewSession:
        """A new session for the right email, password and fresh authenticator code. Refused
        with SignInRefused (one message for every reason), or SignInThrottled while the account
        or the client address (`client`) has failed too often: then nothing is checked."""
        email = email.strip()
        account = self._account_key(email)
        wait = await session_store.retry_after(
            self._pool,
            account=account,
            address=client,
            window=self._window,
            per_account=self._settings.sign_in_failures_per_account,
            per_address=self._settings.sign_in_failures_per_address,
        )
        if wait is not None:
            known = await user_store.find_by_email(self._pool, email)
            await self._record(
                ROUTE_SIGN_IN,
                "sign_in_throttled",
                429,
                actor=_caller(known) if known else None,
                credential=CREDENTIAL_PASSWORD,
            )
            raise SignInThrottled(wait)
        creds = await user_store.credentials(self._pool, email)
        user = await self._checked(creds, password, code)
        if user is None:
            await session_store.record_failure(
                self._pool, account=account, address=client, window=self._window
            )
            await self._record(
                ROUTE_SIGN_IN,
                "sign_in_failed",
                401,
                actor=_caller(creds.user) if creds else None,
                credential=CREDENTIAL_PASSWORD,
            )
            raise SignInRefused()
        token = secrets.token_urlsafe(32)
        async with self._pool.acquire() as conn, conn.transaction():
            stored = await session_store.create(
                conn,
                session_id=_token_hash(token),
                user_id=user.id,
                csrf_token=secrets.token_urlsafe(32),
                idle=self._idle,
                absolute=self._absolute,
            )
            await user_store.signed_in(conn, user.id)
            await session_store.forget_failures(conn, account)
        await self._record(
            ROUTE_SIGN_IN, "sign_in", 200, actor=_caller(user), credential=CREDENTIAL_PASSWORD
        )
        return NewSession(token, _active(stored))

    async def session(self, token: str | None, *, activity: bool = True) -> ActiveSession | None:
        """The live session of a cookie's token; None when unknown, signed out, idle or past its
        lifetime, or its person's account deactivated. Using it pushes the idle expiry on, unless
        the request is not the person's doing (`activity=False`: a page refreshing itself must
        not keep an unattended screen signed in)."""
        if token is None or not _token_shaped(token):
            return None
        session_id = _token_hash(token)
        stored = await session_store.find_live(self._pool, session_id)
        if stored is None:
            return None
        if activity and _utcnow() - stored.last_seen_at >= TOUCH_EVERY:
            pushed = await session_store.touch(
                self._pool, session_id, idle=self._idle, every=TOUCH_EVERY
            )
            if pushed is not None:
                return _active(stored, idle_expires_at=pushed)
        return _active(stored)

    async def sign_out(self, token: str) -> None:
        """End the session of a cookie's token (nothing happens for one that is not live)."""
        if not _token_shaped(token):
            return
        user_id = await session_store.revoke(self._pool, _token_hash(token))
        if user_id is not None:
            await self._record(
                ROUTE_SIGN_OUT,
                "sign_out",
                200,
                actor=None,
                user_id=user_id,
                credential=CREDENTIAL_CONSOLE_SESSION,
            )

    async def sign_out_everywhere(self, user_id: str) -> int:
        """End every session of a person (their other browsers too); returns how many ended."""
        try:
            uuid.UUID(user_id)
        except ValueError:
            raise NotFound("no such account") from None
        ended = await session_store.revoke_all(self._pool, user_id)
        await self._record(
            ROUTE_SIGN_OUT,
            "sign_out_everywhere",
            200,
            actor=None,
            user_id=user_id,
            credential=CREDENTIAL_CONSOLE_SESSION,
        )
        return ended

    # Helpers

    async def _checked(
        self, creds: user_store.Credentials | None, password: str, code: str
    ) -> User | None:
        """The account whose password and code these are, or None. The password is checked
        (an argon2 verification, in a thread) even when there is no account to check it
        against, so that an unknown email takes as long to refuse as a wrong password."""
        password = password[: passwords.MAX_LENGTH * 4]  # bounds the hashing of junk
        if creds is None or creds.password_hash is None:
            await asyncio.to_thread(passwords.spend_a_check, password)
            return None
        good = await asyncio.to_thread(passwords.verify, creds.password_hash, password)
        user = creds.user
        if not good or not user.active or creds.sealed_totp_secret is None:
            return None
        secret = self._sealer.open(creds.sealed_totp_secret).decode()
        step = totp.matching_step(secret, code, self._clock())
        if step is None or not await user_store.accept_step(self._pool, user.id, step):
            return None
        if passwords.needs_rehash(creds.password_hash):
            rehashed = await asyncio.to_thread(passwords.hash_password, password)
            await user_store.set_password_hash(self._pool, user.id, rehashed)
        return user

    def _account_key(self, email: str) -> str:
        """What failures are counted under for an email: a keyed hash of it, lowercased. An
        email with no account is counted (and limited) the same way, and never stored."""
        message = b"sign-in-account\x1f" + email.lower().encode()
        key = self._settings.api_key_secret.encode()
        return hmac.new(key, message, hashlib.sha256).hexdigest()

    async def _new_link(self, conn: Connection, user_id: str) -> str:
        """A new sign-up link for the account (its earlier open links stop working)."""
        token = secrets.token_urlsafe(32)
        await user_store.void_links(conn, user_id)
        await user_store.create_link(conn, user_id, _token_hash(token), self._link_lifetime)
        return f"{self._settings.console_url()}/console/sign-up/{token}"

    async def _record(
        self,
        route: str,
        action: str,
        status: int,
        *,
        actor: Caller | None,
        target: User | None = None,
        user_id: str | None = None,
        credential: str | None = None,
    ) -> None:
        """An access-log row: who acted (`actor`, or only their account id), and the account
        the event is about when that is someone else's (`target`)."""
        target_id = target.id if target is not None else None
        acting_user = actor.user_id if actor is not None else user_id
        await self._log.record(
            AccessEntry(
                key_id=actor.key_id if actor else None,
                role=actor.role.value if actor else None,
                insurer_id=actor.insurer_id if actor else None,
                examiner_id=actor.examiner_id if actor else None,
                method="POST",
                route=route,
                claim_id=None,
                action=action,
                status=status,
                request_id=None,
                credential=credential,
                user_id=acting_user,
                target_user_id=target_id if target_id != acting_user else None,
            )
        )


def _caller(user: User) -> Caller:
    return Caller(
        role=user.role,
        insurer_id=user.insurer_id,
        examiner_id=user.examiner_id,
        user_id=user.id,
        user_name=user.name,
    )


def _active(
    stored: session_store.StoredSession, *, idle_expires_at: datetime | None = None
) -> ActiveSession:
    return ActiveSession(
        id=stored.id.hex(),
        user=stored.user,
        caller=_caller(stored.user),
        csrf_token=stored.csrf_token,
        idle_expires_at=idle_expires_at or stored.idle_expires_at,
        absolute_expires_at=stored.absolute_expires_at,
    )


def _check_account(
    role: Role, email: str, name: str, insurer_id: str | None, examiner_id: str | None
) -> None:
    """An account's fields, each refusal naming its field (and never quoting it)."""
    problems = []
    if role not in ACCOUNT_ROLES:
        problems.append({"field": "role", "message": "not a role a person may have"})
    local, at, domain = email.partition("@")
    if (
        not local
        or not at
        or "." not in domain
        or "@" in domain
        or len(email) > _EMAIL_MAX
        or not email.isprintable()
        or any(c.isspace() for c in email)
    ):
        problems.append({"field": "email", "message": "not an email address"})
    if not name or len(name) > _NAME_MAX or not name.isprintable():
        problems.append({"field": "name", "message": f"1 to {_NAME_MAX} printable characters"})
    if (role is Role.INSURER) != bool(insurer_id):
        problems.append(
            {"field": "insurer_id", "message": "the insurer role, and only it, has one"}
        )
    if (role is Role.EXAMINER) != bool(examiner_id):
        problems.append(
            {"field": "examiner_id", "message": "the examiner role, and only it, has one"}
        )
    if problems:
        raise InvalidInput("the account cannot be created", details=problems)
