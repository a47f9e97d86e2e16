"""A bulk start: the valid lines of a referral file started concurrently through the claim
service (the API's own path: de-duplication, projection row, workflow start), with a progress
bar on stderr and a summary on stdout.

Starting is idempotent per insurer + claim number, so running a file again (after a failure or
an interrupt) starts only what is missing: the rest is "already existing".
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, NoReturn

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from claim_service import ClaimService
from cli.common import err, fail, fail_with, finish, operator, out, print_json, run_claims
from cli.referral_files import FileFormat, ReadFile, ValidLine, read_referrals
from domain.errors import ClaimError, DuplicateClaimNumber, InvalidInput, Unavailable
from domain.models import Caller

# A start that fails for an infrastructure reason (Postgres or Temporal unavailable) is tried
# this many times in all, backing off between tries.
ATTEMPTS = 4
FIRST_BACKOFF_SECONDS = 0.5
# A human reads this many problem lines; --json has them all.
SHOWN_PROBLEMS = 50


class Result(StrEnum):
    STARTED = "started"
    EXISTING = "existing"  # the same claim again: started before, by anyone
    CONFLICT = "conflict"  # the claim number is in use by a different referral of the insurer
    FAILED = "failed"  # still failing after ATTEMPTS tries


@dataclass(frozen=True)
class LineResult:
    line: int
    result: Result
    claim_id: str | None = None
    error: dict[str, str] | None = None  # code and message: ours, never a submitted value


@dataclass
class Summary:
    fmt: FileFormat
    read: ReadFile
    dry_run: bool
    results: list[LineResult] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, result: Result) -> int:
        return sum(1 for r in self.results if r.result is result)

    @property
    def exit_code(self) -> int:
        """1 when a start failed or conflicted, else 2 when a line was invalid, else 0."""
        if self.count(Result.FAILED) or self.count(Result.CONFLICT):
            return 1
        return 2 if self.read.rejected else 0

    def as_json(self) -> dict[str, Any]:
        return {
            "format": self.fmt.value,
            "dry_run": self.dry_run,
            "lines": self.read.lines,
            "valid": len(self.read.valid),
            "started": self.count(Result.STARTED),
            "existing": self.count(Result.EXISTING),
            "invalid": len(self.read.rejected),
            "conflict": self.count(Result.CONFLICT),
            "failed": self.count(Result.FAILED),
            "seconds": round(self.seconds, 2),
            "invalid_lines": [r.as_json() for r in self.read.rejected],
            "problems": [
                {"line": r.line, "result": r.result.value, "claim_id": r.claim_id, "error": r.error}
                for r in self._problems()
            ],
            "claims": [
                {"line": r.line, "claim_id": r.claim_id, "result": r.result.value}
                for r in self.results
                if r.result in (Result.STARTED, Result.EXISTING)
            ],
        }

    def _problems(self) -> list[LineResult]:
        return [r for r in self.results if r.result in (Result.CONFLICT, Result.FAILED)]

    def print(self, as_json: bool) -> None:
        if as_json:
            print_json(self.as_json())
            return
        counts = self.as_json()
        out.print(f"lines: {counts['lines']}")
        out.print(f"valid: {counts['valid']}")
        if self.dry_run:
            out.print("dry run: nothing was started")
        else:
            out.print(f"started: {counts['started']}")
            out.print(f"already existing: {counts['existing']}")
        out.print(f"invalid: {counts['invalid']}")
        if not self.dry_run:
            out.print(f"conflict: {counts['conflict']}")
            out.print(f"failed: {counts['failed']}")
            rate = len(self.results) / self.seconds if self.seconds else 0.0
            out.print(f"took: {self.seconds:.1f} s ({rate:.0f} lines/s)")
        problems = [text for rejected in self.read.rejected for text in rejected.describe()]
        problems += [
            f"line {r.line}: {r.result.value}: {r.error['message'] if r.error else ''}"
            for r in self._problems()
        ]
        for text in problems[:SHOWN_PROBLEMS]:
            out.print(text)
        if len(problems) > SHOWN_PROBLEMS:
            out.print(f"... and {len(problems) - SHOWN_PROBLEMS} more (--json lists them all)")


def start_file(
    path: Path, fmt: FileFormat, *, concurrency: int, dry_run: bool, as_json: bool
) -> NoReturn:
    """Validate every line of a JSONL or CSV file, then start the valid ones; exit with the
    summary's code."""
    try:
        read = read_referrals(path, fmt)
    except InvalidInput as error:
        fail_with(error)
    except OSError as error:
        fail("invalid_input", f"cannot read the referral file: {error.strerror}", exit_code=2)
    summary = Summary(fmt, read, dry_run)
    err.print(f"{read.lines} lines: {len(read.valid)} valid, {len(read.rejected)} invalid")
    if not dry_run and read.valid:
        began = time.monotonic()
        try:
            summary.results = run_claims(
                lambda claims: start_all(claims, read.valid, operator(), concurrency)
            )
        except KeyboardInterrupt:
            err.print("interrupted: run the same file again to start the rest", style="yellow")
            finish(130)
        summary.seconds = time.monotonic() - began
    summary.print(as_json)
    finish(summary.exit_code)


class RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.0f}/s" if speed else "-/s", style="progress.data.speed")


def progress_bar() -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=err,
    )


async def start_all(
    claims: ClaimService, lines: list[ValidLine], caller: Caller, concurrency: int
) -> list[LineResult]:
    """Start every line, at most `concurrency` at a time; results in line order."""
    began = datetime.now(UTC)
    results: list[LineResult] = []
    pending = iter(lines)
    with progress_bar() as progress:
        task = progress.add_task("starting claims", total=len(lines))

        async def work() -> None:
            # Workers share one iterator (no await between next() and its use): each line once.
            for line in pending:
                results.append(await start_one(claims, line, caller, began))
                progress.advance(task)

        async with asyncio.TaskGroup() as group:
            for _ in range(min(concurrency, len(lines))):
                group.create_task(work())
    return sorted(results, key=lambda r: r.line)


async def start_one(
    claims: ClaimService, line: ValidLine, caller: Caller, began: datetime
) -> LineResult:
    failure: dict[str, str] = {}
    for attempt in range(ATTEMPTS):
        if attempt:
            backoff = FIRST_BACKOFF_SECONDS * 2 ** (attempt - 1)
            await asyncio.sleep(backoff * random.uniform(0.8, 1.2))
        try:
            status, created = await claims.start(line.referral, caller)
        except DuplicateClaimNumber as error:
            return LineResult(line.line, Result.CONFLICT, _claim_id(error), _error(error))
        except Unavailable as error:
            failure = _error(error)
            continue
        except ClaimError as error:
            return LineResult(line.line, Result.FAILED, error=_error(error))
        except Exception as error:
            # Postgres or Temporal unreachable mid-run. The exception's text can carry
            # payload values: only its type is kept.
            failure = {"code": "unavailable", "message": f"{type(error).__name__} (retried)"}
            continue
        # A try that failed after inserting the claim leaves the next one "not created": the
        # claim is this run's if it was created after the run began.
        created = created or (attempt > 0 and status.created_at >= began)
        return LineResult(
            line.line, Result.STARTED if created else Result.EXISTING, status.claim_id
        )
    return LineResult(line.line, Result.FAILED, error=failure)


def _error(error: ClaimError) -> dict[str, str]:
    return {"code": error.code, "message": error.message}


def _claim_id(error: ClaimError) -> str | None:
    details = error.details
    return details.get("claim_id") if isinstance(details, dict) else None
