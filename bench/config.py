"""The bench's sizes, from BENCH_* environment variables (docs/performance.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

from settings import PROJECT_ROOT


def _int(name: str, default: int) -> int:
    value = int(os.environ.get(name, default))
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


def _float(name: str, default: float) -> float:
    value = float(os.environ.get(name, default))
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return value


def _flag(name: str) -> bool:
    return os.environ.get(name, "").lower() not in ("", "0", "false", "no")


@dataclass(frozen=True)
class BenchConfig:
    # Full claims (and as many skeleton workflows) per round, driven this many at once.
    claims: int
    concurrency: int
    # Rounds of each side-by-side comparison (claims/skeleton, bulk/raw, status/floor/query).
    rounds: int
    # Referrals started by each path (bulk, raw), split over the rounds.
    starts: int
    start_concurrency: int
    # Claims kept open at the end (the worker's memory is read at `inflight_small` and here).
    inflight: int
    inflight_small: int
    # Status reads: concurrent clients, warm-up and measured seconds of each run.
    load_clients: int
    load_warmup: float
    load_seconds: float
    # Claims whose status is read (cycled through by the clients).
    load_claims: int
    # Open bookings each bench examiner may hold (bench.panel).
    capacity_per_examiner: int
    # How long the worker may take to book a batch of started claims.
    book_timeout: float
    # The dev server without its SQLite file (`make run` keeps one): see docs/performance.md.
    temporal_in_memory: bool
    keep: bool
    out: Path

    @classmethod
    def from_env(cls) -> BenchConfig:
        inflight = _int("BENCH_INFLIGHT", 2000)
        return cls(
            claims=_int("BENCH_CLAIMS", 96),
            concurrency=_int("BENCH_CONCURRENCY", 64),
            rounds=_int("BENCH_ROUNDS", 3),
            starts=_int("BENCH_STARTS", 300),
            start_concurrency=_int("BENCH_START_CONCURRENCY", 32),
            inflight=inflight,
            inflight_small=min(_int("BENCH_INFLIGHT_SMALL", 500), inflight),
            load_clients=_int("BENCH_LOAD_CLIENTS", 64),
            load_warmup=_float("BENCH_LOAD_WARMUP", 2.0),
            load_seconds=_float("BENCH_LOAD_SECONDS", 8.0),
            load_claims=_int("BENCH_LOAD_CLAIMS", 100),
            capacity_per_examiner=_int("BENCH_CAPACITY_PER_EXAMINER", 10),
            book_timeout=_float("BENCH_BOOK_TIMEOUT", 600.0),
            temporal_in_memory=_flag("BENCH_TEMPORAL_IN_MEMORY"),
            keep=_flag("BENCH_KEEP"),
            out=Path(os.environ.get("BENCH_OUT", PROJECT_ROOT / ".data" / "bench" / "latest.txt")),
        )

    def describe(self) -> str:
        return " ".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self))
