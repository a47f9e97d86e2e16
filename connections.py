"""How every entry point reaches Temporal and Postgres, configured the same way."""

from __future__ import annotations

import asyncpg
from temporalio.client import Client
from temporalio.runtime import Runtime

from codec import KeyRing, Sealer, data_converter, dev_key_ring
from settings import Settings
from store.db import create_pool
from store.embedded import running_url


class ConfigurationError(RuntimeError):
    pass


def key_ring(settings: Settings) -> KeyRing:
    if settings.codec_keys:
        return KeyRing.parse(settings.codec_keys, settings.codec_active_key)
    return dev_key_ring(settings.data_dir / "codec-keys.json")


def sealer(settings: Settings) -> Sealer:
    return Sealer(key_ring(settings))


async def connect_temporal(settings: Settings, runtime: Runtime | None = None) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(key_ring(settings)),
        runtime=runtime,
    )


def database_url(settings: Settings) -> str:
    """IME_DATABASE_URL, or else the embedded Postgres that `make run` keeps under the data dir."""
    if settings.database_url:
        return settings.database_url
    url = running_url(settings.data_dir / "pgdata")
    if url is None:
        raise ConfigurationError(
            "IME_DATABASE_URL is not set and no embedded Postgres is running (start `make run`)"
        )
    return url


async def open_pool(settings: Settings) -> asyncpg.Pool:
    return await create_pool(
        database_url(settings),
        min_size=settings.database_pool_min,
        max_size=settings.database_pool_max,
        statement_timeout=settings.database_statement_timeout_seconds,
        connect_timeout=settings.database_acquire_timeout_seconds,
    )
