"""People's console accounts (`people`): the password policy, signing up through a one-time link
with a real authenticator code, signing in (one refusal for every reason, codes good once,
failures limited per account and per address), sessions ending when idle, at their lifetime, on
sign-out and on deactivation, an authenticator reset, the access log of all of it, and the
`starter.py users` commands as an operator runs them. Real Postgres throughout."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pyotp
import pytest

from domain.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from domain.models import Caller
from domain.names import Role
from domain.timeline import who_acted_as_seen_by
from people import passwords, totp
from people.accounts import Accounts, NewSession
from people.errors import SignInRefused, SignInThrottled, SignUpLinkNotValid
from settings import PROJECT_ROOT, Settings
from store import access_log
from store.access_log import AccessLog
from tests.helpers.config import TEST_SEALER, make_settings
from tests.helpers.processes import service_env

REFUSED = "the email, password or authenticator code is not right"
PASSWORD = "purple elephants dance at noon"
ADDRESS = "203.0.113.7"
OPS = Caller(role=Role.OPS, key_name="cli:test")


class Clock:
    """The time authenticator codes are checked at; each sign-in moves it to a new 30 s step."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.at

    def next_step(self) -> None:
        self.at += timedelta(seconds=30)


@pytest.fixture
async def log(pool: asyncpg.Pool) -> AsyncIterator[AccessLog]:
    log = AccessLog(pool, timeout=5)
    yield log
    await log.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def settings_with(database_url: str, **changes: Any) -> Settings:
    return make_settings(database_url, "tq-people").model_copy(update=changes)


@pytest.fixture
def accounts(pool, database_url, log, clock) -> Accounts:
    return Accounts(pool, settings_with(database_url), TEST_SEALER, log, clock=clock)


async def person(
    accounts: Accounts, email: str = "ana@example.org", role: Role = Role.OPS, **scope: str
) -> str:
    """An account with a password (PASSWORD) and an authenticator; returns its secret."""
    secret = pyotp.random_base32()
    await accounts.create_user(
        role=role,
        email=email,
        name=email.split("@")[0].title(),
        insurer_id=scope.get("insurer_id"),
        examiner_id=scope.get("examiner_id"),
        by=OPS,
    )
    await accounts.set_credentials(email, PASSWORD, secret)
    return secret


async def sign_in(
    accounts: Accounts,
    clock: Clock,
    secret: str,
    email: str = "ana@example.org",
    password: str = PASSWORD,
    client: str | None = ADDRESS,
) -> NewSession:
    clock.next_step()
    return await accounts.sign_in(email, password, pyotp.TOTP(secret).at(clock.at), client)


def token_of(link: str) -> str:
    prefix = "http://127.0.0.1:8000/console/sign-up/"
    assert link.startswith(prefix)
    return link.removeprefix(prefix)


async def logged(pool: asyncpg.Pool, user_id: str) -> list[tuple[str | None, int]]:
    page = await access_log.person_page(pool, user_id, limit=100)
    return [(e.entry.action, e.entry.status) for e in reversed(page.entries)]


# Passwords and codes


def test_the_password_policy_is_length_and_the_common_list_only():
    assert passwords.problem("abcdefghijk") == "at least 12 characters"
    assert passwords.problem("abcdefghijkl") is None
    # Characters, not bytes: 12 accented letters are 24 bytes; 11 emoji are 44.
    assert passwords.problem("é" * 12) is None
    assert passwords.problem("\N{THUMBS UP SIGN}" * 11) == "at least 12 characters"
    assert passwords.problem("x" * 256) is None
    assert passwords.problem("x" * 257) == "at most 256 characters"
    common = "too common: it is on a list of passwords often used; choose another"
    assert passwords.problem("qwerty123456") == common
    assert passwords.problem("QWERTY123456") == common
    assert passwords.problem("Q1w2E3r4T5y6") == common
    # No composition rules: lower-case words and spaces, no digit, no symbol.
    assert passwords.problem(PASSWORD) is None


def test_passwords_are_argon2id_hashes():
    stored = passwords.hash_password(PASSWORD)
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert PASSWORD not in stored
    assert passwords.verify(stored, PASSWORD)
    assert not passwords.verify(stored, PASSWORD.upper())
    assert not passwords.needs_rehash(stored)
    weak = "$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$A2c4aWd9y0KSJ8gXMFOE/A"
    assert passwords.needs_rehash(weak)


