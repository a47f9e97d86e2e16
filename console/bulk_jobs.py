"""Bulk starts running in the API process behind the console's progress bar: each file's valid
lines started by the CLI's own per-line code (`cli.bulk.start_one`, with its retries), a few at a
time, while the page polls for progress. A job lives in this process's memory (one per upload,
the newest 50 kept); a run cut short by a restart is finished by uploading the same file again,
which starts only what is missing (the same referral again is the same claim)."""

from __future__ import annotations

import asyncio
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from claim_service import ClaimService
from cli.bulk import LineResult, Result, start_one
from cli.referral_files import ReadFile
from domain.models import Caller

CONCURRENCY = 8
KEPT = 50


@dataclass
class BulkJob:
    id: str
    owner: str  # the person's account id: nobody else sees the job
    read: ReadFile
    results: list[LineResult] = field(default_factory=list)
    finished: bool = False
    began: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def total(self) -> int:
        return len(self.read.valid)

    @property
    def done(self) -> int:
        return len(self.results)

    def count(self, result: Result) -> int:
        return sum(1 for r in self.results if r.result is result)

    @property
    def problems(self) -> list[LineResult]:
        return sorted(
            (r for r in self.results if r.result in (Result.CONFLICT, Result.FAILED)),
            key=lambda r: r.line,
        )


class BulkJobs:
    def __init__(self) -> None:
        self._jobs: OrderedDict[str, BulkJob] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, claims: ClaimService, read: ReadFile, caller: Caller) -> BulkJob:
        assert caller.user_id is not None
        job = BulkJob(id=secrets.token_urlsafe(12), owner=caller.user_id, read=read)
        self._jobs[job.id] = job
        while len(self._jobs) > KEPT:
            self._jobs.popitem(last=False)
        task = asyncio.create_task(self._run(claims, job, caller))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    def find(self, job_id: str, caller: Caller) -> BulkJob | None:
        job = self._jobs.get(job_id)
        return job if job is not None and job.owner == caller.user_id else None

    async def _run(self, claims: ClaimService, job: BulkJob, caller: Caller) -> None:
        pending = iter(job.read.valid)

        async def work() -> None:
            for line in pending:  # shared: each line once
                job.results.append(await start_one(claims, line, caller, job.began))

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(CONCURRENCY, job.total)):
                    group.create_task(work())
        finally:
            job.results.sort(key=lambda r: r.line)
            job.finished = True

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
