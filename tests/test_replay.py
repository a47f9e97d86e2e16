"""Claims in flight must keep running on every later version of the workflow code.

`tests/histories/*.json` were recorded by versions of ClaimWorkflow that ran (or run) in
production; each replays here on the current code. They are never re-recorded, edited or
deleted: `histories/MANIFEST.sha256` (frozen) and the files of `histories/pins/` pin every
file's bytes, and `make record-histories` only adds files (see `tests.helpers.keep_history`). A
change that cannot replay them must go behind `workflow.patched(...)`; the last tests show that
the gate bites and that a patch opens it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner
from temporalio.workflow import NondeterminismError

from codec import worker_converter
from domain.envelope import SigningKeys
from domain.models import ClaimStatus, Stage
from tests.helpers.config import TEST_ACTION_SIGNING_KEYS, TEST_CONVERTER
from tests.helpers.histories import HISTORIES, RECORDED, VERSION, load, pinned, save_history
from workflows import WORKFLOWS
from workflows.action_guard import ActionGuard
from workflows.effects import Effects

# The histories on main when the rule "never re-record" took effect: at least these, forever.
FIRST_LANDED = {
    "assigned_by_ops",
    "confirmation_breached_then_withdrawn",
    "declined_then_rebooked",
    "demo_approved",
    "erisa_decision_extended",
    "imminent_risk_hold_resolved",
    "ny_wc_denied",
    "qa_addendum_then_withdrawn",
    "rescheduled_from_exam",
    "three_no_shows",
}


def test_every_recorded_history_is_pinned_and_unchanged():
    pins = pinned()
    assert {p.stem for p in RECORDED} >= FIRST_LANDED
    assert sorted(pins) == sorted(p.name for p in RECORDED), (
        "pin new histories (tests/histories/pins)"
    )
    for path in RECORDED:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == pins[path.name], path.name


def worker_replayer(**options: Any) -> Replayer:
    """A replayer set up as the worker is (PRODUCT §8.5): its data converter (the codec, and the
    refusal of plaintext action arguments, which is for new work only) and the action guard
    (validators, and so the guard, do not run on replay)."""
    return Replayer(
        workflows=WORKFLOWS,
        data_converter=worker_converter(TEST_CONVERTER),
        interceptors=[ActionGuard(SigningKeys.parse(TEST_ACTION_SIGNING_KEYS))],
        **options,
    )


async def test_every_recorded_history_replays_on_current_code():
    """All of them through one replayer (one worker for the lot: twice as fast as a replayer
    each, which counts at 230 histories); a failure names each history that did not replay."""
    histories = {path.stem: load(path) for path in RECORDED}
    named = {history.run_id: name for name, history in histories.items()}
    assert len(named) == len(histories), "two histories of one run"

    async def each() -> AsyncIterator[WorkflowHistory]:
        for history in histories.values():
            yield history

    results = await worker_replayer().replay_workflows(each(), raise_on_replay_failure=False)
    failed = {named[run_id]: repr(error) for run_id, error in results.replay_failures.items()}
    assert failed == {}


# Every branch a claim can take, each with a history recorded by the current workflow code (so
# the code that runs new claims is also the code whose histories are kept), and what marks it.
BRANCHES = {
    "happy path": ("demo_approved", "approved"),
    "deny": ("ny_wc_denied", "denied"),
    "non-cooperation": ("three_no_shows", "non_cooperation"),
    "examiner replaced": ("examiner_replaced_for_late_report", "withdrawn"),
    "safety hold with withdrawal": ("withdrawn_on_hold_lifts_when_the_case_ends", "withdrawn"),
    "addendum loop": ("qa_addendum_then_withdrawn", "withdrawn"),
    "review addenda exhausted": ("review_addenda_exhausted_to_ops", "withdrawn"),
    "continue-as-new (first run)": ("many_rebookings_first_run", None),
    "continue-as-new (continued run)": ("many_rebookings_continued", "approved"),
    "operator reset, then decided anew": ("reset_after_close", "approved"),
    "operator reset, the action re-applied": ("reset_before_exam_default", "approved"),
    "operator cancellation": ("cancelled_by_operator", "cancelled_by_ops"),
    # Who examines where the state picks (patch `state-selection`).
    "state panel struck by both sides": ("ca_qme_panel_struck", "withdrawn"),
    "state panel strike missed, chosen": ("ca_qme_strike_missed", "withdrawn"),
    "state panel chosen by the claimant": ("ca_qme_unrepresented_choice", "withdrawn"),
    "state assignment after its rung": ("tx_dd_state_assigned", "withdrawn"),
    "state examiner refused, replaced": ("pa_ire_examiner_refused", "withdrawn"),
    "late state examiner replaced": ("state_examiner_replaced", "withdrawn"),
    # The appeal of a denial (patch `denial-appeal`).
    "appeal: new IME, extension, overturned": ("erisa_appeal_overturned", "appeal_overturned"),
    "appeal from the window's last day, withdrawn": ("erisa_appeal_withdrawn", "appeal_withdrawn"),
    "appeal window closed, a cancellation kept out": ("erisa_appeal_window_closed", "denied"),
}


@pytest.mark.parametrize("branch", BRANCHES, ids=str)
async def test_every_branch_has_a_history_of_the_current_code(branch: str):
    name, outcome = BRANCHES[branch]
    path = HISTORIES / f"{name}@{VERSION}.json"
    assert path in RECORDED, f"{branch}: record {path.name} (make record-histories)"
    events = json.loads(path.read_text())["history"]["events"]
    last = events[-1]
    if outcome is None:
        assert last["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW"
        return
    assert last["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"
    history = load(path)
    completed = history.events[-1].workflow_execution_completed_event_attributes
    [status] = await TEST_CONVERTER.decode(completed.result.payloads, [ClaimStatus])
    assert status.stage == Stage.CLOSED and status.outcome == outcome


def test_recording_never_overwrites(tmp_path: Path):
    manifest, pins = tmp_path / "MANIFEST.sha256", tmp_path / "pins"
    manifest.write_text("")
    assert save_history(tmp_path, pins, "one", {"workflow_id": "w", "history": {}}) is True
    before = (tmp_path / "one.json").read_bytes()
    assert save_history(tmp_path, pins, "one", {"workflow_id": "x", "history": {}}) is False
    assert (tmp_path / "one.json").read_bytes() == before
    assert list(pinned(manifest, pins)) == ["one.json"]


# --- the gate bites ---------------------------------------------------------------------------
# A changed workflow is simulated by changing what the claim does first (a timer before it loads
# its profile). Unsandboxed, so that the change made here is the code the replayer runs.

_LOAD_PROFILE = Effects.load_profile


async def _sleep_first(self: Effects, name: str):
    await workflow.sleep(1)
    return await _LOAD_PROFILE(self, name)


async def _sleep_first_if_patched(self: Effects, name: str):
    if workflow.patched("sleep-before-profile"):
        await workflow.sleep(1)
    return await _LOAD_PROFILE(self, name)


def unsandboxed_replayer() -> Replayer:
    return worker_replayer(workflow_runner=UnsandboxedWorkflowRunner())


async def test_an_unguarded_change_fails_replay_with_a_nondeterminism_error(monkeypatch):
    monkeypatch.setattr(Effects, "load_profile", _sleep_first)
    result = await unsandboxed_replayer().replay_workflow(
        load(HISTORIES / "demo_approved.json"), raise_on_replay_failure=False
    )
    assert isinstance(result.replay_failure, NondeterminismError), result.replay_failure


async def test_the_same_change_behind_a_patch_replays(monkeypatch):
    monkeypatch.setattr(Effects, "load_profile", _sleep_first_if_patched)
    result = await unsandboxed_replayer().replay_workflow(
        load(HISTORIES / "demo_approved.json"), raise_on_replay_failure=False
    )
    assert result.replay_failure is None
