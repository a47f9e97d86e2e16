"""`python -m devstack` (what `make run` runs) on free loopback ports in a data directory of its
own: started, waited for, its children found by role, stopped, and cleaned up after a failure.

`tests/test_supervisor.py` and the chaos harness both drive the stack through this class.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx
import psutil

from api.serving import CLIENT_IDLE_SECONDS
from devstack.commands import OWNER_ENV
from devstack.dev_keys import load_dev_keys, read_gateway_secret
from settings import PROJECT_ROOT

READY_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0
BANNER = "IME claims dev stack is ready"

# How each child of the supervisor is recognised in its command line.
CHILD_MARKS = {
    "temporal": "start-dev",
    "worker": "worker.py",
    "api": "uvicorn",
    "dispatcher": "dispatcher.py",
    "mail": "devstack.mail_sink",
    "pager": "devstack.pager",
    "codec-gateway": "devstack.codec_gateway",
    "demo": "devstack.demo",
}


class StackFailed(AssertionError):
    """The stack did not do what was asked of it (an assertion, so pytest reports it as one)."""


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class Stack:
    """One data directory and port set; `start()` may be called again after `interrupt()`.
    `env` adds to (or overrides) the supervisor's environment, e.g. `IME_DEMO=false`."""

    def __init__(self, root: Path, env: Mapping[str, str] | None = None) -> None:
        self.root = root
        self.data_dir = root / "data"
        temporal, ui, api, gateway, smtp, pager, metrics = free_ports(7)
        self.temporal_address = f"127.0.0.1:{temporal}"
        self.ui_url = f"http://127.0.0.1:{ui}"
        self.api_url = f"http://127.0.0.1:{api}"
        self.gateway_port = gateway
        self.env = {
            **os.environ,
            "IME_DATA_DIR": str(self.data_dir),
            "IME_TEMPORAL_ADDRESS": self.temporal_address,
            "IME_UI_PORT": str(ui),
            "IME_API_PORT": str(api),
            "IME_CODEC_GATEWAY_PORT": str(gateway),
            "IME_SMTP_PORT": str(smtp),
            "IME_PAGER_PORT": str(pager),
            "IME_WORKER_METRICS_PORT": str(metrics),
            **(env or {}),
        }
        self.env.pop("IME_DATABASE_URL", None)  # the embedded Postgres, as `make run` does
        self.process: subprocess.Popen[bytes] | None = None
        self.runs = 0

    @property
    def gateway_url(self) -> str:
        """The codec gateway under its secret path (made by the stack's first start): what the
        Temporal UI calls, `<gateway_url>/codec/decode`."""
        secret = read_gateway_secret(self.data_dir)
        return f"http://127.0.0.1:{self.gateway_port}/{secret}"

    @property
    def output_path(self) -> Path:
        return self.root / f"supervisor-{self.runs}.out"

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def start(self) -> None:
        self.runs += 1
        self.root.mkdir(parents=True, exist_ok=True)
        # A file, not a pipe: nobody reads while the stack runs, and a full pipe would block it.
        with self.output_path.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "devstack"],
                cwd=PROJECT_ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    async def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Until /readyz answers 200 and the supervisor has printed its banner (it probes
        /readyz itself, up to a second after we may have seen it ready)."""
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2.0) as http:
            while time.monotonic() < deadline:
                self.check_running()
                if BANNER in self.output() and await self.ready(http):
                    return
                await asyncio.sleep(0.5)
        raise StackFailed(f"not ready within {timeout:.0f} s:\n{self.output()}")

    def check_running(self) -> None:
        assert self.process is not None, "the stack was never started"
        code = self.process.poll()
        if code is not None:
            raise StackFailed(f"supervisor exited with {code}:\n{self.output()}")

    async def ready(self, http: httpx.AsyncClient) -> bool:
        try:
            return (await http.get(f"{self.api_url}/readyz")).status_code == 200
        except httpx.HTTPError:
            return False

    def descendants(self) -> list[psutil.Process]:
        assert self.process is not None
        return psutil.Process(self.process.pid).children(recursive=True)

    def children(self, name: str) -> list[psutil.Process]:
        """The supervisor's live children of role `name` (see CHILD_MARKS)."""
        assert self.process is not None
        found = []
        for proc in psutil.Process(self.process.pid).children(recursive=False):
            try:
                if CHILD_MARKS[name] in " ".join(proc.cmdline()) and proc.status() != "zombie":
                    found.append(proc)
            except psutil.Error:
                continue  # exited meanwhile
        return found

    def child(self, name: str) -> psutil.Process:
        """The one live child of role `name`; StackFailed when there is none (yet)."""
        found = self.children(name)
        if len(found) != 1:
            raise StackFailed(f"expected one {name} process, found {len(found)}")
        return found[0]

    async def wait_child(self, name: str, *, other_than: int | None, timeout: float) -> int:
        """The pid of a live child of role `name` (a new one, when `other_than` is given)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_running()
            pids = [p.pid for p in self.children(name) if p.pid != other_than]
            if pids:
                return pids[0]
            await asyncio.sleep(0.1)
        raise StackFailed(f"no new {name} within {timeout:.0f} s:\n{self.output()}")

    def postgres(self) -> psutil.Process | None:
        """The embedded Postgres's postmaster (it runs daemonized, outside the supervisor)."""
        try:
            pid = int((self.pgdata / "postmaster.pid").read_text().split()[0])
            return psutil.Process(pid)
        except (OSError, ValueError, IndexError, psutil.Error):
            return None

    async def interrupt(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        try:
            return await asyncio.to_thread(self.process.wait, STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise StackFailed(
                f"supervisor still running {STOP_TIMEOUT} s after SIGINT:\n{self.output()}"
            ) from None

    def keys(self) -> dict[str, str]:
        return load_dev_keys(self.data_dir)

    def client(self, label: str, timeout: float = 30.0) -> httpx.AsyncClient:
        """An HTTP client of the API holding the dev key `label` (e.g. OPS_KEY)."""
        headers = {"Authorization": f"Bearer {self.keys()[label]}"}
        limits = httpx.Limits(keepalive_expiry=CLIENT_IDLE_SECONDS)
        return httpx.AsyncClient(
            base_url=self.api_url, timeout=timeout, headers=headers, limits=limits
        )

    def database_url(self) -> str:
        """The embedded database's URL, from the `export IME_DATABASE_URL=...` banner line."""
        for line in self.output().splitlines():
            line = line.strip()
            if line.startswith("export IME_DATABASE_URL="):
                return line.split("=", 1)[1].strip("'")
        raise StackFailed(f"no IME_DATABASE_URL in the banner:\n{self.output()}")

    def kill_everything(self) -> None:
        """Last-resort cleanup when a run failed half-way."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGCONT)  # in case a fault paused it
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
        for proc in processes_using(self.data_dir):
            with contextlib.suppress(psutil.Error):
                proc.send_signal(signal.SIGCONT)
                proc.kill()


def processes_using(data_dir: Path) -> list[psutil.Process]:
    """Processes whose command line or environment names the data directory."""
    found = []
    for proc in psutil.process_iter():
        if proc.pid == os.getpid():
            continue
        try:
            named = str(data_dir) in " ".join(proc.cmdline())
            owned = proc.environ().get(OWNER_ENV) == str(data_dir)
        except psutil.Error:
            continue
        if named or owned:
            found.append(proc)
    return found
