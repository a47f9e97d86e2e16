"""Real parts for every test: an embedded Postgres, the Temporal time-skipping test server and,
for end-to-end tests, the Temporal dev server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest
from playwright.async_api import Browser
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from devstack import binaries
from devstack import search_attributes as sa
from devstack.postgres import EmbeddedPostgres
from domain.names import Role
from store.bootstrap import bootstrap_db
from store.db import create_pool
from tests.helpers.app import ApiHarness
from tests.helpers.browser import chromium
from tests.helpers.claims import terminate_leftovers
from tests.helpers.config import TEST_CONVERTER, claim_activities, make_settings, test_signer
from tests.helpers.stack import TEMPLATE_DB, dev_address, embedded_postgres, time_skipping_server
from tests.helpers.walk import Parties
from worker import build_worker


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
        # Its client acts on claims as the service's clients do: signing each action.
        interceptors=[test_signer()],
    )
    yield env
    await env.shutdown()


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def ts_worker(
    ts_env: WorkflowEnvironment, pool: asyncpg.Pool, database_url: str, task_queue: str
) -> AsyncIterator[Worker]:
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
    async with time_skipping_server() as env:
        settings = make_settings(database_url, task_queue)
        async with build_worker(env.client, settings, claim_activities(pool)):
            yield env
            await terminate_leftovers()


@pytest.fixture
def client(ts_env: WorkflowEnvironment) -> Client:
    return ts_env.client


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


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium, driven by Playwright, for one test (the console's browser tests)."""
    async with chromium() as launched:
        yield launched