def test_codes_follow_rfc_6238():
    # RFC 6238 appendix B: SHA-1 secret "12345678901234567890", T = 59 s gives 94287082; six
    # digits are its last six, in time-step 1.
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    at = datetime.fromtimestamp(59, UTC)
    assert totp.matching_step(secret, "287082", at) == 1
    assert totp.matching_step(secret, "287 082", at) == 1
    assert totp.matching_step(secret, "287082", at + timedelta(seconds=30)) == 1  # one step late
    assert totp.matching_step(secret, "287082", at + timedelta(seconds=60)) is None
    assert totp.matching_step(secret, "287083", at) is None
    assert totp.matching_step(secret, "", at) is None
    assert totp.valid_secret(secret)
    assert not totp.valid_secret("GEZDGNBV")  # 40 bits
    assert not totp.valid_secret("not base32!")
    assert totp.otpauth_uri(secret, "ana@example.org") == (
        "otpauth://totp/IME%20Claims%20Orchestrator:ana%40example.org"
        "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=IME%20Claims%20Orchestrator"
    )


# Signing up


async def test_a_sign_up_link_enrols_once_with_a_real_code(accounts, pool, clock):
    user, link = await accounts.create_user(
        role=Role.INSURER,
        email="Ina@Example.org",
        name="Ina Insurer",
        insurer_id="acme-ins",
        examiner_id=None,
        by=OPS,
    )
    assert (user.email, user.role, user.insurer_id, user.active) == (
        "Ina@Example.org",
        Role.INSURER,
        "acme-ins",
        True,
    )
    assert not user.mfa_enrolled and not user.has_password
    token = token_of(link)
    stored = await pool.fetchval("SELECT token_hash FROM sign_up_links")
    assert bytes(stored) == hashlib.sha256(token.encode()).digest()  # never the token itself

    enrolment = await accounts.enrolment(token)
    assert enrolment is not None
    assert (enrolment.name, enrolment.email, enrolment.needs_password) == (
        "Ina Insurer",
        "Ina@Example.org",
        True,
    )
    assert enrolment.otpauth_uri.startswith("otpauth://totp/IME%20Claims%20Orchestrator:Ina")
    assert enrolment.qr_svg.startswith("<svg") and "<path" in enrolment.qr_svg
    again = await accounts.enrolment(token)
    assert again is not None and again.secret == enrolment.secret  # made once per link
    sealed = await pool.fetchval("SELECT sealed_pending_secret FROM sign_up_links")
    assert enrolment.secret.encode() not in bytes(sealed)

    code = pyotp.TOTP(enrolment.secret).at(clock.at)
    with pytest.raises(InvalidInput) as refused:
        await accounts.complete_sign_up(token, "too short", "000000" if code != "000000" else "1")
    assert refused.value.details == [
        {"field": "password", "message": "at least 12 characters"},
        {"field": "code", "message": "not the current code"},
    ]
    assert "too short" not in json.dumps(refused.value.details) + refused.value.message
    with pytest.raises(InvalidInput) as refused:
        await accounts.complete_sign_up(token, "QWERTY123456", code)
    assert refused.value.details == [
        {
            "field": "password",
            "message": "too common: it is on a list of passwords often used; choose another",
        }
    ]

    await accounts.complete_sign_up(token, PASSWORD, code)
    assert await accounts.enrolment(token) is None
    with pytest.raises(SignUpLinkNotValid):
        await accounts.complete_sign_up(token, PASSWORD, code)
    [listed] = await accounts.list_users()
    assert listed.mfa_enrolled and listed.has_password
    # The code of the sign-up is spent; the next step's signs in (the email in any case).
    with pytest.raises(SignInRefused):
        await accounts.sign_in("ina@example.org", PASSWORD, code, ADDRESS)
    session = await sign_in(accounts, clock, enrolment.secret, email="ina@example.org")
    assert session.session.caller == Caller(
        role=Role.INSURER, insurer_id="acme-ins", user_id=user.id, user_name="Ina Insurer"
    )


async def test_a_sign_up_link_expires_and_a_new_one_replaces_it(accounts, pool):
    _, link = await accounts.create_user(
        role=Role.REVIEWER, email="rex@example.org", name="Rex", insurer_id=None,
        examiner_id=None, by=OPS,
    )  # fmt: skip
    expires = await pool.fetchval("SELECT expires_at - created_at FROM sign_up_links")
    assert expires == timedelta(hours=24)
    await pool.execute("UPDATE sign_up_links SET expires_at = now() - interval '1 second'")
    assert await accounts.enrolment(token_of(link)) is None
    with pytest.raises(SignUpLinkNotValid):
        await accounts.complete_sign_up(token_of(link), PASSWORD, "123456")
    assert await accounts.enrolment("made-up-token") is None
    assert await accounts.enrolment("x" * 10_000) is None

    second = await accounts.reset_mfa("rex@example.org", OPS)
    third = await accounts.reset_mfa("REX@example.org", OPS)
    assert await accounts.enrolment(token_of(second)) is None  # replaced by the third
    assert await accounts.enrolment(token_of(third)) is not None


