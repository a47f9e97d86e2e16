"""One chaos run: a dev stack of its own (no demo simulator), an insurer webhook endpoint on
loopback, and scenario after scenario of claims walked through a fault, then checked.

A scenario: N claims are started, spread from a few seconds before the fault until its end, and
walked by their parties; every claim is walked to its end and every delivery drained; then the
checks of `chaos.checks` run over exactly those claims. Meanwhile /readyz is probed four times a
second.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from chaos import checks
from chaos.checks import ClaimRecord, Probe
from chaos.driver import Driver, Walk, party_clients, plans, walk_all
from chaos.faults import SCENARIOS, FaultLog, Kills, Pace, Target, spawn_worker
from chaos.receivers import WebhookReceiver, read_mail, serving
from chaos.stack import Stack, StackFailed
from store import inspection

PROBE_EVERY = 0.25
FAULT_AFTER = 6.0  # the fault begins this long after the first claim starts
CLAIM_DEADLINE = 300.0  # a claim not closed by then fails the scenario
SETTLE_TIMEOUT = 180.0  # for the claims' last steps and their deliveries after the walks


@dataclass
class Result:
    scenario: str
    claims: int
    began: float
    fault: FaultLog
    outcomes: Counter[str] = field(default_factory=Counter)
    ready_after: float | None = None  # fault end -> first 200 from /readyz
    progressing_after: float | None = None  # fault end -> every open claim recorded an event
    took: float = 0.0
    findings: list[str] = field(default_factory=list)
    figures: dict[str, int] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.findings


class Prober:
    """GET /readyz every PROBE_EVERY seconds, each answer kept."""

    def __init__(self, url: str) -> None:
        self.url = f"{url}/readyz"
        self.probes: list[Probe] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        async with httpx.AsyncClient(timeout=3.0) as http:
            while True:
                sent = time.time()
                status, failing = None, frozenset[str]()
                try:
                    answer = await http.get(self.url)
                    status = answer.status_code
                    found = answer.json().get("checks", {})
                    failing = frozenset(name for name, state in found.items() if state != "ok")
                except (httpx.HTTPError, ValueError):
                    pass
                self.probes.append(Probe(sent, time.time(), status, failing))
                await asyncio.sleep(PROBE_EVERY)

    def __enter__(self) -> Prober:
        self._task = asyncio.create_task(self._run())
        return self

    def __exit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()


class Harness:
    def __init__(
        self, stack: Stack, receiver: WebhookReceiver, clients: dict[str, httpx.AsyncClient]
    ) -> None:
        self.stack = stack
        self.receiver = receiver
        self.clients = clients
        self.kills = Kills()
        self.database_url = stack.database_url()

    async def run(
        self,
        name: str,
        claims: int,
        tag: str,
        *,
        pace: Pace | None = None,
        ramp: float | None = None,
        fault_after: float = FAULT_AFTER,
    ) -> Result:
        """Scenario `name` with `claims` claims (numbers tagged `tag`), its fault at `pace`,
        `fault_after` seconds after the first claim started; the claims start spread over
        `ramp` seconds (by default until the fault is over)."""
        scenario = SCENARIOS[name]
        if ramp is None:
            ramp = fault_after + scenario.span(pace)
        began = time.time()
        log = FaultLog()
        result = Result(name, claims, began, log)
        driver = Driver(self.clients, CLAIM_DEADLINE)
        target = Target(self.stack, self.receiver, self.kills)
        extra = spawn_worker(self.stack, "worker-2") if scenario.second_worker else None
        try:
            with Prober(self.stack.api_url) as prober:
                walking = asyncio.create_task(walk_all(driver, plans(tag, claims), ramp))
                await asyncio.sleep(fault_after)
                await scenario.fault(target, log, pace or scenario.pace)
                walks = await walking
                records = await self._settled(walks)
                await self._ready_again(prober, log.end)
            result.outcomes = Counter(
                r.outcome or r.stage for w in walks if (r := records.get(w.claim_id)) is not None
            )
            result.findings = self._check(walks, records, prober.probes, log)
            result.ready_after = _ready_after(prober.probes, log.end)
            result.progressing_after = _progressing_after(records.values(), log.end)
            result.figures = checks.delivery_figures(
                records.values(), self.receiver, read_mail(self.stack.mail_dir)
            ) | {
                "deadline_events": checks.deadline_detours(records.values()),
                "retried_keys": checks.retried_keys(walks),
                "longest_walk_s": round(max((w.ended_at - w.started_at for w in walks), default=0)),
                "readyz_503": sum(1 for p in prober.probes if p.status == 503),
                "readyz_no_answer": sum(1 for p in prober.probes if p.status is None),
            }
        finally:
            if extra is not None:
                _stop(extra)
        result.took = time.time() - began
        return result

    def _check(
        self,
        walks: list[Walk],
        records: dict[str, ClaimRecord],
        probes: Sequence[Probe],
        log: FaultLog,
    ) -> list[str]:
        mails = read_mail(self.stack.mail_dir)
        started = [records[w.claim_id] for w in walks if w.claim_id]
        findings = checks.check_outcomes(walks, records)
        findings += checks.check_audit_log(walks, records)
        findings += checks.check_answers(walks, records)
        findings += checks.check_outbox(started)
        findings += checks.check_deliveries(started, self.receiver, mails)
        findings += checks.check_appointments(started)
        findings += checks.check_readiness(probes, log.outages)
        if not probes or probes[-1].status != 200:
            findings.append("/readyz was not 200 after the recovery")
        return findings

    async def _settled(self, walks: list[Walk]) -> dict[str, ClaimRecord]:
        """Until every claim recorded its closing and every delivery of theirs was made (or
        gave up), within SETTLE_TIMEOUT; then what Postgres holds of them."""
        ids = [w.claim_id for w in walks if w.claim_id]
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while True:
            conn = await asyncpg.connect(self.database_url, timeout=10)
            try:
                unsettled = await inspection.unsettled(conn, ids)
                if unsettled == 0 or time.monotonic() > deadline:
                    return await checks.load(conn, ids)
            finally:
                await conn.close()
            await asyncio.sleep(1.0)

    async def _ready_again(self, prober: Prober, fault_end: float) -> None:
        """Until a probe sent after the fault's end was answered 200 (at most a minute)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if _ready_after(prober.probes, fault_end) is not None:
                return
            await asyncio.sleep(PROBE_EVERY)


