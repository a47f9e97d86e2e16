"""How the dev stack starts each child: resolved settings, environment, command lines."""

from __future__ import annotations

import json
import os
import sys

from api.serving import UVICORN_OPTIONS
from devstack import binaries, search_attributes
from devstack.console import StackError
from devstack.dev_keys import gateway_secret
from settings import PROJECT_ROOT, Settings

# Set in the environment of every process we start, so that processes left behind by a
# supervisor that was killed outright (children run in their own sessions and survive it)
# can be found and stopped by the next run on the same data directory.
OWNER_ENV = "DEVSTACK_DATA_DIR"


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


def worker_metrics_address(settings: Settings) -> str:
    """host:port of the worker's Prometheus metrics: IME_WORKER_METRICS_ADDRESS, else loopback on
    the dev stack's own port."""
    return settings.worker_metrics_address or f"127.0.0.1:{settings.dev_worker_metrics_port}"


def worker_metrics_bind(settings: Settings) -> tuple[str, int]:
    """The host and port the worker's metrics server binds."""
    address = worker_metrics_address(settings)
    host, _, port = address.rpartition(":")
    if not port.isdigit():
        raise StackError(f"IME_WORKER_METRICS_ADDRESS must be host:port, got {address!r}")
    return host.strip("[]"), int(port)


def worker_metrics_url(settings: Settings) -> str:
    host, port = worker_metrics_bind(settings)
    host = client_host(host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/metrics"


def child_env(settings: Settings, database_url: str) -> dict[str, str]:
    """The supervisor's environment plus every setting, spelled out as IME_* variables.

    Passing all of them (not only the database URL) means the children see exactly what the
    supervisor resolved, even when it came from a `.env` file or a relative data dir.
    """
    env = dict(os.environ)
    for name, value in settings.model_dump(mode="json").items():
        if value is None:
            # Unset optional settings (TLS files) stay unset: "null" would name a file.
            env.pop(f"IME_{name.upper()}", None)
            continue
        env[f"IME_{name.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    env["IME_DATABASE_URL"] = database_url
    # Delivery stays on this machine: mail to the SMTP sink, pages to the local receiver, and
    # webhooks may point at loopback (a developer's own receiver).
    if not settings.paging_url:
        env["IME_PAGING_URL"] = f"http://127.0.0.1:{settings.dev_pager_port}/v2/enqueue"
    if not settings.webhook_allowed_networks:
        env["IME_WEBHOOK_ALLOWED_NETWORKS"] = json.dumps(["127.0.0.0/8", "::1/128"])
    # The worker's SDK metrics (task latencies, slots, cache) for a local Prometheus to scrape.
    env["IME_WORKER_METRICS_ADDRESS"] = worker_metrics_address(settings)
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
        # The UI decrypts payloads through the API's codec (the key ring stays in the API), by
        # way of the dev stack's codec gateway, which holds the SRE key the codec asks for.
        "--ui-codec-endpoint",
        gateway_url(settings),
        # No call home for a version check: the machine may be offline.
        "--dynamic-config-value",
        "frontend.enableServerVersionCheck=false",
        "--log-level",
        "warn",
        # Its lines in the same shape as every other child's (the CLI says `text` for ours).
        "--log-format",
        "json" if settings.log_format == "json" else "text",
    ]
    if settings.temporal_namespace != "default":
        argv += ["--namespace", settings.temporal_namespace]
    return argv + search_attributes.cli_flags()


def worker_argv(settings: Settings) -> list[str]:
    return [sys.executable, str(PROJECT_ROOT / "worker.py")]


def demo_argv(settings: Settings) -> list[str]:
    return [sys.executable, "-m", "devstack.demo"]


def dispatcher_argv(settings: Settings) -> list[str]:
    return [sys.executable, str(PROJECT_ROOT / "dispatcher.py")]


def mail_sink_argv(settings: Settings) -> list[str]:
    return [sys.executable, "-m", "devstack.mail_sink"]


def pager_argv(settings: Settings) -> list[str]:
    return [sys.executable, "-m", "devstack.pager"]


def gateway_argv(settings: Settings) -> list[str]:
    return [sys.executable, "-m", "devstack.codec_gateway"]


def gateway_url(settings: Settings) -> str:
    """The codec endpoint the Temporal UI calls: the gateway, under its secret path."""
    secret = gateway_secret(settings.data_dir)
    return f"http://127.0.0.1:{settings.gateway_port}/{secret}/codec"


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
        # Its limits on slow clients and large heads (api.serving; docs/operations.md).
        *UVICORN_OPTIONS,
    ]
