"""How every entry point reaches Temporal and Postgres, configured the same way."""

from __future__ import annotations

import asyncpg
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from settings import Settings
from store.db import create_pool


class ConfigurationError(RuntimeError):
    pass


async def connect_temporal(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
    )


def database_url(settings: Settings) -> str:
    """IME_DATABASE_URL, or else the embedded Postgres that `make run` keeps under the data dir."""
    if settings.database_url:
        return settings.database_url
    from devstack.postgres import discover_url

    url = discover_url(settings.data_dir / "pgdata")
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
    )
