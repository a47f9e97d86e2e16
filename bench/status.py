"""`status_rps` against `floor_rps` and `query_rps`: `GET /v1/claims/{id}` on the real API
(uvicorn, as `make run` starts it, with a real API key), the same one SELECT on the floor app
(same uvicorn settings, same pool), and Temporal's `status` query, for the same open claims.

Each run is the load client (`bench.load`) as a process of its own, which takes CPU from the same
two cores as the server: BENCH_LOAD_CLIENTS clients, BENCH_LOAD_WARMUP seconds of warm-up, then
BENCH_LOAD_SECONDS measured. The three kinds alternate, in a rotated order each round.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.config import BenchConfig
from settings import PROJECT_ROOT


@dataclass(frozen=True)
class LoadResult:
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def per_second(self) -> float:
        """Answers as expected (200, or a query answered) per second."""
        return (self.requests - self.errors) / self.seconds


async def run_load(
    config: BenchConfig, env: dict[str, str], mode: str, url: str, key: str, ids_file: Path
) -> LoadResult:
    argv = [
        sys.executable, "-m", "bench.load", mode, url, key, str(ids_file),
        str(config.load_clients), str(config.load_warmup), str(config.load_seconds),
    ]  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        *argv, cwd=PROJECT_ROOT, env=env, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"the load client ({mode}) exited with {process.returncode}")
    return LoadResult(**json.loads(out.decode().strip().splitlines()[-1]))
