"""Child processes of the dev stack: started in their own session, logged to a file, restarted
with a backoff within a budget, stopped by process group."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from devstack.console import StackError, describe_exit, say, shell_path, tail
from settings import PROJECT_ROOT

STOP_GRACE_SECONDS = 10.0
RESTART_WINDOW_SECONDS = 60.0
MAX_RESTARTS_PER_WINDOW = 5
MAX_BACKOFF_SECONDS = 10.0


class RestartBudget:
    """Restarts allowed within a sliding window, and the backoff before the next one."""

    def __init__(
        self, limit: int = MAX_RESTARTS_PER_WINDOW, window: float = RESTART_WINDOW_SECONDS
    ) -> None:
        self.limit = limit
        self.window = window
        self._times: deque[float] = deque()

    def spend(self, now: float) -> bool:
        """Record a restart; False when the window's allowance is used up."""
        while self._times and now - self._times[0] > self.window:
            self._times.popleft()
        self._times.append(now)
        return len(self._times) <= self.limit

    def backoff(self) -> float:
        # 1, 2, 4, 8, 10, 10 ... seconds for consecutive restarts inside the window.
        return min(2.0 ** (len(self._times) - 1), MAX_BACKOFF_SECONDS)


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    restart_at: float | None = None
    budget: RestartBudget = field(default_factory=RestartBudget)
    _started_once: bool = False

    def start(self) -> None:
        if not self._started_once:
            # One generation of history: this run's log, and the previous run's next to it.
            with contextlib.suppress(FileNotFoundError):
                self.log_path.replace(self.log_path.with_suffix(".previous.log"))
            self._started_once = True
        with self.log_path.open("ab") as log:
            log.write(_start_marker(self.name))
            log.flush()
            self.process = subprocess.Popen(
                self.argv,
                cwd=PROJECT_ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Own session and process group: the terminal's Ctrl-C reaches only the
                # supervisor, which then stops the children in order.
                start_new_session=True,
            )
        self.restart_at = None

    def supervise(self, now: float) -> None:
        """Restart when due; notice an unexpected exit and schedule the restart."""
        if self.process is None:
            if self.restart_at is not None and now >= self.restart_at:
                self.start()
            return
        code = self.process.poll()
        if code is None:
            return
        _signal_group(self.process.pid, signal.SIGKILL)  # whatever it spawned goes with it
        self.process = None
        if not self.budget.spend(now):
            raise StackError(
                f"{self.name} exited with code {describe_exit(code)} and has restarted "
                f"{self.budget.limit} times within {self.budget.window:.0f} s; giving up.\n"
                f"Last lines of {shell_path(self.log_path)}:\n{tail(self.log_path)}"
            )
        say(
            f"{self.name} exited with code {describe_exit(code)}; restarting",
            child=self.name,
            exit_code=code,
        )
        self.restart_at = now + self.budget.backoff()

    async def stop(self, hurry: asyncio.Event) -> None:
        """SIGTERM to the process group, SIGKILL after the grace period (or a second Ctrl-C)."""
        self.restart_at = None
        if self.process is None:
            return
        group = self.process.pid  # session leader: its pid is the group id
        say(f"stopping {self.name}", child=self.name)
        _signal_group(group, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while time.monotonic() < deadline and not hurry.is_set():
            if self.process.poll() is not None and not _group_alive(group):
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(hurry.wait(), 0.1)
        else:
            reason = "as asked" if hurry.is_set() else f"after {STOP_GRACE_SECONDS:.0f} s"
            say(f"killing {self.name} ({reason})", child=self.name)
        _signal_group(group, signal.SIGKILL)
        self.process.wait()
        self.process = None


def _start_marker(name: str) -> bytes:
    """Where a (re)start begins in the child's log: a line in the shape of the children's own."""
    line = {
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "level": "info",
        "logger": "ime.devstack",
        "event": f"devstack starts {name}",
        "child": name,
    }
    return (json.dumps(line) + "\n").encode()


def _signal_group(group: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, sig)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
