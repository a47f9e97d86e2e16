"""Histories recorded from earlier versions of ClaimWorkflow must replay on the current code.

A failure here means a change to workflow code would break claims already in flight: guard the
change with `workflow.patched(...)`. Refresh the fixtures (after such a guarded change) with
`make record-histories`; keep the old files so both code paths stay covered.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from tests.conftest import TEST_CONVERTER
from workflows import WORKFLOWS

HISTORIES = sorted(Path(__file__).with_name("histories").glob("*.json"))


def test_replay_fixtures_exist():
    assert len(HISTORIES) >= 9


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_recorded_history_replays_on_current_code(path: Path):
    recorded = json.loads(path.read_text())
    history = WorkflowHistory.from_json(recorded["workflow_id"], recorded["history"])
    replayer = Replayer(workflows=WORKFLOWS, data_converter=TEST_CONVERTER)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
