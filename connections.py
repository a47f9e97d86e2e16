"""How every entry point reaches Temporal and Postgres, configured the same way."""

from __future__ import annotations

from pathlib import Path

import asyncpg
from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from codec import KeyRing, Sealer, data_converter, dev_key_ring
from observability.temporal import client_interceptors
from settings import Settings
from store.db import create_pool
from store.embedded import running_url


class ConfigurationError(RuntimeError):
    pass


def key_ring(settings: Settings) -> KeyRing:
    if settings.codec_keys:
        return KeyRing.parse(settings.codec_keys, settings.codec_active_key)
    return dev_key_ring(settings.data_dir / "codec-keys.json")


def sealer(settings: Settings) -> Sealer:
    return Sealer(key_ring(settings))


async def connect_temporal(settings: Settings, runtime: Runtime | None = None) -> Client:
    tls = temporal_tls(settings)
    try:
        return await Client.connect(
            settings.temporal_address,
            namespace=settings.temporal_namespace,
            data_converter=data_converter(key_ring(settings)),
            tls=tls,
            api_key=settings.temporal_api_key or None,
            interceptors=client_interceptors(settings),
            runtime=runtime,
        )
    except RuntimeError as err:
        if tls is False:
            raise
        # The transport's own words ("transport error", "BadSignature") do not say which
        # setting to look at; this does.
        raise ConfigurationError(_tls_failure(settings, err)) from err


def temporal_tls(settings: Settings) -> TLSConfig | bool:
    """TLS to Temporal as configured: off (False), or verified against the CA file (else the
    system's roots), with the client certificate for mutual TLS. The files are read at each
    connect, so a restarted process picks up rotated certificates."""
    if not settings.temporal_tls_enabled:
        return False
    return TLSConfig(
        server_root_ca_cert=_read(settings.temporal_tls_ca_file),
        client_cert=_read(settings.temporal_tls_cert_file),
        client_private_key=_read(settings.temporal_tls_key_file),
        domain=settings.temporal_tls_server_name or None,
    )


def _read(path: Path | None) -> bytes | None:
    return path.read_bytes() if path is not None else None


def _tls_failure(settings: Settings, err: RuntimeError) -> str:
    ca = settings.temporal_tls_ca_file
    cert = settings.temporal_tls_cert_file
    used = [
        f"IME_TEMPORAL_TLS_CA_FILE={ca}" if ca else "the system's CA roots",
        f"IME_TEMPORAL_TLS_CERT_FILE={cert}" if cert else "no client certificate",
    ]
    if settings.temporal_tls_server_name:
        used.append(f"IME_TEMPORAL_TLS_SERVER_NAME={settings.temporal_tls_server_name}")
    if settings.temporal_api_key:
        used.append("IME_TEMPORAL_API_KEY")
    return (
        f"cannot connect to Temporal at {settings.temporal_address} over TLS "
        f"({', '.join(used)}): {err}. A server that requires mutual TLS closes the connection "
        "without a client certificate its CA signed (IME_TEMPORAL_TLS_CERT_FILE, "
        "IME_TEMPORAL_TLS_KEY_FILE); a certificate error means the server's certificate is not "
        "signed by IME_TEMPORAL_TLS_CA_FILE or does not name IME_TEMPORAL_TLS_SERVER_NAME (by "
        "default the address's host)"
    )


def database_url(settings: Settings) -> str:
    """IME_DATABASE_URL, or else the embedded Postgres that `make run` keeps under the data dir."""
    if settings.database_url:
        return settings.database_url
    url = running_url(settings.data_dir / "pgdata")
    if url is None:
        raise ConfigurationError(
            "IME_DATABASE_URL is not set and no embedded Postgres is running (start `make run`)"
        )
    return url


async def open_pool(settings: Settings) -> asyncpg.Pool:
    return await create_pool(
        database_url(settings),
        min_size=settings.database_pool_min,
        max_size=settings.database_pool_max,
        statement_timeout=settings.database_statement_timeout_seconds,
        connect_timeout=settings.database_acquire_timeout_seconds,
    )
