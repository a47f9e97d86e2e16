"""Starting claims and acting on them the way the API does, for workflow-level tests."""

from __future__ import annotations

from temporalio.client import Client, WorkflowHandle

from domain.ids import claim_id_for, workflow_id_for
from domain.models import ClaimStatus, Referral
from tests.conftest import TEST_SECRET
from workflows import ClaimWorkflow


async def start_claim(client: Client, referral: Referral, task_queue: str) -> WorkflowHandle:
    claim_id = claim_id_for(TEST_SECRET, referral.insurer_id, referral.claim_number)
    return await client.start_workflow(
        ClaimWorkflow.run,
        referral,
        id=workflow_id_for(claim_id),
        task_queue=task_queue,
        result_type=ClaimStatus,
    )


async def act(handle: WorkflowHandle, action: str, payload) -> ClaimStatus:
    return await handle.execute_update(action, payload, result_type=ClaimStatus)
