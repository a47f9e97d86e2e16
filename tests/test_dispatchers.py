"""Dispatchers as real processes: two at once never send one delivery twice, and one SIGKILLed
mid-send loses nothing (another sends what it held, once its lease lapses)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import signal
import sys
from collections.abc import AsyncIterator

import pytest

from domain.names import Role
from settings import PROJECT_ROOT
from tests.helpers.app import ApiHarness
from tests.helpers.probes import deliveries, delivery_statuses
from tests.helpers.processes import service_env
from tests.helpers.receivers import WebhookReceiver, serving
from tests.helpers.referrals import referral_payload
from tests.helpers.stack import dev_address

pytestmark = pytest.mark.slow
LEASE_SECONDS = "3"


@contextlib.asynccontextmanager
async def dispatcher(env: dict[str, str]) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "dispatcher.py", cwd=PROJECT_ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.returncode is None:
            process.terminate()
            await asyncio.wait_for(process.wait(), 20)


def message_id(hook_id: str, dedup: str) -> str:
    """The `webhook-id` of a webhook delivery (store.webhooks: one per endpoint and event)."""
    event_id = dedup.removeprefix(f"webhook:{hook_id}:")
    return "msg_" + hashlib.sha256(f"{hook_id}|{event_id}".encode()).hexdigest()[:24]


async def start_claims(api: ApiHarness, count: int) -> None:
    http = await api.as_role(Role.INSURER, insurer="acme-ins")
    for _ in range(count):
        answer = await http.post("/v1/claims", json=referral_payload("DEMO"))
        assert answer.status_code == 201, answer.text


async def all_delivered(pool, webhook_id: str, expected: int, timeout: float = 90) -> None:
    async with asyncio.timeout(timeout):
        while (await delivery_statuses(pool, webhook_id=webhook_id)) != {"delivered": expected}:
            await asyncio.sleep(0.2)


async def test_two_dispatchers_share_the_work_and_a_killed_one_loses_nothing(
    api: ApiHarness, dev_env, database_url, task_queue, pool
):
    receiver = WebhookReceiver(delay=0.3)
    async with serving(receiver.app()) as url:
        ops = await api.as_role(Role.OPS)
        made = await ops.post(
            "/v1/webhooks",
            json={"url": f"{url}/hook", "insurer_id": "acme-ins", "event_types": ["claim.created"]},
        )
        assert made.status_code == 201, made.text
        hook_id = made.json()["id"]
        env = service_env(
            dev_address(dev_env),
            database_url,
            task_queue,
            IME_WEBHOOK_ALLOWED_NETWORKS='["127.0.0.0/8"]',
            IME_DISPATCHER_LEASE_SECONDS=LEASE_SECONDS,
            IME_DELIVERY_BACKOFF_FIRST_SECONDS="0.2",
            IME_DELIVERY_BACKOFF_MAX_SECONDS="1",
        )

        # Two dispatchers at once: every delivery sent exactly once.
        async with dispatcher(env), dispatcher(env):
            await start_claims(api, 20)
            await all_delivered(pool, hook_id, 20)
        assert len(receiver.seen) == 20
        assert set(receiver.seen.values()) == {1}

        # One of two killed mid-send: a replacement sends what it held; nothing is lost.
        async with dispatcher(env) as doomed, dispatcher(env):
            await start_claims(api, 20)
            async with asyncio.timeout(30):
                while len(receiver.seen) < 24:  # sends in flight
                    await asyncio.sleep(0.02)
            delivered_before = {
                message_id(hook_id, d.dedup)
                for d in await deliveries(pool, webhook_id=hook_id, status="delivered")
            }
            doomed.send_signal(signal.SIGKILL)
            await doomed.wait()
            async with dispatcher(env):
                await all_delivered(pool, hook_id, 40)
    assert len(receiver.seen) == 40  # every event arrived
    assert set(receiver.accepted.values()) == {1}  # each webhook-id accepted once
    repeated = {message_id for message_id, n in receiver.seen.items() if n > 1}
    # Only what the killed dispatcher had in flight was sent again: never a delivery it had
    # recorded as delivered, and no more than one dispatcher's concurrency.
    assert len(repeated) <= 16
    assert not repeated & delivered_before
    assert len(delivered_before) >= 20