async def test_accounts_are_refused_with_the_field_at_fault(accounts):
    with pytest.raises(InvalidInput) as refused:
        await accounts.create_user(
            role=Role.INSURER, email="not an email", name="", insurer_id=None, examiner_id="e1",
            by=OPS,
        )  # fmt: skip
    assert [d["field"] for d in refused.value.details] == [
        "email",
        "name",
        "insurer_id",
        "examiner_id",
    ]
    await person(accounts)
    with pytest.raises(Conflict):
        await person(accounts, email="ANA@example.org")
    with pytest.raises(NotFound):
        await accounts.deactivate("nobody@example.org", OPS)


# Signing in


async def test_a_sign_in_makes_a_session_stored_only_as_a_hash(accounts, pool, clock):
    secret = await person(accounts, role=Role.EXAMINER, examiner_id="ex-1")
    new = await sign_in(accounts, clock, secret)
    session = new.session
    assert session.caller.role is Role.EXAMINER and session.caller.examiner_id == "ex-1"
    assert session.caller.user_name == "Ana" and session.caller.key_id is None
    assert await pool.fetchval("SELECT id FROM console_sessions") == (
        hashlib.sha256(new.token.encode()).digest()
    )
    found = await accounts.session(new.token)
    assert found is not None and found.user.email == "ana@example.org"
    assert found.csrf_ok(session.csrf_token)
    assert not found.csrf_ok(None) and not found.csrf_ok("") and not found.csrf_ok("é")
    assert session.absolute_expires_at - session.idle_expires_at == timedelta(hours=12, minutes=-15)
    assert await accounts.session(new.token + "x") is None
    assert await accounts.session(None) is None
    [user] = await accounts.list_users()
    assert user.last_sign_in_at is not None


async def test_every_refused_sign_in_says_the_same(accounts, clock):
    secret = await person(accounts)
    await person(accounts, email="gone@example.org")
    await accounts.deactivate("gone@example.org", OPS)
    await accounts.create_user(
        role=Role.OPS, email="new@example.org", name="New", insurer_id=None, examiner_id=None,
        by=OPS,
    )  # fmt: skip
    attempts = [
        ("ana@example.org", "the wrong password here", secret),  # wrong password
        ("ana@example.org", PASSWORD, pyotp.random_base32()),  # wrong code
        ("nobody@example.org", PASSWORD, secret),  # unknown email
        ("gone@example.org", PASSWORD, secret),  # deactivated
        ("new@example.org", PASSWORD, secret),  # never signed up
    ]
    for email, password, code_secret in attempts:
        with pytest.raises(SignInRefused) as refused:
            await sign_in(accounts, clock, code_secret, email=email, password=password)
        assert refused.value.message == REFUSED
        assert isinstance(refused.value, Unauthenticated) and refused.value.status_code == 401


async def test_a_code_is_good_once(accounts, clock):
    secret = await person(accounts)
    clock.next_step()
    code = pyotp.TOTP(secret).at(clock.at)
    await accounts.sign_in("ana@example.org", PASSWORD, code, ADDRESS)
    with pytest.raises(SignInRefused):
        await accounts.sign_in("ana@example.org", PASSWORD, code, ADDRESS)
    # Nor an older one still within the window.
    earlier = pyotp.TOTP(secret).at(clock.at - timedelta(seconds=30))
    with pytest.raises(SignInRefused):
        await accounts.sign_in("ana@example.org", PASSWORD, earlier, ADDRESS)
    await sign_in(accounts, clock, secret)  # the next step's code


