"""The service as the tests configure it: test secrets and a fixed key ring, the settings and
the worker's activities built from them. Never used outside tests."""

from __future__ import annotations

import asyncpg

from activities import ClaimActivities
from codec import KeyRing, Sealer, data_converter
from settings import Settings

TEST_SECRET = "test-secret"
# A fixed key, so recorded replay histories stay decryptable. Never used outside tests.
TEST_CODEC_KEYS = "test-1:" + "dGVzdC1vbmx5LWtleS10ZXN0LW9ubHkta2V5LXRlc3Q="
TEST_CONVERTER = data_converter(KeyRing.parse(TEST_CODEC_KEYS))
TEST_SEALER = Sealer(KeyRing.parse(TEST_CODEC_KEYS))


def claim_activities(pool: asyncpg.Pool) -> ClaimActivities:
    """The worker's activities as the tests configure them (test secrets, test key ring)."""
    return ClaimActivities(pool, TEST_SECRET, TEST_SEALER)


def make_settings(database_url: str, task_queue: str, address: str = "") -> Settings:
    return Settings(
        database_url=database_url,
        task_queue=task_queue,
        id_secret=TEST_SECRET,
        codec_keys=TEST_CODEC_KEYS,
        temporal_address=address or Settings.model_fields["temporal_address"].default,
        # Webhooks in tests point at receivers on loopback, and nowhere else.
        webhook_allowed_networks=["127.0.0.0/8", "::1/128"],
    )
