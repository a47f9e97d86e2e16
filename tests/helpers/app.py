"""The HTTP app under test (lifespan included) and clients holding real API keys of any role."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime

import asyncpg
import httpx
from fastapi import FastAPI

from devstack.postgres import EmbeddedPostgres
from domain.names import Role
from settings import Settings
from store import api_keys
from store.bootstrap import bootstrap_db
from tests.helpers.config import make_settings


class ApiHarness:
    """The real HTTP app (lifespan included) and clients holding real API keys of any role."""

    def __init__(self, app: FastAPI, pool: asyncpg.Pool, settings: Settings) -> None:
        self.app = app
        self.pool = pool
        self.settings = settings
        self._transport = httpx.ASGITransport(app=app)
        self._clients: list[httpx.AsyncClient] = []

    async def key(
        self,
        role: Role,
        *,
        insurer: str | None = None,
        examiner: str | None = None,
        expires_at: datetime | None = None,
    ) -> str:
        _, key = await api_keys.create(
            self.pool,
            self.settings.api_key_secret,
            role=role,
            insurer_id=insurer,
            examiner_id=examiner,
            name=f"test {role}",
            expires_at=expires_at,
        )
        return key

    def client(self, key: str | None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        http = httpx.AsyncClient(transport=self._transport, base_url="http://api", headers=headers)
        self._clients.append(http)
        return http

    async def as_role(
        self, role: Role, *, insurer: str | None = None, examiner: str | None = None
    ) -> httpx.AsyncClient:
        return self.client(await self.key(role, insurer=insurer, examiner=examiner))

    async def close(self) -> None:
        for http in self._clients:
            await http.aclose()


@contextlib.asynccontextmanager
async def api_on_own_postgres(
    server: EmbeddedPostgres, temporal_address: str, task_queue: str, **overrides: object
) -> AsyncIterator[ApiHarness]:
    """The app (no worker) on a Postgres of its own, which a test may freeze or stop, with
    short database bounds so that an outage shows within a second."""
    from api.app import create_app

    conn = await asyncpg.connect(server.url())
    try:
        await bootstrap_db(conn)
    finally:
        await conn.close()
    bounds = {"database_statement_timeout_seconds": 1.0, "database_acquire_timeout_seconds": 1.0}
    settings = make_settings(server.url(), task_queue, temporal_address).model_copy(
        update=bounds | overrides
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        harness = ApiHarness(app, app.state.pool, settings)
        try:
            yield harness
        finally:
            await harness.close()
