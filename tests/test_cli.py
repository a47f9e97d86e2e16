"""The operations CLI end to end: real dev server, Postgres and worker; the CLI as a subprocess."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from domain.delivery import Channel
from domain.keys import key_id_of
from store import outbox
from tests.helpers.config import TEST_SEALER, claim_activities, make_settings
from tests.helpers.probes import claim_count, deliveries
from tests.helpers.processes import starter_cli
from tests.helpers.referrals import referral_payload
from tests.helpers.stack import dev_address
from worker import build_worker

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def cli(dev_env, database_url, task_queue, pool):
    run = starter_cli(dev_address(dev_env), database_url, task_queue, timeout=60)

    settings = make_settings(database_url, task_queue, dev_address(dev_env))
    async with build_worker(dev_env.client, settings, claim_activities(pool)):
        yield run


async def test_cli_starts_a_claim_shows_status_and_reports_illegal_actions(cli, tmp_path, pool):
    referral_file = tmp_path / "referral.json"
    referral_file.write_text(json.dumps(referral_payload("DEMO")))

    code, stdout, stderr = await cli("start", "--file", str(referral_file))
    assert code == 0, stderr
    claim = json.loads(stdout)
    assert claim["stage"] in {"REFERRAL", "SCHEDULING"} and "created" in stderr

    code, stdout, _ = await cli("start", "--file", str(referral_file))
    assert code == 0 and json.loads(stdout)["claim_id"] == claim["claim_id"]

    code, stdout, _ = await cli("status", claim["claim_id"])
    assert code == 0 and json.loads(stdout)["claim_id"] == claim["claim_id"]

    code, _, stderr = await cli(
        "act",
        claim["claim_id"],
        "decision",
        "--data",
        '{"outcome": "approved", "reason_code": "IME_SUPPORTS"}',
    )
    assert code == 1
    assert json.loads(stderr)["error"]["code"] == "action_not_allowed"


async def test_cli_rejects_an_invalid_referral_without_starting_anything(cli, tmp_path, pool):
    referral_file = tmp_path / "bad.json"
    referral_file.write_text(json.dumps(referral_payload("DEMO") | {"jurisdiction": "NOPE"}))
    code, stdout, stderr = await cli("start", "--file", str(referral_file))
    assert code == 2 and stdout == ""
    error = json.loads(stderr)["error"]
    assert error["code"] == "invalid_input"
    assert [d["field"] for d in error["details"]] == ["jurisdiction"]
    assert "Jane Roe" not in stderr
    assert await claim_count(pool) == 0

    code, _, stderr = await cli("start", "--claim-number", "X-1")
    assert code == 2 and json.loads(stderr)["error"]["code"] == "invalid_input"


async def test_keys_are_created_once_listed_without_secrets_and_revoked(cli, pool):
    code, stdout, stderr = await cli(
        "keys", "create", "--role", "insurer", "--insurer", "acme-ins", "--name", "acme sync"
    )
    assert code == 0, stderr
    key = stdout.strip().splitlines()[-1]  # the key is the last line, shown once
    key_id = key_id_of(key)
    assert key_id is not None and "acme-ins" in stderr
    stored = await pool.fetchrow("SELECT * FROM api_keys WHERE id = $1", key_id)
    assert stored["role"] == "insurer" and stored["insurer_id"] == "acme-ins"
    assert key.encode() not in bytes(stored["secret_hash"]) and key not in str(dict(stored))

    code, stdout, _ = await cli("keys", "list")
    assert code == 0 and key_id in stdout and "acme sync" in stdout and key not in stdout

    code, _, stderr = await cli("keys", "revoke", key)
    assert code == 0 and key_id in stderr
    assert await pool.fetchval("SELECT revoked_at FROM api_keys WHERE id = $1", key_id)
    code, _, stderr = await cli("keys", "revoke", "nosuchkeyidx")
    assert code == 1 and json.loads(stderr)["error"]["code"] == "not_found"

    code, _, stderr = await cli("keys", "create", "--role", "insurer")
    assert code == 2 and "--insurer" in stderr
    code, _, stderr = await cli("keys", "create", "--role", "ops", "--examiner", "ex-1")
    assert code == 2
    code, stdout, _ = await cli("keys", "create", "--role", "sre", "--expires-in", "30")
    assert code == 0
    expiry = await pool.fetchval(
        "SELECT expires_at - created_at FROM api_keys WHERE id = $1",
        key_id_of(stdout.strip().splitlines()[-1]),
    )
    assert expiry.days in (29, 30)


async def test_the_access_log_of_a_claim_is_printed(cli, pool):
    claim_id = "a" * 24
    await pool.execute(
        "INSERT INTO access_log (key_id, role, method, route, claim_id, status)"
        " VALUES ('k1', 'insurer', 'GET', '/v1/claims/{claim_id}', $1, 200)",
        claim_id,
    )
    code, stdout, stderr = await cli("access-log", "--claim", claim_id)
    assert code == 0, stderr
    assert "insurer" in stdout and "/v1/claims/{claim_id}" in stdout and "200" in stdout


async def test_cli_shows_the_delivery_backlog_and_sends_dead_ones_again(cli, pool):
    async with pool.acquire() as conn:
        for n, channel in enumerate([Channel.EMAIL, Channel.EMAIL, Channel.PAGE]):
            await outbox.insert_delivery(
                conn,
                TEST_SEALER,
                dedup=f"cli-dead-{n}",
                channel=channel,
                claim_id="c-cli",
                event_type="claim.closed",
                body={"n": n},
                retry=timedelta(hours=1),
            )
    await pool.execute("UPDATE deliveries SET status = 'dead' WHERE claim_id = 'c-cli'")

    code, stdout, stderr = await cli("deliveries", "backlog")
    assert code == 0, stderr
    cells = [line.replace("│", " ").split() for line in stdout.splitlines()]
    assert ["email", "dead", "2"] in cells and ["page", "dead", "1"] in cells

    code, stdout, stderr = await cli("deliveries", "retry", "--channel", "email")
    assert code == 0, stderr
    assert "2 dead email deliveries queued again" in stdout
    fresh_after = await pool.fetchval("SELECT now() + interval '23 hours'")
    rows = await deliveries(pool, claim_id="c-cli")
    # The email ones are pending again with a fresh retry period; the page stays dead.
    assert [(d.channel, d.status, d.give_up_at > fresh_after) for d in rows] == [
        ("email", "pending", True),
        ("email", "pending", True),
        ("page", "dead", False),
    ]

    code, _, stderr = await cli("deliveries", "retry", "--channel", "fax")
    assert code != 0 and "fax" in stderr
