"""Bulk start and list in the operations CLI, end to end: the CLI as a subprocess against the
Temporal dev server and Postgres.

The 1,000-line test runs with no worker on its task queue: a bulk start only has to start the
claims (projection row + workflow), and a worker booking 1,000 claims would only load the
machine. Its workflows are terminated afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import time
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from temporalio.client import Client
from temporalio.service import RPCError

from domain.ids import workflow_id_for
from domain.parsing import parse_referral, referral_fingerprint
from tests.helpers.config import claim_activities, make_settings
from tests.helpers.probes import claim_count
from tests.helpers.processes import starter_cli
from tests.helpers.referrals import referral_payload
from tests.helpers.stack import dev_address
from worker import build_worker

ROOT = Path(__file__).resolve().parent.parent
# Every claimant of referral_payload is "Jane Roe <suffix>": no output may ever show one.
CLAIMANT = "Jane Roe"


@pytest.fixture
def cli(dev_env, database_url, task_queue):
    run = starter_cli(dev_address(dev_env), database_url, task_queue, timeout=120)

    return run


async def terminate(client: Client, claim_ids: list[str]) -> None:
    gate = asyncio.Semaphore(50)

    async def one(claim_id: str) -> None:
        async with gate:
            with contextlib.suppress(RPCError):
                handle = client.get_workflow_handle(workflow_id_for(claim_id))
                await handle.terminate(reason="test finished")

    await asyncio.gather(*(one(c) for c in claim_ids))


async def claim_ids_in(pool: asyncpg.Pool) -> list[str]:
    return [r["claim_id"] for r in await pool.fetch("SELECT claim_id FROM claims")]


def counts(stdout: str) -> dict[str, str]:
    """The summary's `name: value` lines (not the `line N: ...` problem lines)."""
    pairs = (text.split(": ", 1) for text in stdout.splitlines() if ": " in text)
    return {name: value for name, value in pairs if not name.startswith("line ")}


def listed_ids(stdout: str, claim_ids: set[str]) -> set[str]:
    return {word for word in stdout.split() if word in claim_ids}


async def test_a_thousand_line_file_starts_its_valid_lines_once_and_names_the_invalid_ones(
    cli, pool, dev_env, tmp_path
):
    payloads = [referral_payload("DEMO") for _ in range(1000)]
    lines = [json.dumps(p) for p in payloads]
    lines[2] = json.dumps(payloads[2] | {"claim_type": "workers_compensation"})  # line 3
    del payloads[6]["claimant"]["date_of_birth"]
    lines[6] = json.dumps(payloads[6])  # line 7
    lines[11] = lines[11][:-40]  # line 12: cut off, the claimant's name still in it
    duplicate = referral_payload("DEMO", claim_number=payloads[0]["claim_number"])
    lines[19] = json.dumps(duplicate)  # line 20: the claim number of line 1
    invalid = {2, 6, 11, 19}
    valid_numbers = [p["claim_number"] for i, p in enumerate(payloads) if i not in invalid]
    # Blank lines are skipped and do not shift the numbering.
    referrals = tmp_path / "referrals.jsonl"
    referrals.write_text("\n".join(lines[:500]) + "\n\n" + "\n".join(lines[500:]) + "\n\n")

    began = time.monotonic()
    code, stdout, stderr = await cli("start", "--file", str(referrals))
    wall = time.monotonic() - began
    try:
        assert code == 2, stderr  # lines were invalid; every valid one started
        summary = counts(stdout)
        assert summary["lines"] == "1000" and summary["valid"] == "996"
        assert summary["started"] == "996" and summary["already existing"] == "0"
        assert summary["invalid"] == "4"
        assert summary["conflict"] == "0" and summary["failed"] == "0"
        problems = [text for text in stdout.splitlines() if text.startswith("line ")]
        assert problems[0].startswith("line 3: claim_type: Input should be 'workers_comp'")
        assert problems[1] == "line 7: claimant.date_of_birth: Field required"
        assert problems[2] == "line 12: not valid JSON"
        assert (
            problems[3] == "line 20: claim_number: the same insurer_id and claim_number as line 1"
        )
        assert len(problems) == 4
        assert "996/996" in stderr  # the progress bar, on stderr
        assert CLAIMANT not in stdout + stderr
        print(f"\nbulk start of a 1,000-line JSONL file: {summary['took']}; {wall:.1f} s wall")

        stored = await pool.fetch("SELECT claim_id, claim_number FROM claims")
        assert sorted(r["claim_number"] for r in stored) == sorted(valid_numbers)
        claim_ids = {r["claim_id"] for r in stored}

        code, stdout, stderr = await cli("start", "--file", str(referrals), "--json")
        assert code == 2, stderr
        again = json.loads(stdout)
        assert (again["started"], again["existing"], again["invalid"]) == (0, 996, 4)
        assert [r["line"] for r in again["invalid_lines"]] == [3, 7, 12, 20]
        assert {c["claim_id"] for c in again["claims"]} == claim_ids
        assert await claim_count(pool) == 996
        assert CLAIMANT not in stdout + stderr

        code, stdout, stderr = await cli("list", "--stage", "REFERRAL", "--limit", "5")
        assert code == 0, stderr
        first = listed_ids(stdout, claim_ids)
        assert len(first) == 5 and "5 claims" in stdout and "acme-ins" in stdout
        cursor = stdout.split("next cursor: ", 1)[1].split()[0]
        code, stdout, _ = await cli(
            "list", "--stage", "REFERRAL", "--limit", "5", "--cursor", cursor
        )
        assert code == 0 and len(listed_ids(stdout, claim_ids) - first) == 5
        code, stdout, _ = await cli("list", "--insurer", "acme-ins", "--limit", "5")
        assert code == 0 and listed_ids(stdout, claim_ids) == first
        code, stdout, _ = await cli("list", "--insurer", "other-ins")
        assert code == 0 and not listed_ids(stdout, claim_ids) and "0 claims" in stdout
        code, _, stderr = await cli("list", "--limit", "500")
        assert code == 2 and json.loads(stderr)["error"]["details"][0]["field"] == "limit"
    finally:
        await terminate(dev_env.client, await claim_ids_in(pool))


