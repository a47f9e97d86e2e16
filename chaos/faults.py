"""The faults, each injected into a running dev stack while claims are in flight.

Each fault writes what it did, when, into a `FaultLog`: its actions, the window from the first
action to the end of the last, and the outages of a dependency it knows of (for the readiness
check). The supervisor restarts a killed child with a backoff and gives up (stopping the stack)
after 5 restarts of one child within 60 s; kills are spaced to stay inside that budget
(`Kills`), so the budget itself stays as `make run` has it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import psutil
from temporalio.client import Client

from chaos.checks import Outage
from chaos.receivers import WebhookReceiver
from chaos.stack import Stack, StackFailed, free_ports
from devstack.processes import MAX_RESTARTS_PER_WINDOW, RESTART_WINDOW_SECONDS
from settings import PROJECT_ROOT

RESTART_TIMEOUT = 60.0


@dataclass
class FaultLog:
    actions: list[tuple[float, str]] = field(default_factory=list)
    outages: list[Outage] = field(default_factory=list)
    start: float = 0.0
    end: float = 0.0

    def act(self, what: str) -> float:
        """A fault action: the window runs from the first to the last."""
        now = self.note(what)
        if len(self.actions) == 1 or not self.start:
            self.start = now
        self.end = now
        return now

    def note(self, what: str) -> float:
        """Something seen meanwhile (a restart), outside the window."""
        now = time.time()
        self.actions.append((now, what))
        return now


@dataclass
class Kills:
    """Kills per child within the supervisor's restart window: a kill waits while one more
    restart could exhaust the budget (one restart of margin)."""

    at: dict[str, list[float]] = field(default_factory=dict)

    async def allow(self, name: str) -> None:
        while True:
            now = time.monotonic()
            recent = [t for t in self.at.get(name, []) if now - t < RESTART_WINDOW_SECONDS + 5]
            self.at[name] = recent
            if len(recent) < MAX_RESTARTS_PER_WINDOW - 1:
                recent.append(now)
                return
            await asyncio.sleep(recent[0] + RESTART_WINDOW_SECONDS + 5 - now)


@dataclass
class Target:
    """What a fault acts on."""

    stack: Stack
    receiver: WebhookReceiver
    kills: Kills


@dataclass(frozen=True)
class Pace:
    """How hard and how long a fault hits: `times` kills `every` seconds apart, or an outage of
    `seconds`."""

    times: int = 1
    every: float = 12.0
    seconds: float = 20.0


Fault = Callable[[Target, FaultLog, Pace], Awaitable[None]]


async def kill_child(target: Target, log: FaultLog, name: str) -> None:
    """SIGKILL the supervisor's `name` child and wait for the supervisor to start a new one."""
    await target.kills.allow(name)
    victim = target.stack.child(name)
    log.act(f"SIGKILL {name}")
    victim.send_signal(signal.SIGKILL)
    await target.stack.wait_child(name, other_than=victim.pid, timeout=RESTART_TIMEOUT)
    log.note(f"{name} restarted by the supervisor")


async def _kill_repeatedly(target: Target, log: FaultLog, pace: Pace, name: str) -> None:
    for n in range(pace.times):
        started = time.monotonic()
        await kill_child(target, log, name)
        if n < pace.times - 1:
            await asyncio.sleep(max(0.0, pace.every - (time.monotonic() - started)))


async def worker_kill(target: Target, log: FaultLog, pace: Pace) -> None:
    """The worker, SIGKILLed again and again; the supervisor restarts it each time."""
    await _kill_repeatedly(target, log, pace, "worker")


async def api_kill(target: Target, log: FaultLog, pace: Pace) -> None:
    """The API process, SIGKILLed with requests in flight; the supervisor restarts it."""
    await _kill_repeatedly(target, log, pace, "api")


async def two_workers(target: Target, log: FaultLog, pace: Pace) -> None:
    """A second worker polls the same task queue (started before the claims); the stack's own
    worker is SIGKILLed mid-run and restarted by the supervisor. Workflow tasks cached on the
    killed one move to the other."""
    await asyncio.sleep(pace.every)  # both workers have claims in hand by then
    await _kill_repeatedly(target, log, pace, "worker")


async def temporal_kill(target: Target, log: FaultLog, pace: Pace) -> None:
    """The Temporal dev server, SIGKILLed and kept down for `pace.seconds` (the supervisor is
    paused meanwhile: it would restart it within a second), then restarted by the supervisor on
    the same SQLite file."""
    await target.kills.allow("temporal")
    victim = target.stack.child("temporal")
    with paused(target.stack):
        killed = log.act("SIGKILL temporal (supervisor paused)")
        victim.send_signal(signal.SIGKILL)
        await asyncio.sleep(pace.seconds)
        resumed = log.act("supervisor resumed: it restarts temporal")
    log.outages.append(Outage("temporal", killed, resumed))
    await _temporal_answers(target.stack.temporal_address)
    log.note("temporal answers again")


async def _temporal_answers(address: str) -> None:
    deadline = time.monotonic() + RESTART_TIMEOUT
    while time.monotonic() < deadline:
        try:
            client = await asyncio.wait_for(Client.connect(address), 2)
            await asyncio.wait_for(client.service_client.check_health(), 2)
            return
        except (TimeoutError, RuntimeError, OSError):
            await asyncio.sleep(0.2)
    raise StackFailed(f"Temporal did not come back within {RESTART_TIMEOUT:.0f} s")


