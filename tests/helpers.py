"""Starting claims and acting on them the way the API does, for workflow-level tests."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import sys
from pathlib import Path

from temporalio.client import Client, WorkflowHandle, WorkflowUpdateStage
from temporalio.service import RPCError

from domain.ids import claim_id_for, workflow_id_for
from domain.models import AppointmentRef, ClaimStatus, ExaminerRef, Model, Referral
from domain.names import Action, Patch, Query
from domain.parsing import claim_intake
from tests.conftest import TEST_CODEC_KEYS, TEST_SECRET
from workflows import ClaimWorkflow

# Claims a test started: terminated at teardown if still open, because a workflow left running
# without its worker would keep the time-skipping server from skipping time in later tests.
STARTED: list[WorkflowHandle] = []


async def terminate_leftovers() -> None:
    while STARTED:
        handle = STARTED.pop()
        # Safety cases outlive their claim by design (parent-close policy ABANDON).
        children = [f"{handle.id}-safety-{n}" for n in (1, 2, 3)]
        for workflow_id in [handle.id, *children]:
            with contextlib.suppress(RPCError):
                await handle._client.get_workflow_handle(workflow_id).terminate(
                    reason="test finished"
                )


async def start_claim(
    client: Client, referral: Referral, task_queue: str
) -> WorkflowHandle[ClaimWorkflow, ClaimStatus]:
    """Start the claim's workflow with the input the service gives it."""
    claim_id = claim_id_for(TEST_SECRET, referral.insurer_id, referral.claim_number)
    handle = await client.start_workflow(
        ClaimWorkflow.run,
        claim_intake(referral, TEST_SECRET),
        id=workflow_id_for(claim_id),
        task_queue=task_queue,
    )
    STARTED.append(handle)
    return handle


async def act(handle: WorkflowHandle, action: Action, payload: Model) -> ClaimStatus:
    return await handle.execute_update(action, payload, result_type=ClaimStatus)


HISTORIES = Path(__file__).with_name("histories")
MANIFEST = HISTORIES / "MANIFEST.sha256"


# Histories are recorded under the branch's name and the newest patch of the workflow code, so
# each version of the code leaves its own histories beside those of the versions before it.
VERSION = list(Patch)[-1].value


async def keep_history(handle: WorkflowHandle, name: str) -> None:
    """With IME_RECORD_HISTORIES=1, save the run's history as a replay fixture (see test_replay)
    as `<name>@<newest patch>.json`, unless it exists: recorded histories are never replaced."""
    name = f"{name}@{VERSION}"
    if os.environ.get("IME_RECORD_HISTORIES") != "1" or (HISTORIES / f"{name}.json").exists():
        return
    history = await handle.fetch_history()
    # The workflow id matters on replay (child workflow ids derive from it).
    recorded = {"workflow_id": handle.id, "history": history.to_json_dict()}
    save_history(HISTORIES, MANIFEST, name, recorded)


def save_history(directory: Path, manifest: Path, name: str, recorded: dict) -> bool:
    """Write `<name>.json` and pin its digest in the manifest; False (nothing written) when a
    history of that name exists."""
    directory.mkdir(exist_ok=True)
    path = directory / f"{name}.json"
    data = json.dumps(recorded).encode()
    try:
        with path.open("xb") as out:  # exclusive: never replaces a file
            out.write(data)
    except FileExistsError:
        return False
    with manifest.open("a") as pins:
        pins.write(f"{hashlib.sha256(data).hexdigest()}  {path.name}\n")
    return True


async def act_and_finish(
    handle: WorkflowHandle[ClaimWorkflow, ClaimStatus], action: Action, payload: Model
) -> ClaimStatus:
    """For the action that closes a claim: wait for acceptance, then for the workflow result.

    The time-skipping test server forgets an update's outcome once its workflow has completed,
    so polling a closing update's result there can race with the completion.
    """
    await handle.start_update(action, payload, wait_for_stage=WorkflowUpdateStage.ACCEPTED)
    return await handle.result()


async def wait_for(handle: WorkflowHandle, predicate, timeout: float = 30.0) -> ClaimStatus:
    """Poll the workflow's status query until `predicate` holds."""
    async with asyncio.timeout(timeout):
        while True:
            status = await handle.query(Query.CLAIM_STATUS, result_type=ClaimStatus)
            if predicate(status):
                return status
            await asyncio.sleep(0.05)


async def start_demo_claim(client: Client, task_queue: str) -> WorkflowHandle:
    from tests.factories import referral_payload

    return await start_claim(client, Referral.model_validate(referral_payload("DEMO")), task_queue)


def appointment_of(status: ClaimStatus) -> AppointmentRef:
    assert status.appointment is not None, "no appointment is booked"
    return status.appointment


def examiner_of(status: ClaimStatus) -> ExaminerRef:
    assert status.examiner is not None, "no examiner is booked"
    return status.examiner


async def projection_until(pool, claim_id: str, predicate, timeout: float = 30.0) -> ClaimStatus:
    """Poll the Postgres projection (what callers read) until `predicate` holds: a workflow's
    state moves first, its recorded transition lands a moment later."""
    from store.claims import get_status

    async with asyncio.timeout(timeout):
        while True:
            status = await get_status(pool, claim_id)
            if status is not None and predicate(status):
                return status
            await asyncio.sleep(0.05)


def starter_cli(temporal_address: str, database_url: str, task_queue: str, *, timeout: float):
    """`python starter.py ARGS` as an operator runs it, against the test servers: returns
    (exit code, stdout, stderr)."""
    root = Path(__file__).resolve().parent.parent
    env = os.environ | {
        "IME_TEMPORAL_ADDRESS": temporal_address,
        "IME_DATABASE_URL": database_url,
        "IME_TASK_QUEUE": task_queue,
        "IME_ID_SECRET": TEST_SECRET,
        "IME_CODEC_KEYS": TEST_CODEC_KEYS,
    }

    async def run(*args: str) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "starter.py",
            *args,
            cwd=root,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=timeout)
        assert process.returncode is not None
        return process.returncode, stdout.decode(), stderr.decode()

    return run
