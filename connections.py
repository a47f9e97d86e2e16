"""How every entry point reaches Temporal and Postgres, configured the same way."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from temporalio.api.common.v1 import Payload
from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    StartWorkflowUpdateInput,
    WorkflowUpdateHandle,
)
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from codec import KeyRing, Sealer, data_converter, dev_key_ring
from domain.envelope import HEADER, SigningKeys, UpdateCall, seal, sent_form
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


def signing_keys(settings: Settings) -> SigningKeys:
    return SigningKeys(settings.signing_keys())


async def _wall_clock() -> datetime:
    return datetime.now(UTC)


class ActionSigner(Interceptor):
    """Signs every Update its client sends (`domain.envelope`): the workers refuse an Update
    without the envelope. On the clients of the API and the CLI (`connect_temporal`), the only
    senders of actions. `clock`: when an envelope is signed (tests on the time-skipping server
    give its time)."""

    def __init__(
        self, keys: SigningKeys, clock: Callable[[], Awaitable[datetime]] = _wall_clock
    ) -> None:
        self.keys = keys
        self.clock = clock

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _SigningOutbound(next, self)


class _SigningOutbound(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, signer: ActionSigner) -> None:
        super().__init__(next)
        self._signer = signer

    async def start_workflow_update(
        self, input: StartWorkflowUpdateInput
    ) -> WorkflowUpdateHandle[Any]:
        # The id is chosen here when the caller gave none, so that it can be signed.
        input.update_id = input.update_id or str(uuid.uuid4())
        call = UpdateCall(
            workflow_id=input.id,
            update=input.update,
            update_id=input.update_id,
            args=[sent_form(arg) for arg in input.args],
        )
        envelope = seal(
            self._signer.keys, call, nonce=secrets.token_hex(16), now=await self._signer.clock()
        )
        header = Payload(metadata={"encoding": b"json/plain"}, data=envelope.to_json())
        input.headers = {**input.headers, HEADER: header}
        return await super().start_workflow_update(input)


async def connect_temporal(settings: Settings, runtime: Runtime | None = None) -> Client:
    tls = temporal_tls(settings)
    try:
        return await Client.connect(
            settings.temporal_address,
            namespace=settings.temporal_namespace,
            data_converter=data_converter(key_ring(settings)),
            tls=tls,
            api_key=settings.temporal_api_key or None,
            # The signer innermost: it signs what the others (tracing) leave of the call.
            interceptors=[*client_interceptors(settings), ActionSigner(signing_keys(settings))],
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