async def test_failures_per_account_stop_even_the_right_password(pool, database_url, log, clock):
    settings = settings_with(
        database_url, sign_in_failures_per_account=3, sign_in_failures_per_address=100
    )
    accounts = Accounts(pool, settings, TEST_SEALER, log, clock=clock)
    secret = await person(accounts)
    for n in range(3):
        with pytest.raises(SignInRefused):
            await sign_in(accounts, clock, secret, password=f"wrong password {n}", client=f"a{n}")
    with pytest.raises(SignInThrottled) as throttled:
        await sign_in(accounts, clock, secret, client="another address")
    assert throttled.value.status_code == 429 and 1 <= throttled.value.retry_after <= 15 * 60
    # An email with no account is limited the same: the limit tells nothing of who has one.
    for _ in range(3):
        with pytest.raises(SignInRefused):
            await sign_in(accounts, clock, secret, email="nobody@example.org")
    with pytest.raises(SignInThrottled):
        await sign_in(accounts, clock, secret, email="NOBODY@example.org")
    # Once the window has passed, the right password signs in.
    await pool.execute("UPDATE sign_in_failures SET at = at - interval '15 minutes'")
    await sign_in(accounts, clock, secret)


async def test_failures_per_address_stop_every_account_from_it(pool, database_url, log, clock):
    settings = settings_with(
        database_url, sign_in_failures_per_account=100, sign_in_failures_per_address=3
    )
    accounts = Accounts(pool, settings, TEST_SEALER, log, clock=clock)
    secret = await person(accounts)
    for n in range(3):
        with pytest.raises(SignInRefused):
            await sign_in(accounts, clock, secret, email=f"guess{n}@example.org")
    with pytest.raises(SignInThrottled):
        await sign_in(accounts, clock, secret)
    await sign_in(accounts, clock, secret, client="198.51.100.1")


# Sessions


async def test_a_session_ends_when_idle_and_at_its_lifetime(accounts, pool, clock):
    secret = await person(accounts)
    idle = (await sign_in(accounts, clock, secret)).token
    await pool.execute("UPDATE console_sessions SET idle_expires_at = now() - interval '1 second'")
    assert await accounts.session(idle) is None

    used = (await sign_in(accounts, clock, secret)).token
    # Used after a while: the idle expiry moves to 15 minutes from now.
    await pool.execute(
        """UPDATE console_sessions SET last_seen_at = now() - interval '1 minute',
                  idle_expires_at = now() + interval '1 minute' WHERE revoked_at IS NULL
                  AND idle_expires_at > now()"""
    )
    found = await accounts.session(used)
    assert found is not None
    left = found.idle_expires_at - datetime.now(UTC)
    assert timedelta(minutes=14) < left <= timedelta(minutes=15, seconds=5)
    # Never past the absolute lifetime.
    await pool.execute(
        """UPDATE console_sessions SET last_seen_at = now() - interval '1 minute',
                  absolute_expires_at = now() + interval '2 minutes'
           WHERE idle_expires_at > now()"""
    )
    found = await accounts.session(used)
    assert found is not None and found.idle_expires_at == found.absolute_expires_at
    await pool.execute(
        "UPDATE console_sessions SET absolute_expires_at = now() - interval '1 second'"
    )
    assert await accounts.session(used) is None


async def test_a_tiny_idle_setting_ends_a_session_unused(pool, database_url, log, clock):
    accounts = Accounts(
        pool, settings_with(database_url, session_idle_minutes=0.02), TEST_SEALER, log,
        clock=clock,
    )  # fmt: skip
    secret = await person(accounts)
    token = (await sign_in(accounts, clock, secret)).token
    assert await accounts.session(token) is not None
    await asyncio.sleep(1.5)  # 1.2 s without a request
    assert await accounts.session(token) is None


async def test_signing_out_here_and_everywhere(accounts, clock):
    secret = await person(accounts)
    first = await sign_in(accounts, clock, secret)
    second = await sign_in(accounts, clock, secret)
    third = await sign_in(accounts, clock, secret)
    await accounts.sign_out(first.token)
    assert await accounts.session(first.token) is None
    assert await accounts.session(second.token) is not None
    await accounts.sign_out(first.token)  # again: nothing happens
    assert await accounts.sign_out_everywhere(second.session.user.id) == 2
    assert await accounts.session(second.token) is None
    assert await accounts.session(third.token) is None


async def test_deactivation_ends_sessions_at_once(accounts, clock):
    secret = await person(accounts)
    token = (await sign_in(accounts, clock, secret)).token
    user = await accounts.deactivate("ana@example.org", OPS)
    assert not user.active and user.deactivated_at is not None
    assert await accounts.session(token) is None
    with pytest.raises(SignInRefused):
        await sign_in(accounts, clock, secret)
    with pytest.raises(Conflict):
        await accounts.reset_mfa("ana@example.org", OPS)


