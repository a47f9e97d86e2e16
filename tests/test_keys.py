"""API keys: found by id with at most one lookup per process per few seconds, refused when
revoked or expired, and revocation reaching every API process within 5 seconds."""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from domain.keys import key_id_of
from domain.names import Role
from settings import DEV_API_KEY_SECRET, PROJECT_ROOT
from store import api_keys
from tests.helpers.app import ApiHarness
from tests.helpers.processes import api_process, service_env
from tests.helpers.stack import dev_address


async def test_authentication_costs_one_lookup_per_key_while_cached(api: ApiHarness, monkeypatch):
    lookups = 0
    find = api_keys.find

    async def counted(conn, key_id):
        nonlocal lookups
        lookups += 1
        return await find(conn, key_id)

    monkeypatch.setattr(api_keys, "find", counted)
    http = await api.as_role(Role.OPS)
    for _ in range(20):
        assert (await http.get("/v1/claims")).status_code == 200
    assert lookups == 1
    plan = await api.pool.fetchval(
        "EXPLAIN (FORMAT JSON) SELECT * FROM api_keys WHERE id = 'abcdefghijkl'"
    )
    assert "api_keys_pkey" in str(plan)  # one indexed lookup


async def test_a_key_that_expires_stops_at_once_even_while_cached(api: ApiHarness):
    key = await api.key(Role.OPS, expires_at=datetime.now(UTC) + timedelta(seconds=1.5))
    http = api.client(key)
    assert (await http.get("/v1/claims")).status_code == 200
    await asyncio.sleep(1.6)
    assert (await http.get("/v1/claims")).status_code == 401


async def test_a_wrong_secret_with_a_real_id_is_refused(api: ApiHarness):
    key = await api.key(Role.OPS)
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    assert key_id_of(forged) == key_id_of(key)
    assert (await api.client(forged).get("/v1/claims")).status_code == 401
    assert (await api.client(key).get("/v1/claims")).status_code == 200


@pytest.fixture
async def two_api_processes(dev_env, database_url, task_queue):
    env = service_env(dev_address(dev_env), database_url, task_queue)
    async with api_process(env) as first, api_process(env) as second:
        yield [first, second], env


async def test_a_revoked_key_stops_working_on_every_api_process_within_5_seconds(
    two_api_processes, pool
):
    urls, env = two_api_processes
    _, key = await api_keys.create(pool, DEV_API_KEY_SECRET, role=Role.OPS)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(timeout=5, headers=headers) as http:
        for url in urls:  # both processes now hold the key in their cache
            assert (await http.get(f"{url}/v1/claims")).status_code == 200
        revoke = await asyncio.create_subprocess_exec(
            sys.executable, "starter.py", "keys", "revoke", key, cwd=PROJECT_ROOT, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        assert await revoke.wait() == 0
        revoked_at = time.monotonic()
        refused: dict[str, float] = {}
        while len(refused) < len(urls) and time.monotonic() - revoked_at < 10:
            for url in urls:
                if url not in refused and (await http.get(f"{url}/v1/claims")).status_code == 401:
                    refused[url] = time.monotonic() - revoked_at
            await asyncio.sleep(0.1)
    assert set(refused) == set(urls)
    assert max(refused.values()) <= 5.0, refused