@contextlib.contextmanager
def paused(stack: Stack) -> Iterator[None]:
    """The supervisor stopped (SIGSTOP) while its children run on: nothing is restarted."""
    assert stack.process is not None
    os.kill(stack.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(stack.process.pid, signal.SIGCONT)


def _postgres(stack: Stack) -> list[psutil.Process]:
    postmaster = stack.postgres()
    if postmaster is None:
        raise StackFailed("the embedded Postgres is not running")
    return [postmaster, *postmaster.children(recursive=True)]


async def postgres_freeze(target: Target, log: FaultLog, pace: Pace) -> None:
    """SIGSTOP to the postmaster and every backend (a stalled disk, a paused VM), then SIGCONT."""
    processes = _postgres(target.stack)
    stopped = log.act(f"SIGSTOP postgres ({len(processes)} processes)")
    for process in processes:
        process.send_signal(signal.SIGSTOP)
    try:
        await asyncio.sleep(pace.seconds)
    finally:
        resumed = log.act("SIGCONT postgres")
        for process in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGCONT)
    log.outages.append(Outage("postgres", stopped, resumed))


async def postgres_restart(target: Target, log: FaultLog, pace: Pace) -> None:
    """A fast shutdown of Postgres (SIGINT to the postmaster: connections are cut, transactions
    in flight roll back) and a start again on the same data directory by the supervisor, which
    revives a vanished postmaster. It would do so within a second: it is paused meanwhile (its
    children run on), so that Postgres stays down for `pace.seconds`."""
    postmaster = _postgres(target.stack)[0]
    with paused(target.stack):
        log.act("fast shutdown of postgres (supervisor paused)")
        postmaster.send_signal(signal.SIGINT)
        await asyncio.to_thread(postmaster.wait, 30)
        gone = log.note("postgres stopped")
        await asyncio.sleep(pace.seconds)
        resumed = log.act("supervisor resumed: it starts postgres again")
    log.outages.append(Outage("postgres", gone, resumed))
    deadline = time.monotonic() + RESTART_TIMEOUT
    while target.stack.postgres() is None:
        target.stack.check_running()
        if time.monotonic() > deadline:
            raise StackFailed(f"Postgres was not started again:\n{target.stack.output()}")
        await asyncio.sleep(0.2)
    log.note("postgres running again")


async def delivery_outage(target: Target, log: FaultLog, pace: Pace) -> None:
    """The insurer's endpoint answers 503 and the mail relay stops answering (SIGSTOP: every
    send times out) for `pace.seconds`; then both recover."""
    sink = target.stack.child("mail")
    log.act("webhook endpoint answers 503; mail relay stopped (SIGSTOP)")
    target.receiver.failing = True
    sink.send_signal(signal.SIGSTOP)
    try:
        await asyncio.sleep(pace.seconds)
    finally:
        log.act("webhook endpoint and mail relay back")
        sink.send_signal(signal.SIGCONT)
        target.receiver.failing = False


def spawn_worker(stack: Stack, name: str) -> subprocess.Popen[bytes]:
    """Another worker on the stack's task queue, with the environment of the stack's own (its
    metrics on a port of its own)."""
    env = stack.child("worker").environ()
    env["IME_WORKER_METRICS_ADDRESS"] = f"127.0.0.1:{free_ports(1)[0]}"
    log_path = stack.data_dir / "logs" / f"{name}.log"
    with log_path.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, str(PROJECT_ROOT / "worker.py")],
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@dataclass(frozen=True)
class Scenario:
    name: str
    fault: Fault
    pace: Pace
    # A second worker on the task queue for the whole scenario (started before the claims).
    second_worker: bool = False

    def span(self, pace: Pace | None = None) -> float:
        """About how long the fault lasts, so that claims keep starting until its end."""
        p = pace or self.pace
        match self.name:
            case "worker-kill" | "api-kill":
                return (p.times - 1) * p.every + 3
            case "two-workers":
                return p.times * p.every + 3
        return p.seconds + 3

    def describe(self, pace: Pace | None = None) -> str:
        p = pace or self.pace
        match self.name:
            case "worker-kill" | "api-kill":
                what = self.name.split("-")[0]
                return f"SIGKILL the {what} {p.times} times, {p.every:.0f} s apart"
            case "two-workers":
                return f"a second worker on the queue; the stack's worker SIGKILLed {p.times}x"
            case "temporal-kill":
                return (
                    f"SIGKILL the Temporal dev server, down {p.seconds:.0f} s, restarted on "
                    "its SQLite file"
                )
            case "postgres-freeze":
                return f"SIGSTOP Postgres and its backends for {p.seconds:.0f} s"
            case "postgres-restart":
                return f"fast shutdown of Postgres, down {p.seconds:.0f} s, started again"
            case "delivery-outage":
                return f"webhook endpoint answers 503, mail relay stopped, for {p.seconds:.0f} s"
        return self.name


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("worker-kill", worker_kill, Pace(times=4, every=10.0)),
        Scenario("two-workers", two_workers, Pace(times=1, every=6.0), second_worker=True),
        Scenario("temporal-kill", temporal_kill, Pace(seconds=10.0)),
        Scenario("postgres-freeze", postgres_freeze, Pace(seconds=25.0)),
        Scenario("postgres-restart", postgres_restart, Pace(seconds=12.0)),
        Scenario("delivery-outage", delivery_outage, Pace(seconds=30.0)),
        Scenario("api-kill", api_kill, Pace(times=3, every=10.0)),
    )
}