# The CSV columns as docs/api.md documents them (lists separated by ";").
CSV_HEADER = [
    "insurer_id",
    "claim_number",
    "claim_type",
    "jurisdiction",
    "requested_specialty",
    "claimant.full_name",
    "claimant.date_of_birth",
    "claimant.phone",
    "claimant.email",
    "claimant.address.line1",
    "claimant.address.city",
    "claimant.address.state",
    "claimant.address.postal_code",
    "claimant.treating_provider_npis",
    "injury.date_of_injury",
    "injury.body_parts",
    "injury.description",
    "questions",
]


def csv_row(referral: dict[str, Any]) -> list[str]:
    claimant, injury = referral["claimant"], referral["injury"]
    return [
        *(referral[k] for k in CSV_HEADER[:5]),
        claimant["full_name"],
        claimant["date_of_birth"],
        claimant["phone"],
        claimant["email"],
        *(claimant["address"][k] for k in ("line1", "city", "state", "postal_code")),
        ";".join(claimant["treating_provider_npis"]),
        injury["date_of_injury"],
        ";".join(injury["body_parts"]),
        injury["description"],
        ";".join(referral["questions"]),
    ]


def write_csv(path: Path, referrals: list[dict[str, Any]]) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(CSV_HEADER)
        writer.writerows(csv_row(r) for r in referrals)


async def test_a_csv_file_starts_claims_that_list_shows_in_scheduling(
    cli, pool, dev_env, database_url, task_queue, tmp_path
):
    referrals = [referral_payload("DEMO") for _ in range(3)]
    bad = referral_payload("DEMO")
    bad["claimant"]["address"]["postal_code"] = "1220"
    mixed, good = tmp_path / "mixed.csv", tmp_path / "good.csv"
    write_csv(mixed, [*referrals, bad])
    write_csv(good, referrals)

    code, stdout, stderr = await cli("start", "--file", str(mixed), "--dry-run")
    assert code == 2, stderr
    assert counts(stdout)["valid"] == "3" and counts(stdout)["invalid"] == "1"
    assert "line 5: claimant.address.postal_code: String should match" in stdout
    assert bad["claimant"]["full_name"] not in stdout + stderr
    assert await claim_count(pool) == 0  # a dry run starts nothing

    settings = make_settings(database_url, task_queue, dev_address(dev_env))
    async with build_worker(dev_env.client, settings, claim_activities(pool)):
        try:
            code, stdout, stderr = await cli("start", "--file", str(good), "--json")
            assert code == 0, stderr
            summary = json.loads(stdout)
            assert (summary["started"], summary["existing"], summary["invalid"]) == (3, 0, 0)
            # Each row became the very referral its JSON is (the API's de-duplication hash).
            stored = await pool.fetch("SELECT claim_number, referral_hash FROM claims")
            assert {r["claim_number"]: r["referral_hash"] for r in stored} == {
                r["claim_number"]: referral_fingerprint(parse_referral(r)) for r in referrals
            }
            code, stdout, _ = await cli("start", "--file", str(good))
            assert code == 0 and counts(stdout)["already existing"] == "3"
            assert counts(stdout)["started"] == "0"

            async with asyncio.timeout(30):
                while (
                    await pool.fetchval("SELECT count(*) FROM claims WHERE stage = 'SCHEDULING'")
                    < 3
                ):
                    await asyncio.sleep(0.2)
            code, stdout, stderr = await cli("list", "--stage", "SCHEDULING", "--limit", "5")
            assert code == 0, stderr
            for referral in referrals:
                assert referral["claim_number"] in stdout
                assert referral["claimant"]["full_name"] not in stdout
            assert "3 claims" in stdout and "SCHEDULING" in stdout and "next cursor" not in stdout
        finally:
            await terminate(dev_env.client, await claim_ids_in(pool))
