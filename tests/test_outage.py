"""A frozen Postgres (SIGSTOP, as a stalled disk or a paused VM) under a running API: readiness
says so within 2 seconds, every request is answered within its deadline, and the service is
whole again once Postgres is back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from devstack.postgres import EmbeddedPostgres
from domain.names import Role
from tests.helpers.app import ApiHarness, api_on_own_postgres
from tests.helpers.stack import dev_address, embedded_postgres, frozen


@pytest.fixture
def own_postgres() -> Iterator[EmbeddedPostgres]:
    with embedded_postgres("ime-freeze-") as server:
        yield server


@pytest.fixture
async def app_on_own_postgres(own_postgres, dev_env) -> AsyncIterator[ApiHarness]:
    async with api_on_own_postgres(
        own_postgres, dev_address(dev_env), "tq-freeze", api_key_cache_seconds=0.5
    ) as harness:
        yield harness


async def timed(call) -> tuple[int, float]:
    started = time.monotonic()
    answer = await call
    return answer.status_code, time.monotonic() - started


async def test_a_frozen_postgres_is_reported_in_time_and_nothing_hangs(
    app_on_own_postgres: ApiHarness, own_postgres
):
    api = app_on_own_postgres
    http = await api.as_role(Role.OPS)
    assert (await http.get("/v1/claims")).status_code == 200
    with frozen(own_postgres):
        ready, took = await timed(http.get("/readyz"))
        assert ready == 503 and took < 2.0
        listed, took = await timed(http.get("/v1/claims"))
        assert listed == 503 and took < 4.0  # acquire (1 s) + statement (1 s) + slack
        await asyncio.sleep(1.0)  # past the key cache: authentication needs Postgres too
        authenticated, took = await timed(http.get("/v1/claims"))
        assert authenticated == 503 and took < 4.0
        ready, took = await timed(http.get("/readyz"))
        assert ready == 503 and took < 2.0
    async with asyncio.timeout(20):
        while (await http.get("/readyz")).status_code != 200:
            await asyncio.sleep(0.2)
    async with asyncio.timeout(20):
        while (await http.get("/v1/claims")).status_code != 200:
            await asyncio.sleep(0.2)
