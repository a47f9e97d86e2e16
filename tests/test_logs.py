"""Every log line of every process is one JSON object with its context, and none carries PHI.

The configuration alone (a call with bound context, an exception, a span, a workflow's and an
activity's lines on the time-skipping server), then the whole service as it is deployed: the API,
the worker and the dispatcher as processes on the dev server and Postgres, a claim with a
distinctive claimant and a safety concern walked to closed through the HTTP API, its webhooks,
emails and pages delivered, and every line each process wrote read back.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import structlog
from opentelemetry.sdk.trace import TracerProvider
from temporalio.worker import Worker

from domain.ids import claim_id_for, workflow_id_for
from domain.names import Role
from observability.logs import configure_logging, get_logger
from observability.temporal import ActivityLogContext
from tests.helpers.logging_workflow import LoggingWorkflow, log_from_activity
from tests.helpers.phi import EMAIL, NOTES, distinctive_referral, leaked
from tests.helpers.processes import (
    api_process,
    dispatcher_process,
    keyed_client,
    service_env,
    worker_process,
)
from tests.helpers.receivers import MailSink, PagingReceiver, WebhookReceiver, serving
from tests.helpers.referrals import complete_report
from tests.helpers.stack import dev_address
from tests.helpers.walk import post_action, wait_until

# ---- the configuration ------------------------------------------------------------------------


@pytest.fixture
def rendered() -> Iterator[io.StringIO]:
    """This process's log lines, rendered into a buffer for the test's duration."""
    buffer = io.StringIO()
    root = logging.getLogger()
    level, hooks = root.level, (sys.excepthook, threading.excepthook)
    config = structlog.get_config()
    handler = configure_logging("ime-test", stream=buffer)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        logging.captureWarnings(False)
        sys.excepthook, threading.excepthook = hooks
        structlog.configure(**config)


def lines_of(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_a_log_call_renders_its_fields_and_the_bound_context(rendered):
    with structlog.contextvars.bound_contextvars(request_id="req-1", claim_id="c" * 24):
        get_logger("ime.test").info("something happened", seq=3)
        logging.getLogger("ime.stdlib").warning("plain %s", "logging")
    get_logger("ime.test").info("outside")

    first, second, third = lines_of(rendered)
    assert list(first)[:4] == ["timestamp", "level", "logger", "event"]
    assert first["timestamp"].endswith("Z")
    assert datetime.fromisoformat(first["timestamp"]).tzinfo is not None
    assert first | {"timestamp": None} == {
        "timestamp": None,
        "level": "info",
        "logger": "ime.test",
        "event": "something happened",
        "seq": 3,
        "request_id": "req-1",
        "claim_id": "c" * 24,
        "service": "ime-test",
    }
    assert (second["level"], second["logger"], second["event"]) == (
        "warning",
        "ime.stdlib",
        "plain logging",
    )
    assert second["request_id"] == "req-1"  # stdlib lines get the context too
    assert "request_id" not in third  # and it ends with its block


def test_an_exception_is_rendered_as_its_type_and_place_never_its_message(rendered):
    try:
        try:
            raise KeyError("Jane Roe")
        except KeyError as err:
            raise ValueError("date of birth 1980-04-02 is invalid") from err
    except ValueError:
        get_logger("ime.test").exception("failed")
        logging.getLogger("ime.stdlib").error("failed too", exc_info=True)

    for line in lines_of(rendered):
        assert line["exception"] == "ValueError"
        assert line["exception_causes"] == ["KeyError"]
        assert any("test_logs.py" in frame for frame in line["exception_stack"])
    assert "Jane Roe" not in rendered.getvalue() and "1980-04-02" not in rendered.getvalue()


def test_the_console_format_is_one_readable_line_each(rendered):
    configure_logging("ime-test", fmt="console", stream=rendered)
    get_logger("ime.test").info("child started", child="worker")
    try:
        raise ValueError("Jane Roe")
    except ValueError:
        get_logger("ime.test").exception("failed")
        logging.getLogger("ime.stdlib").exception("failed too")

    text = rendered.getvalue()
    assert "child started" in text and "child=worker" in text and "[ime.test]" in text
    assert text.count("ValueError") == 2 and "Jane Roe" not in text


def test_a_crash_is_a_log_line_without_its_message(rendered):
    try:
        raise RuntimeError("phone +1-212-555-0100")
    except RuntimeError as err:
        sys.excepthook(RuntimeError, err, err.__traceback__)

    [line] = lines_of(rendered)
    assert (line["level"], line["event"], line["exception"]) == (
        "critical",
        "uncaught exception",
        "RuntimeError",
    )
    assert "212-555-0100" not in rendered.getvalue()


def test_a_line_inside_a_span_carries_its_trace_and_span_ids(rendered):
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        get_logger("ime.test").info("traced")
    get_logger("ime.test").info("untraced")

    traced, untraced = lines_of(rendered)
    context = span.get_span_context()
    assert traced["trace_id"] == format(context.trace_id, "032x")
    assert traced["span_id"] == format(context.span_id, "016x")
    assert "trace_id" not in untraced


def test_uvicorn_lines_go_through_ours_and_its_access_log_is_dropped(rendered):
    logging.getLogger("uvicorn.error").warning("from uvicorn")
    assert lines_of(rendered)[-1]["logger"] == "uvicorn.error"
    # uvicorn skips its access log when the logger has no handler to reach (the API process
    # shows it: no `uvicorn.access` line in its log).
    assert not logging.getLogger("uvicorn.access").propagate


async def test_workflow_and_activity_lines_carry_their_run_and_claim(rendered, ts_env):
    claim_id = claim_id_for("secret", "acme-ins", f"WC-{uuid.uuid4().hex[:8]}")
    task_queue = f"tq-{uuid.uuid4().hex[:8]}"
    async with Worker(
        ts_env.client,
        task_queue=task_queue,
        workflows=[LoggingWorkflow],
        activities=[log_from_activity],
        interceptors=[ActivityLogContext()],
    ):
        handle = await ts_env.client.start_workflow(
            LoggingWorkflow.run, id=workflow_id_for(claim_id), task_queue=task_queue
        )
        await handle.result()

    lines = {line["event"]: line for line in lines_of(rendered)}
    for event in ("workflow step", "activity step"):
        line = lines[event]  # the message alone: the run is in fields, not appended to it
        assert line["workflow_id"] == handle.id, line
        assert line["run_id"] == handle.result_run_id, line
        assert line["claim_id"] == claim_id, line
    assert lines["workflow step"]["workflow_type"] == "LoggingWorkflow"
    assert lines["activity step"]["activity_type"] == "log_from_activity"


# ---- the whole service ------------------------------------------------------------------------


@dataclass
class Service:
    url: str
    logs: dict[str, Path]
    hooks: WebhookReceiver
    hooks_url: str
    mail: MailSink
    pager: PagingReceiver
    stop: Callable[[], Awaitable[None]]  # the processes, so that their logs are complete


@pytest.fixture
async def service(dev_env, database_url, task_queue, tmp_path) -> AsyncIterator[Service]:
    hooks, pager = WebhookReceiver(), PagingReceiver()
    logs = {name: tmp_path / f"{name}.log" for name in ("api", "worker", "dispatcher")}
    async with contextlib.AsyncExitStack() as stack:
        mail = stack.enter_context(MailSink())
        hooks_url = await stack.enter_async_context(serving(hooks.app()))
        pager_url = await stack.enter_async_context(serving(pager.app()))
        env = service_env(
            dev_address(dev_env), database_url, task_queue,
            IME_LOG_FORMAT="json", IME_LOG_LEVEL="INFO",
            IME_SMTP_PORT=str(mail.port),
            IME_PAGING_URL=f"{pager_url}/v2/enqueue",
            IME_WEBHOOK_ALLOWED_NETWORKS='["127.0.0.0/8"]',
            IME_DELIVERY_BACKOFF_FIRST_SECONDS="0.2",
            IME_DELIVERY_BACKOFF_MAX_SECONDS="1",
        )  # fmt: skip
        env.pop("IME_OTEL_EXPORTER_OTLP_ENDPOINT", None)
        processes = contextlib.AsyncExitStack()
        stack.push_async_callback(processes.aclose)  # a second close does nothing
        await processes.enter_async_context(worker_process(env, logs["worker"]))
        await processes.enter_async_context(dispatcher_process(env, logs["dispatcher"]))
        url = await processes.enter_async_context(api_process(env, logs["api"]))
        yield Service(url, logs, hooks, hooks_url, mail, pager, processes.aclose)


async def until(predicate, timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.1)


async def walk_with_a_safety_concern(service: Service, pool) -> str:
    """The distinctive claim through every stage, a safety case raised and resolved on the way,
    a webhook registered; returns the claim id once it closed and its notices went out."""
    insurer = await keyed_client(pool, service.url, Role.INSURER, insurer_id="acme-ins")
    ops = await keyed_client(pool, service.url, Role.OPS)
    reviewer = await keyed_client(pool, service.url, Role.REVIEWER)
    clinician = await keyed_client(pool, service.url, Role.CLINICIAN)
    hook = await insurer.post("/v1/webhooks", json={"url": f"{service.hooks_url}/hook"})
    assert hook.status_code == 201, hook.text

    created = await insurer.post(
        "/v1/claims", json=distinctive_referral(), headers={"X-Request-ID": "10650e2ec4ea7e01"}
    )
    assert created.status_code == 201, created.text
    assert created.headers["x-request-id"] == "10650e2ec4ea7e01"
    claim_id = created.json()["claim_id"]
    await wait_until(insurer, claim_id, lambda c: c["appointment"] is not None)

    concern = {"level": "imminent", "toward": "self", "notes": NOTES}
    assert (await post_action(insurer, claim_id, "safety-concern", concern)).status_code == 200
    ack = await post_action(clinician, claim_id, "safety-ack", {"clinician_id": "dr-1"})
    assert ack.status_code == 200, ack.text
    resolved = await post_action(
        clinician, claim_id, "safety-resolve", {"actions_taken": ["warm_handoff"]}
    )
    assert resolved.status_code == 200, resolved.text
    await wait_until(insurer, claim_id, lambda c: not c["safety_hold"])

    confirmed = await post_action(ops, claim_id, "confirm-appointment")
    assert confirmed.status_code == 200, confirmed.text
    starts_at = datetime.fromisoformat(confirmed.json()["appointment"]["starts_at"])
    await asyncio.sleep(max(0.0, (starts_at - datetime.now(UTC)).total_seconds()) + 0.5)
    exam = {"attended": True, "risk_screen": {"level": "none", "toward": None}}
    steps = [
        (ops, "exam", exam),
        (ops, "report", complete_report()),
        (reviewer, "review", {"result": "accepted", "reasons": []}),
        (insurer, "decision", {"outcome": "approved", "reason_code": "IME_SUPPORTS"}),
    ]
    for party, action, body in steps:
        answer = await post_action(party, claim_id, action, body)
        assert answer.status_code == 200, (action, answer.text)
    await wait_until(insurer, claim_id, lambda c: c["stage"] == "CLOSED")

    await until(lambda: any(b["type"] == "claim.closed" for b in service.hooks.bodies()))
    await until(lambda: len(service.mail.to(EMAIL)) >= 2)  # appointment notice and decision
    await until(lambda: bool(service.pager.events))
    for client in (insurer, ops, reviewer, clinician):
        await client.aclose()
    return claim_id


def read_lines(path: Path) -> list[dict[str, Any]]:
    """Every line the process wrote, each of which must be one JSON object of our shape."""
    lines = []
    for number, text in enumerate(path.read_text().splitlines(), 1):
        try:
            line = json.loads(text)
        except json.JSONDecodeError:
            pytest.fail(f"{path.name} line {number} is not JSON: {text[:300]}")
        assert isinstance(line, dict), (path.name, number, text)
        assert {"timestamp", "level", "logger", "event"} <= line.keys(), (path.name, text)
        assert line["timestamp"].endswith("Z"), text
        lines.append(line)
    return lines


@pytest.mark.slow
async def test_every_line_of_every_process_is_json_with_context_and_no_phi(service, pool):
    claim_id = await walk_with_a_safety_concern(service, pool)
    workflow_id = workflow_id_for(claim_id)
    async with asyncio.timeout(30):
        # Stop the processes (the fixture would at teardown): their logs are then complete.
        await service.stop()

    for name, path in service.logs.items():
        assert leaked(path.read_text()) == [], f"PHI in the {name} log"
    api, worker, dispatcher = (read_lines(service.logs[n]) for n in ("api", "worker", "dispatcher"))

    # The API: one access line per request, each with its request id, never a path or query.
    assert not [line for line in api if line["logger"] == "uvicorn.access"]
    access = [line for line in api if line["logger"] == "ime.api.access"]
    assert all(line["request_id"] for line in access)
    assert all(line["service"] == "ime-api" for line in api)
    created = next(line for line in access if line["request_id"] == "10650e2ec4ea7e01")
    assert (created["method"], created["route"], created["status"]) == ("POST", "/v1/claims", 201)
    on_claim = [line for line in access if "{claim_id}" in line["route"]]
    assert {line["claim_id"] for line in on_claim} == {claim_id}
    assert {
        "/v1/claims/{claim_id}/actions/safety-concern",
        "/v1/claims/{claim_id}/actions/decision",
    } <= {line["route"] for line in on_claim}
    assert all(claim_id not in line["route"] for line in access)

    # The worker: each transition recorded, under its workflow run and claim.
    recorded = [line for line in worker if line["event"] == "transition recorded"]
    assert {line["event_type"] for line in recorded} >= {
        "referral_received", "safety_hold_placed", "safety_hold_lifted", "claim_closed",
    }  # fmt: skip
    for line in recorded:
        assert line["workflow_id"] == workflow_id and line["run_id"], line
        assert line["claim_id"] == claim_id, line

    # The dispatcher: each delivery under its id and its claim.
    delivered = [line for line in dispatcher if line["event"].startswith("delivered ")]
    assert {line["event"].split()[1] for line in delivered} >= {"webhook", "email", "page"}
    for line in delivered:
        assert line["claim_id"] == claim_id and line["delivery_id"], line
