"""Concurrent actions on one claim, on the dev server in real time (the time-skipping test server
stops skipping time after racing updates, which would slow every later test)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from temporalio.client import WorkflowUpdateFailedError

from activities import ClaimActivities
from domain.models import ConfirmAppointment, ExamOutcome
from tests.conftest import TEST_SECRET, dev_address, make_settings
from tests.helpers import act, start_demo_claim, terminate_leftovers, wait_for
from worker import build_worker


@pytest.fixture
async def dev_worker(dev_env, database_url, task_queue, pool):
    settings = make_settings(database_url, task_queue, dev_address(dev_env))
    async with build_worker(dev_env.client, settings, ClaimActivities(pool, TEST_SECRET)):
        yield
        await terminate_leftovers()


@pytest.mark.usefixtures("dev_worker")
async def test_two_concurrent_no_shows_count_once(dev_env, task_queue):
    handle = await start_demo_claim(dev_env.client, task_queue)
    await wait_for(handle, lambda s: s.appointment is not None)
    status = await act(handle, "confirm-appointment", ConfirmAppointment())
    wait = (status.appointment.starts_at - datetime.now(UTC)).total_seconds()
    await asyncio.sleep(max(0.0, wait) + 0.3)
    results = await asyncio.gather(
        act(handle, "exam", ExamOutcome(attended=False)),
        act(handle, "exam", ExamOutcome(attended=False)),
        return_exceptions=True,
    )
    rejected = [r for r in results if isinstance(r, WorkflowUpdateFailedError)]
    assert len(rejected) == 1, results
    history = await handle.fetch_history()
    accepted_kind = "workflow_execution_update_accepted_event_attributes"
    accepted = [e for e in history.events if e.HasField(accepted_kind)]
    assert len(accepted) == 2  # confirm-appointment and one exam
