"""The service's own processes for tests that need them as a deployment runs them: the API under
uvicorn, the worker and the dispatcher, each a real process on loopback. `output`: a file that
gets what the process writes (stdout and stderr), else the test's own output. Also the operator's
`starter.py` and a worker a test can SIGKILL."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import IO

import asyncpg
import httpx

from api.serving import CLIENT_IDLE_SECONDS
from domain.names import Role
from settings import DEV_API_KEY_SECRET, PROJECT_ROOT
from store import api_keys
from tests.helpers.config import TEST_ACTION_SIGNING_KEYS, TEST_CODEC_KEYS, TEST_SECRET


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def service_env(temporal_address: str, database_url: str, task_queue: str, **extra: str) -> dict:
    return os.environ | {
        "IME_TEMPORAL_ADDRESS": temporal_address,
        "IME_DATABASE_URL": database_url,
        "IME_TASK_QUEUE": task_queue,
        "IME_ID_SECRET": TEST_SECRET,
        "IME_CODEC_KEYS": TEST_CODEC_KEYS,
        "IME_ACTION_SIGNING_KEYS": TEST_ACTION_SIGNING_KEYS,
        # The retention schedule is test_retention's to create: a worker of another test would
        # point the shared dev server's schedule at its own (soon gone) task queue.
        "IME_RETENTION_SWEEP_EVERY": "0",
        **extra,
    }


@contextlib.asynccontextmanager
async def api_process(env: Mapping[str, str], output: Path | None = None) -> AsyncIterator[str]:
    """An API process on a free loopback port; yields its base URL once /readyz answers 200."""
    port = free_port()
    argv = ["-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1",
            "--port", str(port), "--log-level", "warning"]  # fmt: skip
    async with _process(argv, env, output) as process:
        url = f"http://127.0.0.1:{port}"
        await _until_ready(url, process)
        yield url


@contextlib.asynccontextmanager
async def worker_process(env: Mapping[str, str], output: Path | None = None) -> AsyncIterator[None]:
    async with _process(["worker.py"], env, output):
        yield


@contextlib.asynccontextmanager
async def dispatcher_process(
    env: Mapping[str, str], output: Path | None = None
) -> AsyncIterator[None]:
    async with _process(["dispatcher.py"], env, output):
        yield


@contextlib.asynccontextmanager
async def _process(
    argv: list[str], env: Mapping[str, str], output: Path | None
) -> AsyncIterator[asyncio.subprocess.Process]:
    with contextlib.ExitStack() as files:
        out: IO[bytes] | None = files.enter_context(output.open("ab")) if output else None
        process = await asyncio.create_subprocess_exec(
            sys.executable, *argv, cwd=PROJECT_ROOT, env=dict(env),
            stdout=out, stderr=asyncio.subprocess.STDOUT if out else None,
        )  # fmt: skip
        try:
            yield process
        finally:
            await _stop(process)


async def keyed_client(
    pool: asyncpg.Pool, url: str, role: Role, insurer_id: str | None = None
) -> httpx.AsyncClient:
    """A client of an API process (`service_env` keeps the dev key secret) with a new key."""
    _, key = await api_keys.create(pool, DEV_API_KEY_SECRET, role=role, insurer_id=insurer_id)
    return httpx.AsyncClient(
        base_url=url,
        timeout=30.0,
        headers={"Authorization": f"Bearer {key}"},
        limits=httpx.Limits(keepalive_expiry=CLIENT_IDLE_SECONDS),
    )


async def _until_ready(url: str, process: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(timeout=2) as http:
        while True:
            assert process.returncode is None, f"the API process exited ({process.returncode})"
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(f"{url}/readyz")).status_code == 200:
                    return
            assert time.monotonic() < deadline, "the API process did not become ready"
            await asyncio.sleep(0.2)


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 15)
        except TimeoutError:
            process.kill()
            await process.wait()


def starter_cli(
    temporal_address: str, database_url: str, task_queue: str, *, timeout: float
) -> Callable[..., Awaitable[tuple[int, str, str]]]:
    """`python starter.py ARGS` as an operator runs it, against the test servers: returns
    (exit code, stdout, stderr)."""
    env = service_env(temporal_address, database_url, task_queue)

    async def run(*args: str) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "starter.py",
            *args,
            cwd=PROJECT_ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=timeout)
        assert process.returncode is not None
        return process.returncode, stdout.decode(), stderr.decode()

    return run


def spawn_worker(
    address: str, database_url: str, task_queue: str, metrics_address: str = ""
) -> subprocess.Popen:
    """A worker process (output discarded) that a test may kill outright with `kill`."""
    env = service_env(address, database_url, task_queue, IME_WORKER_METRICS_ADDRESS=metrics_address)
    return subprocess.Popen(
        [sys.executable, "worker.py"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def kill(process: subprocess.Popen) -> None:
    """SIGKILL: the process gets no chance to finish anything."""
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
