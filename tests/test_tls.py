"""Mutual TLS to Temporal, for real: the dev server speaks no TLS, so a loopback proxy terminates
TLS in front of it (client certificate required, ALPN h2) with certificates from `deploy.certs`,
the generator the compose stack uses. The service's own `connect_temporal` connects through it."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.worker import Worker

from connections import ConfigurationError, connect_temporal
from deploy.certs import CertFiles, issue
from settings import Settings
from tests.helpers.config import TEST_CODEC_KEYS
from tests.helpers.stack import dev_address

CONNECT_TIMEOUT = 30


@workflow.defn(sandboxed=False)
class Greeter:
    """Holds a name until told to finish; answers a query meanwhile."""

    def __init__(self) -> None:
        self._name = ""
        self._done = False

    @workflow.run
    async def run(self, name: str) -> str:
        self._name = name
        await workflow.wait_condition(lambda: self._done)
        return f"bye {name}"

    @workflow.query
    def greeting(self) -> str:
        return f"hello {self._name}"

    @workflow.signal
    def finish(self) -> None:
        self._done = True


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(ConnectionError, ssl.SSLError, RuntimeError):
        writer.close()


@contextlib.asynccontextmanager
async def tls_proxy(upstream: str, files: CertFiles) -> AsyncIterator[str]:
    """Terminates TLS on a loopback port (a client certificate signed by the CA is required) and
    passes the bytes (gRPC over HTTP/2) on to the plaintext `upstream`."""
    host, port = upstream.rsplit(":", 1)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(files.ca))
    context.load_cert_chain(files.server_cert, files.server_key)
    context.verify_mode = ssl.CERT_REQUIRED
    context.set_alpn_protocols(["h2"])
    open_writers: set[asyncio.StreamWriter] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        open_writers.update((writer, up_writer))
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
    try:
        yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        for writer in open_writers:
            with contextlib.suppress(RuntimeError):
                writer.close()
        await server.wait_closed()


def tls_settings(
    address: str, ca: Path, client: CertFiles | None, server_name: str = "temporal"
) -> Settings:
    return Settings(
        temporal_address=address,
        codec_keys=TEST_CODEC_KEYS,
        temporal_tls=True,
        temporal_tls_ca_file=ca,
        temporal_tls_cert_file=client.client_cert if client else None,
        temporal_tls_key_file=client.client_key if client else None,
        temporal_tls_server_name=server_name,
    )


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    # The server certificate names only the compose service, not the 127.0.0.1 the proxy
    # listens on: connecting takes the server name setting.
    return issue(tmp_path_factory.mktemp("certs"), hosts=("temporal",))


@pytest.fixture
async def proxy(dev_env, certs: CertFiles) -> AsyncIterator[str]:
    async with tls_proxy(dev_address(dev_env), certs) as address:
        yield address


async def test_the_right_ca_and_client_certificate_run_a_workflow_through_tls(proxy, certs):
    client = await asyncio.wait_for(
        connect_temporal(tls_settings(proxy, certs.ca, certs)), CONNECT_TIMEOUT
    )
    task_queue = f"tls-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=task_queue, workflows=[Greeter]):
        handle = await client.start_workflow(
            Greeter.run, "claims", id=f"tls-{uuid.uuid4().hex}", task_queue=task_queue
        )
        assert await handle.query(Greeter.greeting) == "hello claims"
        await handle.signal(Greeter.finish)
        assert await handle.result() == "bye claims"


async def test_without_a_client_certificate_the_server_refuses(proxy, certs):
    with pytest.raises(ConfigurationError) as refused:
        await asyncio.wait_for(
            connect_temporal(tls_settings(proxy, certs.ca, None)), CONNECT_TIMEOUT
        )
    message = str(refused.value)
    assert f"cannot connect to Temporal at {proxy} over TLS" in message
    assert "no client certificate" in message
    assert "IME_TEMPORAL_TLS_CERT_FILE, IME_TEMPORAL_TLS_KEY_FILE" in message


async def test_a_server_certificate_from_another_ca_is_refused(proxy, certs, tmp_path):
    other = issue(tmp_path / "other")
    with pytest.raises(ConfigurationError) as refused:
        await asyncio.wait_for(
            connect_temporal(tls_settings(proxy, other.ca, certs)), CONNECT_TIMEOUT
        )
    message = str(refused.value)
    assert f"IME_TEMPORAL_TLS_CA_FILE={other.ca}" in message
    assert "InvalidCertificate" in message  # the transport's reason, kept


async def test_a_server_certificate_for_another_name_is_refused(proxy, certs):
    with pytest.raises(ConfigurationError, match="NotValidForName"):
        await asyncio.wait_for(
            connect_temporal(tls_settings(proxy, certs.ca, certs, server_name="")),
            CONNECT_TIMEOUT,
        )
