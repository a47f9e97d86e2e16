"""The service's own processes for tests that need them as a deployment runs them: the API under
uvicorn and the worker, each a real process on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Mapping

import httpx

from settings import PROJECT_ROOT
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
async def api_process(env: Mapping[str, str]) -> AsyncIterator[str]:
    """An API process on a free loopback port; yields its base URL once /readyz answers 200."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
        cwd=PROJECT_ROOT, env=dict(env),
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        await _until_ready(url, process)
        yield url
    finally:
        await _stop(process)


@contextlib.asynccontextmanager
async def worker_process(env: Mapping[str, str]) -> AsyncIterator[None]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "worker.py", cwd=PROJECT_ROOT, env=dict(env)
    )
    try:
        yield
    finally:
        await _stop(process)


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
