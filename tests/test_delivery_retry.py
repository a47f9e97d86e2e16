"""A failing delivery is retried for its whole retry period: when the next backoff would run past
the period's end, the last attempt is made at the end instead of the delivery being given up at
once (which, with DEMO's 60-second period, dead-lettered webhooks while their endpoint was down
for 30 seconds); an attempt that fails at the end is dead, and ops are told."""

from __future__ import annotations

from datetime import timedelta

import httpx

from delivery.channels import SEND_TIMEOUT, Channels
from delivery.relay import Relay
from domain.delivery import Channel
from store import outbox, webhooks
from tests.helpers.config import TEST_SEALER, make_settings
from tests.helpers.probes import deliveries, notices
from tests.helpers.receivers import WebhookReceiver, serving

CLAIM = "retry-period-claim"


async def test_the_last_attempt_is_made_at_the_end_of_the_retry_period(pool, database_url):
    # Every backoff is longer than the retry period left: 100 to 600 seconds.
    settings = make_settings(database_url, "unused").model_copy(
        update={"delivery_backoff_first_seconds": 200.0, "delivery_backoff_max_seconds": 600.0}
    )
    receiver = WebhookReceiver(always_fail=True)
    async with serving(receiver.app()) as url, httpx.AsyncClient(timeout=SEND_TIMEOUT) as http:
        hook, _ = await webhooks.create(
            pool, TEST_SEALER, insurer_id="acme-ins", url=f"{url}/hook", event_types=[]
        )
        async with pool.acquire() as conn:
            await outbox.insert_delivery(
                conn,
                TEST_SEALER,
                dedup="webhook:retry-period",
                channel=Channel.WEBHOOK,
                claim_id=CLAIM,
                event_type="claim.created",
                body={"id": "msg_retry_period", "type": "claim.created", "data": {}},
                retry=timedelta(seconds=60),
                webhook_id=hook.id,
            )
        relay = Relay(pool, TEST_SEALER, Channels(settings, http), settings)

        assert await relay.tick() == 1
        await relay.drain()
        [row] = await deliveries(pool, claim_id=CLAIM)
        assert len(receiver.requests) == 1
        assert row.status == "failed"  # not dead: 60 s of its period are left
        assert row.next_attempt_at == row.give_up_at

        # The period is over: the last attempt fails, the delivery is dead and ops are told.
        await pool.execute(
            """UPDATE deliveries SET next_attempt_at = now(), give_up_at = now()
               WHERE claim_id = $1""",
            CLAIM,
        )
        assert await relay.tick() == 1
        await relay.drain()
        assert len(receiver.requests) == 2
        assert [d.status for d in await deliveries(pool, claim_id=CLAIM)] == ["dead"]
        assert [template for _, template in await notices(pool, CLAIM)] == ["delivery_dead"]
