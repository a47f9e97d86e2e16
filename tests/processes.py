"""The service's own processes for tests that need them as a deployment runs them: the API under
uvicorn, the worker and the dispatcher, each a real process on loopback. `output`: a file that
gets what the process writes (stdout and stderr), else the test's own output."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import IO

import asyncpg
import httpx

from domain.names import Role
from settings import DEV_API_KEY_SECRET, PROJECT_ROOT
from store import api_keys
from tests.conftest import TEST_CODEC_KEYS, TEST_SECRET


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
    return httpx.AsyncClient(base_url=url, timeout=30.0, headers={"Authorization": f"Bearer {key}"})


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
