"""`python -m devstack`, what `make run` runs: up, ready, clean stop, resume on the same data."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from devstack.commands import OWNER_ENV
from devstack.dev_keys import load_dev_keys
from settings import PROJECT_ROOT
from tests.walk import HAPPY_PATH_EVENTS, Parties, walk_demo_claim_to_approval

pytestmark = pytest.mark.slow

READY_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0
# A workflow nobody polls for: it stays Running, so finding it again proves Temporal resumed.
MARKER_WORKFLOW_ID = "devstack-resume-check"
BANNER = "IME claims dev stack is ready"


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
    """One data directory and port set; `start()` may be called again after `stop()`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data_dir = root / "data"
        temporal, ui, api, gateway = free_ports(4)
        self.temporal_address = f"127.0.0.1:{temporal}"
        self.ui_url = f"http://127.0.0.1:{ui}"
        self.api_url = f"http://127.0.0.1:{api}"
        self.gateway_url = f"http://127.0.0.1:{gateway}"
        self.env = {
            **os.environ,
            "IME_DATA_DIR": str(self.data_dir),
            "IME_TEMPORAL_ADDRESS": self.temporal_address,
            "IME_UI_PORT": str(ui),
            "IME_API_PORT": str(api),
            "IME_CODEC_GATEWAY_PORT": str(gateway),
        }
        self.env.pop("IME_DATABASE_URL", None)  # the embedded Postgres, as `make run` does
        self.process: subprocess.Popen[bytes] | None = None
        self.runs = 0

    @property
    def output_path(self) -> Path:
        return self.root / f"supervisor-{self.runs}.out"

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def start(self) -> None:
        self.runs += 1
        # A file, not a pipe: nobody reads while the stack runs, and a full pipe would block it.
        with self.output_path.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "devstack"],
                cwd=PROJECT_ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    async def wait_ready(self) -> None:
        """Until /readyz answers 200 and the supervisor has printed its banner (it probes
        /readyz itself, up to a second after we may have seen it ready)."""
        assert self.process is not None
        deadline = time.monotonic() + READY_TIMEOUT
        async with httpx.AsyncClient(timeout=2.0) as http:
            while time.monotonic() < deadline:
                code = self.process.poll()
                assert code is None, f"supervisor exited with {code}:\n{self.output()}"
                if BANNER in self.output() and await self._api_ready(http):
                    return
                await asyncio.sleep(0.5)
        pytest.fail(f"not ready within {READY_TIMEOUT} s:\n{self.output()}")

    async def _api_ready(self, http: httpx.AsyncClient) -> bool:
        try:
            return (await http.get(f"{self.api_url}/readyz")).status_code == 200
        except httpx.HTTPError:
            return False

    def descendants(self) -> list[psutil.Process]:
        assert self.process is not None
        return psutil.Process(self.process.pid).children(recursive=True)

    async def interrupt(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        try:
            return await asyncio.to_thread(self.process.wait, STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"supervisor still running {STOP_TIMEOUT} s after SIGINT:\n{self.output()}")

    def client(self, label: str) -> httpx.AsyncClient:
        """An HTTP client of the API holding the dev key `label` (e.g. OPS_KEY)."""
        key = load_dev_keys(self.data_dir)[label]
        headers = {"Authorization": f"Bearer {key}"}
        return httpx.AsyncClient(base_url=self.api_url, timeout=30.0, headers=headers)

    def database_url(self) -> str:
        """The embedded database's URL, from the `export IME_DATABASE_URL=...` banner line."""
        for line in self.output().splitlines():
            line = line.strip()
            if line.startswith("export IME_DATABASE_URL="):
                return line.split("=", 1)[1].strip("'")
        pytest.fail(f"no IME_DATABASE_URL in the banner:\n{self.output()}")

    def kill_everything(self) -> None:
        """Last-resort cleanup when a test failed half-way."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
        for proc in processes_using(self.data_dir):
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


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    stack = Stack(tmp_path)
    yield stack
    stack.kill_everything()


async def leave_marks(stack: Stack) -> None:
    """Something in Temporal and in Postgres that the second run must still have."""
    client = await Client.connect(stack.temporal_address)
    await client.start_workflow("NoSuchWorkflow", id=MARKER_WORKFLOW_ID, task_queue="nobody")
    conn = await asyncpg.connect(stack.database_url())
    try:
        await conn.execute("CREATE TABLE devstack_resume_check (id int)")
    finally:
        await conn.close()


async def find_marks(stack: Stack) -> None:
    client = await Client.connect(stack.temporal_address)
    described = await client.get_workflow_handle(MARKER_WORKFLOW_ID).describe()
    assert described.status == WorkflowExecutionStatus.RUNNING
    conn = await asyncpg.connect(stack.database_url())
    try:
        assert await conn.fetchval("SELECT to_regclass('devstack_resume_check') IS NOT NULL")
        assert await conn.fetchval("SELECT count(*) FROM examiners") > 0
    finally:
        await conn.close()


async def stop_and_check_clean(stack: Stack) -> None:
    children = stack.descendants()
    names = {" ".join(proc.cmdline()) for proc in children}
    assert any("temporal" in name and "start-dev" in name for name in names), names
    assert any("worker.py" in name for name in names), names
    assert any("uvicorn" in name for name in names), names
    assert any("devstack.codec_gateway" in name for name in names), names
    assert any("devstack.demo" in name for name in names), names

    assert await stack.interrupt() == 0, stack.output()

    _, alive = psutil.wait_procs(children, timeout=5)
    assert not alive, f"children left running: {alive}"
    assert processes_using(stack.data_dir) == []
    assert not (stack.data_dir / "supervisor.pid").exists()


async def worker_killed_is_restarted(stack: Stack) -> None:
    def workers() -> list[psutil.Process]:
        found = []
        for proc in stack.descendants():
            try:
                if "worker.py" in " ".join(proc.cmdline()) and proc.status() != "zombie":
                    found.append(proc)
            except psutil.Error:
                continue  # exited meanwhile
        return found

    [worker] = workers()
    worker.kill()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        replacement = [p for p in workers() if p.pid != worker.pid]
        if replacement and "worker exited with code" in stack.output():
            return
        await asyncio.sleep(0.25)
    pytest.fail(f"the killed worker was not restarted:\n{stack.output()}")


async def ui_decodes_through_the_gateway(stack: Stack) -> None:
    """The UI's codec endpoint (the gateway) decodes; the API's codec refuses anyone keyless."""
    plain = {"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "MQ=="}]}
    ui = {"origin": stack.ui_url, "x-namespace": "default"}
    async with httpx.AsyncClient(timeout=10.0) as http:
        sealed = await http.post(f"{stack.gateway_url}/codec/encode", json=plain, headers=ui)
        assert sealed.status_code == 200, sealed.text
        assert sealed.headers["access-control-allow-origin"] == stack.ui_url
        opened = await http.post(f"{stack.gateway_url}/codec/decode", json=sealed.json())
        assert opened.json() == plain
        keyless = await http.post(f"{stack.api_url}/codec/decode", json=sealed.json())
        assert keyless.status_code == 401


async def test_supervisor_starts_stops_cleanly_and_resumes(stack: Stack) -> None:
    stack.start()
    await stack.wait_ready()
    async with httpx.AsyncClient(timeout=5.0) as http:
        assert (await http.get(stack.ui_url)).status_code == 200
    # What the README's curl lines do, against the real stack: a DEMO claim to CLOSED/approved,
    # each party with its dev key.
    async with (
        stack.client("INSURER_KEY") as insurer,
        stack.client("OPS_KEY") as ops,
        stack.client("REVIEWER_KEY") as reviewer,
        stack.client("CLINICIAN_KEY") as clinician,
    ):
        final, events = await walk_demo_claim_to_approval(
            Parties(insurer=insurer, ops=ops, reviewer=reviewer, clinician=clinician)
        )
        assert (final["stage"], final["outcome"]) == ("CLOSED", "approved")
        assert [e["type"] for e in events] == HAPPY_PATH_EVENTS
        # The demo simulator started its own claims and is driving them.
        demo_claims = json.loads((stack.data_dir / "demo_claims.json").read_text())["claims"]
        assert demo_claims
        moved = (await ops.get(f"/v1/claims/{demo_claims[0]['claim_id']}")).json()
        assert moved["version"] >= 1
    await ui_decodes_through_the_gateway(stack)
    assert (stack.data_dir / "temporal.sqlite").exists()
    await worker_killed_is_restarted(stack)
    await leave_marks(stack)
    await stop_and_check_clean(stack)

    stack.start()
    await stack.wait_ready()
    await find_marks(stack)
    async with stack.client("OPS_KEY") as ops:  # the same dev keys work again
        assert (await ops.get("/v1/claims")).status_code == 200
    await stop_and_check_clean(stack)