async def test_an_authenticator_reset_keeps_the_password_and_asks_for_a_new_code(accounts, clock):
    old_secret = await person(accounts)
    token = (await sign_in(accounts, clock, old_secret)).token
    link = await accounts.reset_mfa("ana@example.org", OPS)
    assert await accounts.session(token) is None
    [user] = await accounts.list_users()
    assert not user.mfa_enrolled and user.has_password
    with pytest.raises(SignInRefused):
        await sign_in(accounts, clock, old_secret)

    enrolment = await accounts.enrolment(token_of(link))
    assert enrolment is not None and not enrolment.needs_password
    code = pyotp.TOTP(enrolment.secret).at(clock.at)
    with pytest.raises(InvalidInput) as refused:
        await accounts.complete_sign_up(token_of(link), "another password here", code)
    assert refused.value.details == [
        {"field": "password", "message": "this link keeps your password as it is"}
    ]
    await accounts.complete_sign_up(token_of(link), None, code)
    with pytest.raises(SignInRefused):
        await sign_in(accounts, clock, old_secret)
    await sign_in(accounts, clock, enrolment.secret)  # the same password, the new code


# The access log


async def test_every_account_event_is_an_access_log_row(accounts, pool, clock):
    _, link = await accounts.create_user(
        role=Role.OPS, email="ana@example.org", name="Ana", insurer_id=None, examiner_id=None,
        by=OPS,
    )  # fmt: skip
    enrolment = await accounts.enrolment(token_of(link))
    assert enrolment is not None
    await accounts.complete_sign_up(
        token_of(link), PASSWORD, pyotp.TOTP(enrolment.secret).at(clock.at)
    )
    secret = enrolment.secret
    with pytest.raises(SignInRefused):
        await sign_in(accounts, clock, secret, password="not the password")
    session = await sign_in(accounts, clock, secret)
    await accounts.sign_out(session.token)
    await accounts.sign_out_everywhere(session.session.user.id)
    await accounts.reset_mfa("ana@example.org", OPS)
    await accounts.deactivate("ana@example.org", OPS)
    with pytest.raises(SignInRefused):
        await sign_in(accounts, clock, secret, email="mallory-typed-this@example.org")

    user_id = session.session.user.id
    assert await logged(pool, user_id) == [
        ("user_created", 201),
        ("mfa_enrolled", 200),
        ("sign_in_failed", 401),
        ("sign_in", 200),
        ("sign_out", 200),
        ("sign_out_everywhere", 200),
        ("mfa_reset", 200),
        ("deactivated", 200),
    ]
    rows = [dict(r) for r in await pool.fetch("SELECT * FROM access_log ORDER BY id")]
    by_ops = [r for r in rows if r["action"] in {"user_created", "mfa_reset", "deactivated"}]
    assert {(r["role"], r["user_id"], r["target_user_id"]) for r in by_ops} == {
        ("ops", None, user_id)
    }
    own = [r for r in rows if r["action"] in {"sign_in", "sign_out", "mfa_enrolled"}]
    assert {(r["user_id"], r["target_user_id"], r["route"]) for r in own} == {
        (user_id, None, "/console/sign-in"),
        (user_id, None, "/console/sign-out"),
        (user_id, None, "/console/sign-up"),
    }
    unknown = rows[-1]
    assert (unknown["action"], unknown["user_id"], unknown["status"]) == (
        "sign_in_failed",
        None,
        401,
    )
    # Nothing typed, nothing secret, anywhere in the log.
    text = json.dumps(rows, default=str)
    for secret_or_typed in ("mallory", PASSWORD, "not the password", secret, session.token):
        assert secret_or_typed not in text

    first = await access_log.person_page(pool, user_id, limit=3)
    assert [e.entry.action for e in first.entries] == [
        "deactivated",
        "mfa_reset",
        "sign_out_everywhere",
    ]
    rest = await access_log.person_page(pool, user_id, cursor=first.next_cursor, limit=10)
    assert len(rest.entries) == 5 and rest.next_cursor is None
    with pytest.raises(InvalidInput):
        await access_log.person_page(pool, user_id, cursor="not-a-cursor")


# Who acted, in a timeline


