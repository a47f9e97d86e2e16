"""The service as the tests configure it: test secrets and a fixed key ring, the settings and
the worker's activities built from them. Never used outside tests."""

from __future__ import annotations

import asyncpg

from activities import ClaimActivities
from codec import KeyRing, Sealer, data_converter
from connections import ActionSigner
from domain.envelope import SigningKeys
from settings import Settings

TEST_SECRET = "test-secret"
# A fixed key, so recorded replay histories stay decryptable. Never used outside tests.
TEST_CODEC_KEYS = "test-1:" + "dGVzdC1vbmx5LWtleS10ZXN0LW9ubHkta2V5LXRlc3Q="
TEST_CONVERTER = data_converter(KeyRing.parse(TEST_CODEC_KEYS))
TEST_SEALER = Sealer(KeyRing.parse(TEST_CODEC_KEYS))
# The key the tests' API, CLI, Temporal clients and workers sign and check actions with.
TEST_ACTION_SIGNING_KEYS = "test-only-action-signing-key"


def test_signer() -> ActionSigner:
    """What signs the actions a test sends straight to a claim's workflow, as the service's own
    clients do (`connections.ActionSigner`)."""
    return ActionSigner(SigningKeys.parse(TEST_ACTION_SIGNING_KEYS))


def claim_activities(pool: asyncpg.Pool) -> ClaimActivities:
    """The worker's activities as the tests configure them (test secrets, test key ring)."""
    return ClaimActivities(pool, TEST_SECRET, TEST_SEALER)


def make_settings(database_url: str, task_queue: str, address: str = "") -> Settings:
    return Settings(
        database_url=database_url,
        task_queue=task_queue,
        id_secret=TEST_SECRET,
        codec_keys=TEST_CODEC_KEYS,
        action_signing_keys=TEST_ACTION_SIGNING_KEYS,
        temporal_address=address or Settings.model_fields["temporal_address"].default,
        # Webhooks in tests point at receivers on loopback, and nowhere else.
        webhook_allowed_networks=["127.0.0.0/8", "::1/128"],
    )
