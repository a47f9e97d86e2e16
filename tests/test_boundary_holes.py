"""The holes an outside probe of the HTTP boundary found, each closed at its root (issue 16):

1. SSRF: IPv6 forms embedding an IPv4 address refused everywhere; a send connects to the address
   it checked (a rebinding name cannot move it), keeping the name for TLS and `Host`; what is
   recorded of a failed send is a fixed category.
2. Unknown API keys: remembered in a bounded, expiring cache; failed authentications limited per
   client address (429 with Retry-After), successful ones never.
3. Slow clients: request heads and bodies bounded in time, as `make run` and compose serve the API.
4. A 422 never names a field the caller made up.
5. `X-Request-ID` is taken only as a UUID or hex, else replaced.
6. The dev codec gateway: loopback `Host` only, under a secret path.
7. Every HTML answer refuses to be framed.
8. Webhook URLs stored normalised; userinfo, port 0, whitespace, control characters, fragments
   refused.
9. An examiner's appointment request leaves their inbox when the appointment is released.

Everything stays on loopback: names resolve through stand-in resolvers.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import re
import secrets
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from uvicorn.main import main as uvicorn_cli

from api.auth import Authenticator
from delivery.channels import Channels, NotDelivered
from delivery.ssrf import UrlRefused, check_url
from devstack.commands import api_argv
from domain.errors import Unauthenticated
from domain.keys import new_key
from domain.names import Role
from settings import PROJECT_ROOT, Settings, get_settings
from store import api_keys
from tests.helpers.app import ApiHarness
from tests.helpers.config import make_settings
from tests.helpers.processes import free_port
from tests.helpers.referrals import referral_payload
from tests.helpers.stack import dev_address
from tests.helpers.walk import Parties, post_action, wait_until

# --------------------------------------------------------------------------- shared pieces


def resolving(*addresses: str):
    async def resolve(host: str, port: int):
        return [ipaddress.ip_address(a) for a in addresses]

    return resolve


@contextlib.asynccontextmanager
async def serving_on(
    app, host: str, port: int, tls: tuple[Path, Path] | None = None
) -> AsyncIterator[None]:
    """`app` served by uvicorn on `host:port` (loopback), in this process; over TLS with
    `tls` (certificate, key)."""
    cert, key = tls or (None, None)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="error",
        access_log=False,
        log_config=None,
        ssl_certfile=cert,
        ssl_keyfile=key,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            await asyncio.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        await task


class Recorder:
    """A webhook receiver that keeps the `Host` of each request and answers `status`."""

    def __init__(self, status: int = 200) -> None:
        self.hosts: list[str] = []
        self.status = status

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            await request.body()
            self.hosts.append(request.headers.get("host", ""))
            return JSONResponse({"ok": True}, status_code=self.status)

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


def dev_settings(**overrides) -> Settings:
    """Development settings (plain http allowed) for Channels, with `overrides`."""
    return Settings(webhook_allowed_networks=[]).model_copy(update=overrides)


def event() -> dict:
    return {"id": f"msg_{secrets.token_hex(8)}", "type": "claim.created", "data": {}}


SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
async def app_on(dev_env, database_url, task_queue, pool):
    """`app_on(**settings)`: the real app (lifespan, no worker) with settings of its own."""
    from api.app import create_app

    opened: list[contextlib.AbstractAsyncContextManager] = []

    async def make(**overrides) -> ApiHarness:
        settings = make_settings(database_url, task_queue, dev_address(dev_env)).model_copy(
            update=overrides
        )
        app = create_app(settings)
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        opened.append(lifespan)
        return ApiHarness(app, pool, settings)

    yield make
    for lifespan in reversed(opened):
        await lifespan.__aexit__(None, None, None)


# --------------------------------------------------------------------------- 1. SSRF

EMBEDDED_OR_DEPRECATED = [
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b:1::a9fe:a9fe",  # NAT64 local use
    "2002:a9fe:a9fe::1",  # 6to4
    "::a9fe:a9fe",  # IPv4-compatible
    "::ffff:a9fe:a9fe",  # IPv4-mapped
    "::ffff:5db8:d822",  # IPv4-mapped of a public address: refused all the same
    "::ffff:0:a9fe:a9fe",  # IPv4-translated
    "2001:0:a9fe:a9fe::1",  # Teredo
    "fec0::1",  # site-local
]


@pytest.mark.parametrize("address", EMBEDDED_OR_DEPRECATED)
async def test_ipv6_forms_embedding_ipv4_are_refused_in_every_environment(address: str):
    production = {"allow_http": False, "resolve": resolving(address)}
    with pytest.raises(UrlRefused, match="loopback, private"):
        await check_url("https://hooks.insurer.example/x", **production)
    # Whatever an allow-list says (development allows loopback; even "everything").
    everything = [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
    with pytest.raises(UrlRefused):
        await check_url(
            "http://hooks.insurer.example/x",
            allow_http=True,
            allowed=everything,
            resolve=resolving(address),
        )


async def test_public_ipv6_and_dev_loopback_still_pass():
    await check_url("https://h.example/x", allow_http=False, resolve=resolving("2606:4700::1111"))
    loopback = [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")]
    for address in ("127.0.0.1", "::1"):
        await check_url(
            "http://localhost/x", allow_http=True, allowed=loopback, resolve=resolving(address)
        )


@pytest.mark.parametrize(
    "literal", ["64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::1", "::ffff:7f00:1", "fec0::1"]
)
async def test_the_api_refuses_an_embedded_ipv4_literal(api_client, literal: str):
    answer = await api_client.post(
        "/v1/webhooks", json={"url": f"https://[{literal}]/hook", "insurer_id": "acme-ins"}
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["details"][0]["field"] == "url"


@pytest.fixture
def staged_dns(monkeypatch) -> Iterator[dict[str, list[str]]]:
    """Stands in for DNS below every resolver of the process (`socket.getaddrinfo`): a name in
    the returned dict answers its next staged address at each lookup (the last one repeats)."""
    answers: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if name in answers:
            staged = answers[name]
            address = staged.pop(0) if len(staged) > 1 else staged[0]
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port)))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield answers


def port_free_on(*hosts: str) -> int:
    for _ in range(50):
        port = free_port()
        try:
            for host in hosts:
                with socket.socket() as probe:
                    probe.bind((host, port))
        except OSError:
            continue
        return port
    raise AssertionError("no port free on every address")


async def test_a_send_connects_to_the_address_it_checked_not_where_the_name_moved(staged_dns):
    """DNS rebinding: the name resolves to an allowed address when checked and to another (an
    internal service, here 127.0.0.2) a moment later. The webhook goes to the checked address,
    with the name in `Host`; the internal service sees nothing."""
    checked, internal = Recorder(), Recorder()
    port = port_free_on("127.0.0.1", "127.0.0.2")
    staged_dns["hooks.rebind.test"] = ["127.0.0.1", "127.0.0.2"]
    settings = dev_settings(webhook_allowed_networks=["127.0.0.1/32"])
    async with (
        serving_on(checked.app(), "127.0.0.1", port),
        serving_on(internal.app(), "127.0.0.2", port),
        httpx.AsyncClient(timeout=5) as http,
    ):
        channels = Channels(settings, http)
        with contextlib.suppress(NotDelivered):
            await channels.webhook(f"http://hooks.rebind.test:{port}/hook", SECRET, event())
        if hasattr(channels, "aclose"):
            await channels.aclose()
    assert internal.hosts == []
    assert checked.hosts == [f"hooks.rebind.test:{port}"]


async def test_a_name_resolving_to_a_refused_address_is_not_connected_to(staged_dns):
    internal = Recorder()
    port = port_free_on("127.0.0.2")
    staged_dns["hooks.internal.test"] = ["127.0.0.2"]
    settings = dev_settings(webhook_allowed_networks=["127.0.0.1/32"])
    async with serving_on(internal.app(), "127.0.0.2", port), httpx.AsyncClient() as http:
        channels = Channels(settings, http)
        with pytest.raises(NotDelivered) as refused:
            await channels.webhook(f"http://hooks.internal.test:{port}/hook", SECRET, event())
        if hasattr(channels, "aclose"):
            await channels.aclose()
    assert internal.hosts == []
    assert refused.value.reason == "refused: not a public address (SSRF guard)"


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory) -> Path:
    from deploy.certs import issue

    directory = tmp_path_factory.mktemp("webhook-tls")
    issue(directory, hosts=("hooks.insurer.test",))
    return directory


async def test_tls_checks_the_name_while_connecting_to_the_checked_address(tls_files: Path):
    """The certificate names `hooks.insurer.test` only: the send connects to 127.0.0.1 (the
    address the stand-in resolver gave, and the guard checked) and still verifies the name
    (SNI and the certificate's check) and sends it as `Host`. Another name on the same address
    fails as a TLS error."""
    from delivery.ssrf import guarded_client

    receiver = Recorder()
    port = free_port()
    trust = ssl.create_default_context(cafile=str(tls_files / "ca.pem"))
    loopback = [ipaddress.ip_network("127.0.0.1/32")]
    tls = (tls_files / "server.pem", tls_files / "server.key")
    async with (
        serving_on(receiver.app(), "127.0.0.1", port, tls),
        guarded_client(loopback, timeout=5, resolve=resolving("127.0.0.1"), verify=trust) as hooks,
        httpx.AsyncClient() as http,
    ):
        channels = Channels(Settings(env="development"), http, webhooks=hooks)
        await channels.webhook(f"https://hooks.insurer.test:{port}/hook", SECRET, event())
        assert receiver.hosts == [f"hooks.insurer.test:{port}"]
        with pytest.raises(NotDelivered) as failed:
            await channels.webhook(f"https://other.insurer.test:{port}/hook", SECRET, event())
        assert failed.value.reason == "TLS error"
    assert len(receiver.hosts) == 1


async def test_a_failed_send_is_recorded_as_a_fixed_category_only():
    """No exception text, no address, nothing that tells an open port from a closed one beyond
    the category."""
    failing = Recorder(status=500)
    port, closed = free_port(), free_port()
    settings = dev_settings(webhook_allowed_networks=["127.0.0.0/8"])
    reasons = []
    async with serving_on(failing.app(), "127.0.0.1", port), httpx.AsyncClient() as http:
        channels = Channels(settings, http)
        for url in (
            f"http://127.0.0.1:{port}/hook",
            f"http://127.0.0.1:{closed}/hook",
            "http://10.0.0.1/hook",
            "http://[::ffff:a9fe:a9fe]/hook",
        ):
            with pytest.raises(NotDelivered) as failed:
                await channels.webhook(url, SECRET, event())
            reasons.append(failed.value.reason)
        if hasattr(channels, "aclose"):
            await channels.aclose()
    refused = "refused: not a public address (SSRF guard)"
    assert reasons == ["HTTP 500", "connection failed", refused, refused]


async def test_a_send_that_hangs_is_recorded_as_a_timeout():
    from delivery.ssrf import guarded_client

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)  # accepts and never answers
        writer.close()

    hanging = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = hanging.sockets[0].getsockname()[1]
    loopback = [ipaddress.ip_network("127.0.0.0/8")]
    async with httpx.AsyncClient() as http, guarded_client(loopback, timeout=0.5) as quick:
        channels = Channels(dev_settings(), http, webhooks=quick)
        with pytest.raises(NotDelivered) as failed:
            await channels.webhook(f"http://127.0.0.1:{port}/hook", SECRET, event())
    hanging.close()
    assert failed.value.reason == "timeout"


# --------------------------------------------------------------------------- 2. unknown keys


def unknown_key() -> str:
    return new_key()[1]


async def test_unknown_key_ids_are_remembered_in_a_bounded_expiring_cache(
    pool, database_url, task_queue, monkeypatch
):
    settings = make_settings(database_url, task_queue).model_copy(
        update={"api_key_cache_seconds": 0.3}
    )
    lookups: list[str] = []
    find = api_keys.find

    async def counted(conn, key_id):
        lookups.append(key_id)
        return await find(conn, key_id)

    monkeypatch.setattr(api_keys, "find", counted)
    authenticator = Authenticator(pool, settings, unknown_keys_cached=8)
    for _ in range(40):
        with pytest.raises(Unauthenticated):
            await authenticator.from_bearer(f"Bearer {unknown_key()}")
    assert authenticator.cached() == (0, 8)  # 40 made-up ids, 8 remembered at most
    assert len(lookups) == 40

    repeated = unknown_key()
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            await authenticator.from_bearer(f"Bearer {repeated}")
    assert len(lookups) == 41  # remembered: one lookup
    await asyncio.sleep(0.35)
    with pytest.raises(Unauthenticated):
        await authenticator.from_bearer(f"Bearer {repeated}")
    assert len(lookups) == 42  # forgotten after the cache period: a key made since would work
    await authenticator.close()


async def test_failed_authentications_are_limited_per_address_and_success_never(
    app_on, monkeypatch
):
    api = await app_on(auth_failure_limit=5, auth_failure_window_seconds=60)
    good = await api.key(Role.OPS)
    attacker = httpx.ASGITransport(app=api.app, client=("198.51.100.7", 40000))
    neighbour = httpx.ASGITransport(app=api.app, client=("198.51.100.8", 40000))

    def client(transport, key: str | None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.AsyncClient(transport=transport, base_url="http://api", headers=headers)

    async with client(neighbour, good) as http:  # the key in use (so this process knows it)
        assert (await http.get("/v1/claims")).status_code == 200
    statuses = []
    for _ in range(5):
        async with client(attacker, unknown_key()) as http:
            statuses.append((await http.get("/v1/claims")).status_code)
    assert statuses == [401] * 5

    lookups: list[str] = []
    find = api_keys.find

    async def counted(conn, key_id):
        lookups.append(key_id)
        return await find(conn, key_id)

    monkeypatch.setattr(api_keys, "find", counted)
    for key in (unknown_key(), "not-a-key", None):
        async with client(attacker, key) as http:
            answer = await http.get("/v1/claims")
        assert answer.status_code == 429, answer.text
        assert int(answer.headers["retry-after"]) >= 1
        assert answer.json()["error"]["code"] == "too_many_requests"
        assert set(answer.json()["error"]) == {"code", "message", "details"}
    assert lookups == []  # a limited address's made-up ids cost no lookup

    # Success is never limited (the same address, a key in use), nor is the neighbour.
    async with client(attacker, good) as http:
        for _ in range(10):
            assert (await http.get("/v1/claims")).status_code == 200
    async with client(neighbour, unknown_key()) as http:
        assert (await http.get("/v1/claims")).status_code == 401


# --------------------------------------------------------------------------- 3. slow clients

HELD = 6.0  # how long a slow client may hold a connection before the test calls it a hole


@pytest.fixture
async def served_api(dev_env, database_url, task_queue, pool, monkeypatch):
    """The API served by uvicorn on loopback with the options `make run` passes (parsed from
    `devstack.commands.api_argv`), heads and bodies bounded to 1 s; yields its port and a key."""
    from api.app import create_app

    monkeypatch.setenv("IME_REQUEST_HEAD_TIMEOUT_SECONDS", "1")
    get_settings.cache_clear()
    port = free_port()
    settings = make_settings(database_url, task_queue, dev_address(dev_env)).model_copy(
        update={"request_body_timeout_seconds": 1.0, "api_port": port}
    )
    argv = api_argv(settings)
    options = uvicorn_cli.make_context("uvicorn", argv[argv.index("uvicorn") + 1 :]).params
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        http=options["http"],
        timeout_keep_alive=options["timeout_keep_alive"],
        h11_max_incomplete_event_size=options["h11_max_incomplete_event_size"],
        timeout_graceful_shutdown=2,
        log_config=None,
        log_level="warning",
    )
    _, key = await api_keys.create(pool, settings.api_key_secret, role=Role.OPS, name="slow")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(30):
            while not server.started:
                await asyncio.sleep(0.05)
        yield port, key
    finally:
        server.should_exit = True
        await task
        get_settings.cache_clear()


async def held_for(port: int, first: bytes, drip: bytes) -> tuple[float | None, bytes]:
    """Send `first`, then one `drip` every 0.2 s; (seconds until the server closed the
    connection, or None if it was still open after HELD; what it answered)."""
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = loop.time()
    writer.write(first)

    async def dripping() -> None:
        with contextlib.suppress(OSError):
            while True:
                await writer.drain()
                await asyncio.sleep(0.2)
                writer.write(drip)

    dripper = asyncio.create_task(dripping())
    received = b""
    try:
        async with asyncio.timeout(HELD):
            with contextlib.suppress(OSError):
                while chunk := await reader.read(4096):
                    received += chunk
        return loop.time() - started, received
    except TimeoutError:
        return None, received
    finally:
        dripper.cancel()
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def test_slow_heads_and_slow_bodies_are_cut_off(served_api):
    port, key = served_api
    head = b"GET /v1/claims HTTP/1.1\r\nHost: api\r\n"
    body_head = (
        f"POST /v1/claims HTTP/1.1\r\nHost: api\r\nAuthorization: Bearer {key}\r\n"
        "Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"
    ).encode()
    unauthenticated = (
        b"POST /v1/claims HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
        b"Content-Length: 5000\r\n\r\n{"
    )
    results = await asyncio.gather(
        *(held_for(port, head, b"X") for _ in range(3)),  # headers a byte at a time
        *(held_for(port, body_head, b" ") for _ in range(3)),  # a body a byte at a time
        held_for(port, unauthenticated, b" "),  # 401 at once, then a body nobody reads
        held_for(port, b"", b"G"),  # not even a request line
    )
    for seconds, _ in results:
        assert seconds is not None, "a slow client still held its connection"
        assert seconds < 4
    for _, answer in results[3:6]:
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b'"request_timeout"' in answer
    assert results[6][1].startswith(b"HTTP/1.1 401")
    # A head that grows past 16 KiB without ending is refused at once, not buffered on.
    seconds, answer = await held_for(port, head + b"X-Big: " + b"a" * 20_000, b"a")
    assert seconds is not None and seconds < 1 and answer.startswith(b"HTTP/1.1 400"), answer
    # Meanwhile the API answers everyone else.
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        ok = await http.get("/v1/claims", headers={"Authorization": f"Bearer {key}"})
        assert ok.status_code == 200


def test_every_place_that_serves_the_api_passes_its_limits():
    import yaml

    from api.serving import UVICORN_OPTIONS

    argv = api_argv(Settings())
    assert list(UVICORN_OPTIONS) == argv[-len(UVICORN_OPTIONS) :]
    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    command = compose["services"]["api"]["command"]
    assert list(UVICORN_OPTIONS) == command[-len(UVICORN_OPTIONS) :]
    assert "buffering" in (PROJECT_ROOT / "docs" / "operations.md").read_text()


# --------------------------------------------------------------------------- 4. unknown fields

MADE_UP = "JaneRoe_1980_04_02_" + "x" * 300


async def test_a_422_says_unknown_field_without_its_name(api: ApiHarness, api_client):
    referral = referral_payload("DEMO") | {MADE_UP: 1}
    referral["claimant"] = referral["claimant"] | {MADE_UP + "2": "y"}
    answer = await api_client.post("/v1/claims", json=referral)
    assert answer.status_code == 422, answer.text
    assert "JaneRoe" not in answer.text
    fields = {d["field"] for d in answer.json()["error"]["details"]}
    assert fields == {"(unknown field)", "claimant.(unknown field)"}
    assert {d["type"] for d in answer.json()["error"]["details"]} == {"extra_forbidden"}
    for route, body in (
        ("/v1/webhooks", {"url": "http://localhost/hook", MADE_UP: 1}),
        ("/v1/examiners", {"id": "ex-x", MADE_UP: 1}),
    ):
        answer = await api_client.post(route, json=body)
        assert answer.status_code == 422, answer.text
        assert "JaneRoe" not in answer.text, route
        assert "(unknown field)" in {d["field"] for d in answer.json()["error"]["details"]}


# --------------------------------------------------------------------------- 5. request ids


async def test_a_request_id_is_kept_only_when_it_is_a_uuid_or_hex(api_client):
    kept = ["5b2f0c1e-3d4a-4b6c-8d9e-0a1b2c3d4e5f", "ABCDEF0123", "a" * 64]
    replaced = ["logs-e2e-create", "a" * 65, "<script>", "x" * 64, "5b2f0c1e 3d4a", "12.34"]
    for sent in kept:
        answer = await api_client.get("/healthz", headers={"X-Request-ID": sent})
        assert answer.headers["x-request-id"] == sent
    for sent in replaced:
        answer = await api_client.get("/healthz", headers={"X-Request-ID": sent})
        echoed = answer.headers["x-request-id"]
        assert echoed != sent and re.fullmatch(r"[0-9a-f]{32}", echoed), (sent, echoed)


# --------------------------------------------------------------------------- 6. codec gateway


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, list[str], Settings]]:
    """The gateway in this process, forwarding to a stand-in API on loopback that keeps the
    `Authorization` it was sent."""
    from devstack.codec_gateway import create_gateway

    seen: list[str] = []

    async def codec(request: Request) -> Response:
        seen.append(request.headers.get("authorization", ""))
        return JSONResponse(await request.json())

    api_port = free_port()
    (tmp_path / "dev-keys.json").write_text(json.dumps({"keys": {"SRE_KEY": "imek_sre"}}))
    settings = Settings(data_dir=tmp_path, api_port=api_port, codec_gateway_port=18235)
    stand_in = Starlette(routes=[Route("/codec/{op}", codec, methods=["POST"])])
    async with (
        serving_on(stand_in, "127.0.0.1", api_port),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_gateway(settings)),
            base_url="http://127.0.0.1:18235",
        ) as http,
    ):
        yield http, seen, settings


async def test_the_codec_gateway_answers_loopback_hosts_under_its_secret_path_only(gateway):
    http, seen, settings = gateway
    payloads: dict[str, list] = {"payloads": []}
    assert (await http.post("/codec/decode", json=payloads)).status_code == 404  # no secret
    secret_file = settings.data_dir / "codec-gateway-secret"
    secret = secret_file.read_text().strip() if secret_file.exists() else None
    assert secret and len(secret) >= 32
    for host in ("127.0.0.1:18235", "localhost:18235", "[::1]:18235", "localhost"):
        answer = await http.post(f"/{secret}/codec/decode", json=payloads, headers={"host": host})
        assert answer.status_code == 200, (host, answer.text)
    assert seen == ["Bearer imek_sre"] * 4
    # A page whose name was rebound to 127.0.0.1 sends its own name; the path must be known.
    for host in ("evil.example:18235", "127.0.0.1.evil.example", "localhost.evil:18235"):
        answer = await http.post(f"/{secret}/codec/decode", json=payloads, headers={"host": host})
        assert answer.status_code == 403, host
    for path in (f"/{secret}x/codec/decode", f"/{secret}/codec/session"):
        assert (await http.post(path, json=payloads)).status_code == 404, path
    assert len(seen) == 4


def test_make_run_hands_the_secret_path_to_the_ui_and_prints_it(tmp_path: Path):
    from devstack.banner import banner
    from devstack.commands import temporal_argv
    from devstack.dev_keys import read_gateway_secret

    settings = Settings(data_dir=tmp_path, codec_gateway_port=18235)
    argv = temporal_argv(settings)
    endpoint = argv[argv.index("--ui-codec-endpoint") + 1]
    secret = read_gateway_secret(tmp_path)
    assert endpoint == f"http://127.0.0.1:18235/{secret}/codec"
    assert (tmp_path / "codec-gateway-secret").stat().st_mode & 0o077 == 0
    assert endpoint in banner(settings, "", {})
    assert temporal_argv(settings) == argv  # kept: the same on the next run


# --------------------------------------------------------------------------- 7. anti-framing


async def test_every_html_answer_refuses_framing(api: ApiHarness):
    http = api.client(None)
    for path in ("/docs", "/docs/oauth2-redirect", "/redoc", "/codec/sign-in"):
        answer = await http.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["content-type"].startswith("text/html"), path
        assert answer.headers["x-frame-options"] == "DENY", path
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"], path


# --------------------------------------------------------------------------- 8. webhook URLs


async def test_webhook_urls_are_stored_normalised(api_client):
    made = await api_client.post(
        "/v1/webhooks", json={"url": "HTTP://LocalHost:80/Hook?x=1", "insurer_id": "acme-ins"}
    )
    assert made.status_code == 201, made.text
    assert made.json()["url"] == "http://localhost/Hook?x=1"
    listed = await api_client.get("/v1/webhooks", params={"insurer_id": "acme-ins"})
    assert [h["url"] for h in listed.json()] == ["http://localhost/Hook?x=1"]


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:0/hook",
        "http://@localhost/hook",
        "http://user:@localhost/hook",
        "http://localhost/ho ok",
        "http://localhost/hook\n",
        " http://localhost/hook",
        "http://localhost/hook\t",
        "http://localhost/hook#frag",
        "http://localhost/hook#",
        "http://localhost\\@127.0.0.1/hook",
        "http://local\u200bhost/hook",
    ],
)
async def test_webhook_urls_with_userinfo_port_0_spaces_controls_or_fragments_are_refused(
    api_client, url: str
):
    answer = await api_client.post("/v1/webhooks", json={"url": url, "insurer_id": "acme-ins"})
    assert answer.status_code == 422, (url, answer.text)
    assert (await api_client.get("/v1/webhooks")).json() == []


def test_normalising_a_url():
    from delivery.ssrf import normalise_url

    assert normalise_url("HTTPS://Hooks.Insurer.EXAMPLE:443/x", allow_http=False) == (
        "https://hooks.insurer.example/x"
    )
    assert normalise_url("https://bücher.example:8443", allow_http=False) == (
        "https://xn--bcher-kva.example:8443/"
    )
    assert normalise_url("https://[0:0:0:0:0:0:0:1]:443/a?b=1", allow_http=False) == (
        "https://[::1]/a?b=1"
    )
    for bad in ("https://-x.example/", "https://a..b/", "https://%6c.example/"):
        with pytest.raises(UrlRefused):
            normalise_url(bad, allow_http=False)


# --------------------------------------------------------------------------- 9. inbox


async def test_a_declined_appointment_leaves_the_examiners_inbox(api: ApiHarness, parties: Parties):
    created = await parties.insurer.post("/v1/claims", json=referral_payload("DEMO"))
    claim_id = created.json()["claim_id"]
    booked = await wait_until(parties.ops, claim_id, lambda c: c["appointment"] is not None)
    first = booked["examiner"]["id"]
    examiner = await api.as_role(Role.EXAMINER, examiner=first)

    async def requests(include_done: bool = False) -> list[dict]:
        items = (await examiner.get("/v1/inbox", params={"include_done": include_done})).json()
        return [
            i for i in items if i["claim_id"] == claim_id and i["kind"] == "appointment_request"
        ]

    async with asyncio.timeout(15):
        while not await requests():
            await asyncio.sleep(0.1)
    declined = await post_action(parties.ops, claim_id, "decline-appointment", {"reason": "away"})
    assert declined.status_code == 200, declined.text
    rebooked = await wait_until(
        parties.ops,
        claim_id,
        lambda c: c["appointment"] is not None and c["examiner"]["id"] != first,
    )
    assert rebooked["stage"] == "SCHEDULING"
    assert await requests() == []  # closed when the appointment was released
    [closed] = await requests(include_done=True)
    assert closed["done_at"] is not None
