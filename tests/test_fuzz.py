"""Schemathesis against the app's own OpenAPI document: the API and a worker as real processes
(dev server, Postgres), authenticated with an ops key, every operation fuzzed and the links from
`POST /v1/claims` to its reads and actions followed statefully.

It must find no 5xx, no status the document does not declare, no answer that breaks its schema,
and it must reach the business logic: claims created and acted on. `make fuzz` runs it longer.
"""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from domain.names import Role
from settings import DEV_API_KEY_SECRET, PROJECT_ROOT
from store import api_keys
from tests.helpers.probes import claim_count
from tests.helpers.processes import api_process, service_env, worker_process
from tests.helpers.stack import dev_address

pytestmark = pytest.mark.slow

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "ignored_auth",
        "missing_required_header",
        "unsupported_method",
    ]
)


@pytest.fixture
async def live_api(dev_env, database_url, task_queue):
    env = service_env(
        dev_address(dev_env), database_url, task_queue, IME_ACTION_TIMEOUT_SECONDS="10"
    )
    async with worker_process(env), api_process(env) as url:
        yield url


async def test_the_api_holds_under_schema_driven_fuzzing(live_api, pool, tmp_path):
    _, key = await api_keys.create(pool, DEV_API_KEY_SECRET, role=Role.OPS)
    max_examples = os.environ.get("IME_FUZZ_EXAMPLES", "8")
    run = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "schemathesis.cli", "run", f"{live_api}/openapi.json",
        "--header", f"Authorization: Bearer {key}",
        "--checks", CHECKS,
        "--max-examples", max_examples,
        "--phases", "examples,coverage,fuzzing,stateful",
        "--workers", "1",
        "--request-timeout", "20",
        "--exclude-path", "/codec/session",
        "--suppress-health-check", "all",
        "--seed", "20261128",
        cwd=PROJECT_ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await run.communicate()
    report = output.decode(errors="replace")
    (tmp_path / "schemathesis.txt").write_text(report)
    assert run.returncode == 0, report[-6000:]
    # It reached the business logic: claims were created, and actions applied to them.
    assert await claim_count(pool) > 0, report[-2000:]
    applied = await pool.fetchval(
        "SELECT count(*) FROM access_log WHERE action IS NOT NULL AND status = 200"
    )
    assert applied > 0, report[-2000:]