def _ready_after(probes: Sequence[Probe], fault_end: float) -> float | None:
    for probe in probes:
        if probe.sent >= fault_end and probe.status == 200:
            return probe.answered - fault_end
    return None


def _progressing_after(records: Iterable[ClaimRecord], fault_end: float) -> float | None:
    """From the fault's end until every claim still open then had recorded a new event."""
    waits = []
    for record in records:
        closed = record.closed_at()
        if closed is not None and closed.timestamp() <= fault_end:
            continue
        after = [e.recorded_at.timestamp() for e in record.events]
        later = [t for t in after if t > fault_end]
        if not later:
            return None
        waits.append(min(later) - fault_end)
    return max(waits, default=0.0)


def _stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.asynccontextmanager
async def harness(root: Path) -> AsyncIterator[Harness]:
    """A dev stack in `root` (no demo), an insurer endpoint registered for every event type,
    and the parties' clients."""
    stack = await _ready_stack(root)
    try:
        receiver = WebhookReceiver()
        async with serving(receiver.app()) as endpoint:
            clients = party_clients(stack.api_url, stack.keys())
            try:
                created = await clients["insurer"].post(
                    "/v1/webhooks", json={"url": f"{endpoint}/hook", "event_types": []}
                )
                if created.status_code != 201:
                    raise StackFailed(f"webhook registration answered {created.status_code}")
                receiver.secret = created.json()["secret"]
                yield Harness(stack, receiver, clients)
            finally:
                for http in clients.values():
                    await http.aclose()
        if await stack.interrupt() != 0:
            raise StackFailed(f"the stack did not stop cleanly:\n{stack.output()}")
    finally:
        stack.kill_everything()


async def _ready_stack(root: Path, tries: int = 2) -> Stack:
    """A ready stack without the demo simulator. Its ports were free when chosen; on a busy
    machine another process may take one before the stack binds it: then once more, on others."""
    for attempt in range(1, tries + 1):
        stack = Stack(root / f"stack-{attempt}", {"IME_DEMO": "false"})
        stack.start()
        try:
            await stack.wait_ready()
            return stack
        except StackFailed:
            stack.kill_everything()
            logs = [p.read_text(errors="replace") for p in stack.data_dir.glob("logs/*.log")]
            if attempt == tries or "address already in use" not in "".join([stack.output(), *logs]):
                raise
    raise AssertionError("unreachable")
