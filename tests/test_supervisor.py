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
from settings import PROJECT_ROOT
from tests.helpers.walk import HAPPY_PATH_EVENTS, Parties, walk_demo_claim_to_approval

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


def readme_walk() -> str:
    """The README's "Walk a claim with curl" block, as a reader pastes it."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    section = readme.split("\n## Walk a claim with curl\n", 1)[1]
    return section.split("```sh\n", 1)[1].split("\n```", 1)[0]


async def paste_the_readme_walk(stack: Stack, workdir: Path) -> dict:
    """Run the walk in a shell from a project directory (`.data` being this stack's), then read
    where the claim it started ended. Only the API's port differs from what the README says."""
    script = readme_walk().replace("API=http://127.0.0.1:8000", f"API={stack.api_url}")
    assert script != readme_walk(), "the README's walk no longer sets API as expected"
    shell = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        f'{script}\necho "WALKED $CLAIM"',
        cwd=workdir,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = (await asyncio.wait_for(shell.communicate(), timeout=120))[0].decode()
    assert shell.returncode == 0, output
    claim_id = output.rsplit("WALKED ", 1)[1].strip()
    assert claim_id, output
    async with stack.client("OPS_KEY") as ops:
        final = (await ops.get(f"/v1/claims/{claim_id}")).json()
    assert (final["stage"], final["outcome"]) == ("CLOSED", "approved"), output
    return final


async def the_readme_walk_works_every_time_it_is_pasted(stack: Stack, tmp_path: Path) -> None:
    workdir = tmp_path / "project"
    workdir.mkdir()
    for name in (".venv", "starter.py"):
        (workdir / name).symlink_to(PROJECT_ROOT / name)
    (workdir / ".data").symlink_to(stack.data_dir)
    claims = set()
    for _ in range(2):
        final = await paste_the_readme_walk(stack, workdir)
        claims.add(final["claim_id"])
    assert len(claims) == 2


async def test_supervisor_starts_stops_cleanly_and_resumes(stack: Stack, tmp_path: Path) -> None:
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
    await the_readme_walk_works_every_time_it_is_pasted(stack, tmp_path)
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
