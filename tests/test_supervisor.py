"""`python -m devstack`, what `make run` runs: up, ready, clean stop, resume on the same data."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from chaos.stack import Stack, processes_using
from tests.walk import HAPPY_PATH_EVENTS, Parties, walk_demo_claim_to_approval

pytestmark = pytest.mark.slow

# A workflow nobody polls for: it stays Running, so finding it again proves Temporal resumed.
MARKER_WORKFLOW_ID = "devstack-resume-check"


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
    [worker] = stack.children("worker")
    worker.kill()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        replacement = [p for p in stack.children("worker") if p.pid != worker.pid]
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