def test_a_persons_name_is_shown_where_a_keys_name_is():
    ana = Caller(role=Role.OPS, user_id="u-ana", user_name="Ana Ops")
    ina = Caller(role=Role.INSURER, insurer_id="acme-ins", user_id="u-ina", user_name="Ina")
    other = Caller(role=Role.INSURER, insurer_id="acme-ins", user_id="u-ian", user_name="Ian")
    keyed = Caller(role=Role.INSURER, insurer_id="acme-ins", key_id="k1", key_name="sync")
    assert who_acted_as_seen_by(ana, ina) == ina  # ops see everyone
    assert who_acted_as_seen_by(ina, ina) == ina  # one's own
    assert who_acted_as_seen_by(ina, ana) == Caller(role=Role.OPS)
    # Two people (neither has a key) are not "the same key".
    assert who_acted_as_seen_by(other, ina) == Caller(role=Role.INSURER)
    assert who_acted_as_seen_by(ina, keyed) == Caller(role=Role.INSURER)
    assert who_acted_as_seen_by(keyed, keyed) == keyed


# starter.py users


async def starter(database_url: str, *args: str, stdin: str = "") -> tuple[int, str, str]:
    """`python starter.py ARGS` as an operator runs it (no Temporal needed)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "starter.py", *args, cwd=PROJECT_ROOT,
        env=service_env("127.0.0.1:1", database_url, "tq-people"),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(stdin.encode()), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_users_commands(database_url, accounts, clock, tmp_path):
    code, out, err = await starter(
        database_url, "users", "create", "--role", "insurer", "--insurer", "acme-ins",
        "--email", "ina@example.org", "--name", "Ina Insurer",
    )  # fmt: skip
    assert code == 0, err
    link = out.strip().splitlines()[-1]
    assert (await accounts.enrolment(token_of(link))) is not None

    secret = pyotp.random_base32()
    secret_file = tmp_path / "totp"
    secret_file.write_text(secret + "\n")
    code, out, err = await starter(
        database_url, "users", "create", "--role", "ops", "--email", "ana@example.org",
        "--name", "Ana Ops", "--password-stdin", "--totp-secret-file", str(secret_file),
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert code == 0, err
    assert out == "" and PASSWORD not in err and secret not in err
    await sign_in(accounts, clock, secret)

    code, out, err = await starter(database_url, "users", "list")
    assert code == 0, err
    rows = {
        cells[0]: cells[1:7]
        for line in out.splitlines()
        if "@example.org" in line
        for cells in [[cell.strip() for cell in line.strip("│ ").split("│")]]
    }
    assert rows["ana@example.org"][:5] == ["Ana Ops", "ops", "-", "yes", "yes"]
    assert rows["ana@example.org"][5].startswith(f"{datetime.now(UTC):%Y-%m-%d}")  # last sign-in
    assert rows["ina@example.org"] == ["Ina Insurer", "insurer", "acme-ins", "yes", "no", "-"]

    code, _, err = await starter(database_url, "users", "deactivate", "--email", "ana@example.org")
    assert code == 0, err
    with pytest.raises(SignInRefused):
        await sign_in(accounts, clock, secret)

    code, out, err = await starter(database_url, "users", "reset-mfa", "--email", "ina@example.org")
    assert code == 0, err
    assert (await accounts.enrolment(token_of(out.strip().splitlines()[-1]))) is not None


async def test_the_users_commands_refuse_clearly(database_url, tmp_path):
    secret_file = tmp_path / "totp"
    secret_file.write_text(pyotp.random_base32())
    code, out, err = await starter(
        database_url, "users", "create", "--role", "ops", "--email", "ana@example.org",
        "--name", "Ana", "--password-stdin", "--totp-secret-file", str(secret_file),
        stdin="short pw",
    )  # fmt: skip
    assert (code, out) == (2, "")
    assert json.loads(err)["error"]["message"] == (
        "the password cannot be used: at least 12 characters"
    )
    assert "short pw" not in err

    code, _, err = await starter(
        database_url, "users", "create", "--role", "ops", "--email", "ana@example.org",
        "--name", "Ana", "--password-stdin",
    )  # fmt: skip
    assert code == 2
    assert json.loads(err)["error"]["message"] == (
        "--password-stdin and --totp-secret-file go together"
    )

    args = ("users", "create", "--role", "ops", "--email", "ana@example.org", "--name", "Ana")
    assert (await starter(database_url, *args))[0] == 0
    code, _, err = await starter(database_url, *args)
    assert code == 1
    assert json.loads(err)["error"] == {
        "code": "conflict",
        "message": "an account with this email exists already",
        "details": [{"field": "email", "message": "already has an account"}],
    }
    code, _, err = await starter(database_url, "users", "deactivate", "--email", "x@example.org")
    assert code == 1 and json.loads(err)["error"]["message"] == "no account has this email"
