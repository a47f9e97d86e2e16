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


async def open_pool(settings: Settings) -> asyncpg.Pool:
    if not settings.database_url:
        raise ConfigurationError(
            "IME_DATABASE_URL is not set (make run sets it for the embedded Postgres)"
        )
    return await create_pool(
        settings.database_url,
        min_size=settings.database_pool_min,
        max_size=settings.database_pool_max,
    )
