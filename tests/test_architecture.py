"""The layout rules that keep the code readable: dependencies point one way, workflows stay pure
and small, and the names the parts share cannot drift apart."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from temporalio import activity, workflow

from activities import ClaimActivities
from domain.actions import ACTION_MODELS
from domain.names import SAFETY_CASE_ACTIONS, Action, ActivityName, Query
from settings import PROJECT_ROOT
from workflows import ClaimWorkflow, SafetyEscalationWorkflow

PRODUCTION = [
    p
    for p in PROJECT_ROOT.glob("**/*.py")
    # The dev stack, the benchmark and the chaos run (which bring the dev stack up) are tools,
    # not the service.
    if not {".venv", ".data", "tests", "devstack", "bench", "chaos", "build"}
    & set(p.relative_to(PROJECT_ROOT).parts)
]
# What each layer may never import (top-level module names).
FORBIDDEN = {
    "domain": {"store", "api", "activities", "workflows", "claim_service", "connections",
               "asyncpg", "httpx", "fastapi", "devstack"},
    "workflows": {"store", "api", "activities", "claim_service", "connections", "settings",
                  "codec", "asyncpg", "httpx", "fastapi", "socket", "devstack"},
    "store": {"api", "activities", "workflows", "claim_service", "devstack"},
    "activities": {"api", "workflows", "claim_service", "devstack"},
    "delivery": {"api", "workflows", "activities", "claim_service", "devstack"},
}  # fmt: skip


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_production_module_imports_the_dev_stack():
    offenders = [str(p) for p in PRODUCTION if "devstack" in imported_modules(p)]
    assert offenders == []


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_each_layer_imports_only_what_it_may(layer: str):
    for path in (PROJECT_ROOT / layer).glob("*.py"):
        assert not imported_modules(path) & FORBIDDEN[layer], path.name


def test_workflow_modules_stay_small():
    sizes = {
        p.name: len(p.read_text().splitlines()) for p in (PROJECT_ROOT / "workflows").glob("*.py")
    }
    assert max(sizes.values()) <= 400, sizes


def _definition(cls: type) -> workflow._Definition:
    return workflow._Definition.must_from_class(cls)


def test_every_claim_action_is_an_update_of_the_workflow_that_owns_it():
    claim, case = _definition(ClaimWorkflow), _definition(SafetyEscalationWorkflow)
    assert set(claim.updates) == {a.value for a in Action} - SAFETY_CASE_ACTIONS
    assert set(case.updates) == {a.value for a in SAFETY_CASE_ACTIONS}
    assert set(ACTION_MODELS) == set(Action)
    for name, update in claim.updates.items():
        assert name is not None and update.arg_types == [ACTION_MODELS[Action(name)]], name


def test_queries_and_activities_are_called_by_their_shared_names():
    queries = set(_definition(ClaimWorkflow).queries) | set(
        _definition(SafetyEscalationWorkflow).queries
    )
    assert queries == {q.value for q in Query}
    registered = {activity._Definition.must_from_callable(fn).name for fn in ClaimActivities.all(
        ClaimActivities.__new__(ClaimActivities)
    )}  # fmt: skip
    assert registered == {a.value for a in ActivityName}


def test_webhook_event_names_are_one_list():
    from typing import get_args

    from domain.delivery import WebhookEvent
    from domain.models import WebhookEventType

    assert set(get_args(WebhookEventType)) == {e.value for e in WebhookEvent}
