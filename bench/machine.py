"""The machine a run measured, for the figures in docs/performance.md."""

from __future__ import annotations

import os
from pathlib import Path

import psutil


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return "unknown"


def cores() -> int:
    return len(os.sched_getaffinity(0))


def ram_gib() -> float:
    return psutil.virtual_memory().total / 2**30
