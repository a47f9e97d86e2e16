"""The layout rules that keep the code readable: dependencies point one way, workflows stay pure
and small, and the names the parts share cannot drift apart."""

from __future__ import annotations

import ast
import re
import typing
from pathlib import Path

import pytest
from temporalio import activity, workflow

from activities import ClaimActivities
from domain.actions import ACTION_MODELS
from domain.models import ClaimStatus
from domain.names import SAFETY_CASE_ACTIONS, Action, ActivityName, Query
from settings import PROJECT_ROOT
from workflows import ClaimWorkflow, SafetyEscalationWorkflow
from workflows.appealing import UPDATES as APPEALING_UPDATES
from workflows.appealing import Appealing
from workflows.deciding import UPDATES as DECIDING_UPDATES
from workflows.deciding import Deciding
from workflows.preparing import UPDATES as PREPARING_UPDATES
from workflows.preparing import Preparing
from workflows.selecting import UPDATES as SELECTING_UPDATES
from workflows.selecting import Selecting

# Every module but the tests': the service's and its tools'.
SOURCES = [
    p
    for p in PROJECT_ROOT.glob("**/*.py")
    if not {".venv", ".data", "tests", "build"} & set(p.relative_to(PROJECT_ROOT).parts)
]
PRODUCTION = [
    p
    for p in SOURCES
    # The dev stack, the benchmark and the chaos run (which bring the dev stack up) are tools,
    # not the service.
    if not {"devstack", "bench", "chaos"} & set(p.relative_to(PROJECT_ROOT).parts)
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


# A string that is SQL: a statement's first keyword (as the code base writes them, upper case),
# then more of it.
_SQL = re.compile(r"(SELECT|INSERT|UPDATE|DELETE|WITH|CREATE|ALTER|DROP|TRUNCATE)\s+\S")
# What asyncpg runs statements with (on a connection or a pool), and LISTEN.
_DATABASE_CALLS = {"fetch", "fetchrow", "fetchval", "execute", "executemany", "add_listener",
                   "remove_listener"}  # fmt: skip


def sql_in(source: str) -> list[str]:
    """Where `source` holds SQL text or runs a statement: `line: what`."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and _SQL.match(node.value.lstrip())
        ):
            found.append(f"{node.lineno}: {node.value.strip().splitlines()[0]}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name = node.func.attr
            if name in _DATABASE_CALLS or name.startswith("copy_"):
                found.append(f"{node.lineno}: .{name}()")
    return sorted(found, key=lambda where: int(where.split(":")[0]))


def test_every_sql_statement_lives_in_the_store():
    """Outside `store/` no module, of the service or of its tools, writes or runs SQL: a query
    is a named function of a store module, so a schema change has one place to look."""
    offenders = {
        str(p.relative_to(PROJECT_ROOT)): found
        for p in SOURCES
        if p.relative_to(PROJECT_ROOT).parts[0] != "store" and (found := sql_in(p.read_text()))
    }
    assert offenders == {}


def test_the_sql_rule_finds_queries_and_the_calls_that_run_them():
    assert sql_in('QUERY = """\n  UPDATE deliveries SET status = $1"""') == [
        "1: UPDATE deliveries SET status = $1"
    ]
    assert sql_in("async def f(pool):\n    await pool.execute(STATEMENT)") == ["2: .execute()"]
    assert sql_in('f"CREATE DATABASE \\"{name}\\""') == ['1: CREATE DATABASE "']
    assert sql_in('def f():\n    """SELECT is what a docstring may say."""') == []
    assert sql_in('methods = ["POST", "DELETE"]\nhandle.execute_update(x)') == []


@pytest.mark.parametrize(("package", "limit"), [("workflows", 400), ("domain", 500)])
def test_modules_stay_small(package: str, limit: int):
    sizes = {
        str(p.relative_to(PROJECT_ROOT)): len(p.read_text().splitlines())
        for p in (PROJECT_ROOT / package).glob("**/*.py")
    }
    assert max(sizes.values()) <= limit, {name: n for name, n in sizes.items() if n > limit}


def _calls_patched(path: Path) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and (
            (
                isinstance(node.func, ast.Attribute)
                and node.func.attr in {"patched", "deprecate_patch"}
            )
            or (isinstance(node.func, ast.Name) and node.func.id in {"patched", "deprecate_patch"})
        )
    ]


def test_one_module_reads_the_patches():
    """Which behaviour a claim runs is decided in `workflows.generation` alone."""
    readers = {
        str(p.relative_to(PROJECT_ROOT)): lines for p in PRODUCTION if (lines := _calls_patched(p))
    }
    assert set(readers) == {"workflows/generation.py"}, readers


def test_no_collaborator_is_given_a_behaviour_flag_after_it_is_built():
    """Collaborators take the run's `Generation` in their constructor: nothing in `workflows/`
    sets an attribute of another object held by `self` (the claim's state excepted)."""
    set_late = []
    for path in (PROJECT_ROOT / "workflows").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            targets = node.targets if isinstance(node, ast.Assign) else []
            for target in targets:
                holder = target.value if isinstance(target, ast.Attribute) else None
                if (
                    isinstance(holder, ast.Attribute)
                    and isinstance(holder.value, ast.Name)
                    and holder.value.id == "self"
                    and holder.attr not in {"state", "_state"}
                ):
                    set_late.append(f"{path.name}:{target.lineno}")
    assert set_late == []


def _definition(cls: type) -> workflow._Definition:
    return workflow._Definition.must_from_class(cls)


def test_every_claim_action_is_an_update_of_the_workflow_that_owns_it():
    claim, case = _definition(ClaimWorkflow), _definition(SafetyEscalationWorkflow)
    # `workflows.preparing`, `selecting`, `deciding` and `appealing` register their updates
    # themselves (`set_update_handler`), each from its table.
    owners = {
        Preparing: PREPARING_UPDATES,
        Selecting: SELECTING_UPDATES,
        Deciding: DECIDING_UPDATES,
        Appealing: APPEALING_UPDATES,
    }
    registered = {a.value for a in Action for table in owners.values() if a in table}
    assert set(claim.updates) | registered == {a.value for a in Action} - SAFETY_CASE_ACTIONS
    assert not set(claim.updates) & registered
    tables = [set(table) for table in owners.values()]
    assert sum(map(len, tables)) == len(set().union(*tables))  # each update has one owner
    assert set(case.updates) == {a.value for a in SAFETY_CASE_ACTIONS}
    assert set(ACTION_MODELS) == set(Action)
    for name, update in claim.updates.items():
        assert name is not None and update.arg_types == [ACTION_MODELS[Action(name)]], name
    for owner, table in owners.items():
        handlers = {name: getattr(owner, name.replace("-", "_")) for name in table}
        for name, model in table.items():
            assert typing.get_type_hints(handlers[name])["return"] is ClaimStatus, name
            argument = next(
                v for k, v in typing.get_type_hints(handlers[name]).items() if k != "return"
            )
            action = Action(name) if name in {a.value for a in Action} else None
            assert argument is model and (action is None or ACTION_MODELS[action] is model), name


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


def test_no_test_module_imports_another():
    """What tests share lives in `tests/helpers`; a test module is never imported by another."""

    def is_test_module(dotted: str) -> bool:
        file = PROJECT_ROOT.joinpath(*dotted.split(".")).with_suffix(".py")
        return file.name.startswith("test_") and file.is_file()

    importers = {
        path.name: sorted(filter(is_test_module, imported_dotted(path)))
        for path in (PROJECT_ROOT / "tests").glob("**/*.py")
    }
    assert {name: found for name, found in importers.items() if found} == {}


def imported_dotted(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names
