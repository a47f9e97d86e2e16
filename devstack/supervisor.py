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

This module is the orchestration; around it: `commands` (how each child is started),
`processes` (children, restarts, stopping), `guards` (pid file, leftovers, ports), `database`
(Postgres), `banner` (what is printed when ready), `console` (output and errors).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time

import httpx
from pydantic import ValidationError

from connections import connect_temporal, key_ring
from devstack import search_attributes
from devstack.banner import banner
from devstack.commands import (
    api_argv,
    api_url,
    child_env,
    demo_argv,
    dispatcher_argv,
    gateway_argv,
    mail_sink_argv,
    pager_argv,
    resolved,
    temporal_argv,
    worker_argv,
)
from devstack.console import StackError, complain, say, shell_path, tail
from devstack.database import DevDatabase
from devstack.dev_accounts import DevLogin
from devstack.guards import (
    PID_FILE,
    PidFile,
    check_ports,
    stop_leftovers,
)
from devstack.processes import Child
from observability.logs import configure_logging
from observability.process import setup
from settings import Settings

POLL_SECONDS = 1.0
TEMPORAL_START_TIMEOUT = 60.0
TEMPORAL_CONNECT_TIMEOUT = 5.0
# Generous: on a small machine the first run also runs initdb and the API imports a lot.
API_READY_TIMEOUT = 120.0
READY_PROBE_TIMEOUT = 2.0


class Supervisor:
    def __init__(self, settings: Settings) -> None:
        self.settings = resolved(settings)
        self.data_dir = self.settings.data_dir
        self.log_dir = self.data_dir / "logs"
        self.children: list[Child] = []  # in start order; stopped in reverse
        self.database = DevDatabase(self.data_dir / "pgdata")
        self.dev_keys: dict[str, str] = {}
        self.dev_logins: list[DevLogin] = []
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
        # Made once here, before the children that share it start.
        key_ring(self.settings)
        # Temporal boots while Postgres starts and migrates: the two are independent.
        self._start_child("temporal", temporal_argv(self.settings), child_env(self.settings, ""))
        database_url = await self.database.prepare(self.settings.database_url)
        self.dev_keys = await self.database.ensure_dev_keys(database_url, self.settings)
        self.dev_logins = await self.database.ensure_dev_accounts(database_url, self.settings)
        if self.stopping.is_set():
            return
        await self._wait_for_temporal()
        if self.stopping.is_set():
            return
        env = child_env(self.settings, database_url)
        self._start_child("worker", worker_argv(self.settings), env)
        self._start_child("api", api_argv(self.settings), env)
        self._start_child("codec-gateway", gateway_argv(self.settings), env)
        self._start_child("mail", mail_sink_argv(self.settings), env)
        self._start_child("pager", pager_argv(self.settings), env)
        self._start_child("dispatcher", dispatcher_argv(self.settings), env)
        await self._watch(database_url)

    def _start_child(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        child = Child(name, argv, env, self.log_dir / f"{name}.log")
        say(f"starting {name} (log: {shell_path(child.log_path)})", child=name)
        child.start()
        self.children.append(child)

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
                await self.database.check(now)
                if not ready:
                    ready = await self._probe(http, readyz)
                    if ready:
                        text = banner(self.settings, database_url, self.dev_keys, self.dev_logins)
                        print(text, flush=True)
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
        await self.database.stop()


def main() -> int:
    try:
        settings = Settings()
    except ValidationError as err:
        configure_logging("ime-devstack")
        complain(f"invalid IME_* settings:\n{err}")
        return 1
    setup(settings, "ime-devstack", temporal=True)
    try:
        return asyncio.run(Supervisor(settings).run())
    except StackError as err:  # raised before the supervisor took over (bad settings)
        complain(str(err))
        return 1
