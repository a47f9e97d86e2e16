"""Where a webhook may point: an https URL whose host resolves only to public addresses, and the
HTTP client that sends to it connecting only to an address it checked.

Refused: loopback, private, link-local (cloud metadata at 169.254.169.254 among them), shared,
reserved, multicast and unspecified addresses, unless the address is in an allow-list (for
development: the dev stack and the tests allow loopback). IPv6 forms that embed an IPv4 address
(IPv4-mapped and -translated, IPv4-compatible, NAT64, 6to4, Teredo) and deprecated ones
(site-local) are refused in every environment, allow-list or not: what they reach depends on the
network's translators, not on the address.

A URL is checked when an endpoint is registered (`check_url`, a 422 for the caller) and normalised
then (`normalise_url`: what is stored is what is called). A send does not check and then connect
(the name could resolve elsewhere the second time: DNS rebinding): the client of `guarded_client`
resolves the name once, when it connects, checks every address and connects to a checked one,
keeping the name for TLS (SNI and the certificate's check) and the `Host` header.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import ssl
import unicodedata
from collections.abc import Awaitable, Callable, Iterable, Sequence
from urllib.parse import urlsplit

import httpcore
import httpx
import idna

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[Address]]]

# Metadata services that sit outside the ranges Python calls private (AWS IPv6, Alibaba).
_METADATA = (ipaddress.ip_network("fd00:ec2::254/128"), ipaddress.ip_network("100.100.100.200/32"))
# IPv6 forms that carry an IPv4 address (what they reach is that address, through a translator
# or a tunnel) or are deprecated: refused whatever the allow-list says.
_EMBEDDED_OR_DEPRECATED = tuple(
    ipaddress.IPv6Network(net)
    for net in (
        "::ffff:0:0/96",  # IPv4-mapped
        "::ffff:0:0:0/96",  # IPv4-translated (SIIT)
        "64:ff9b::/96",  # NAT64, well-known prefix
        "64:ff9b:1::/48",  # NAT64, local use
        "2002::/16",  # 6to4
        "2001::/32",  # Teredo
        "fec0::/10",  # site-local (deprecated)
    )
)
# Where IPv6 unicast addresses are allocated; nothing outside it is public.
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
# A host name in ASCII: letters, digits, hyphens (underscores too, which some names carry).
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?$")
_DEFAULT_PORTS = {"https": 443, "http": 80}

REFUSED_ADDRESS = (
    "the URL's host resolves to a loopback, private, link-local, reserved or IPv4-embedding address"
)


class UrlRefused(ValueError):
    """Why a URL may not be called (the message names the rule, never the resolved address)."""


async def system_resolver(host: str, port: int) -> list[Address]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [ipaddress.ip_address(info[4][0]) for info in infos]


def parse_networks(texts: Sequence[str]) -> list[Network]:
    return [ipaddress.ip_network(text, strict=False) for text in texts]


def embedded_or_deprecated(address: Address) -> bool:
    """An IPv6 form that embeds an IPv4 address, or a deprecated one."""
    if not isinstance(address, ipaddress.IPv6Address):
        return False
    # IPv4-compatible (::a.b.c.d, deprecated); `::` and `::1` are the unspecified and loopback.
    if int(address) >> 32 == 0 and int(address) > 1:
        return True
    return any(address in net for net in _EMBEDDED_OR_DEPRECATED)


def public(address: Address) -> bool:
    if embedded_or_deprecated(address) or address.is_multicast:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address not in _GLOBAL_UNICAST:
        return False
    return address.is_global and not any(address in net for net in _METADATA)


def permitted(address: Address, allowed: Iterable[Network] = ()) -> bool:
    """Whether this service may connect to `address`."""
    if embedded_or_deprecated(address):
        return False
    return public(address) or any(address in net for net in allowed)


def normalise_url(url: str, *, allow_http: bool) -> str:
    """The URL as it is stored and called: scheme and host in lower case, the host in IDNA (ASCII),
    no default port, at least `/` as the path. Refused (UrlRefused): another scheme (http only
    when `allow_http`), whitespace or control characters anywhere, a backslash, any userinfo (even
    an empty `@`), a fragment (even an empty `#`), port 0 or one out of range, no host."""
    if any(_unsafe(ch) for ch in url):
        raise UrlRefused("the URL may not hold whitespace, control characters or backslashes")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or (scheme == "http" and not allow_http):
        raise UrlRefused("the URL must be https")
    if "@" in parts.netloc:
        raise UrlRefused("the URL may carry no credentials (no userinfo)")
    if "#" in url:
        raise UrlRefused("the URL may have no fragment")
    try:
        port = parts.port
    except ValueError:
        raise UrlRefused("the URL's port is not valid") from None
    if port == 0:
        raise UrlRefused("the URL's port is not valid")
    host = _host(parts.hostname or "")
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    query = f"?{parts.query}" if parts.query else ""
    return f"{scheme}://{netloc}{parts.path or '/'}{query}"


def _unsafe(ch: str) -> bool:
    return ch.isspace() or ch == "\\" or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")


def _host(hostname: str) -> str:
    """The host of a URL in its one spelling: an IP literal in its canonical form (IPv6 in
    brackets), a name in lower-case ASCII (IDNA)."""
    if not hostname:
        raise UrlRefused("the URL needs a host")
    try:
        literal = ipaddress.ip_address(hostname)
    except ValueError:
        pass
    else:
        return f"[{literal.compressed}]" if literal.version == 6 else literal.compressed
    if hostname.isascii():
        name = hostname.lower()
    else:
        try:
            name = idna.encode(hostname, uts46=True).decode("ascii")
        except idna.IDNAError:
            raise UrlRefused("the URL's host is not a valid name") from None
    if not _HOST_NAME.match(name):
        raise UrlRefused("the URL's host is not a valid name")
    return name


async def check_url(
    url: str,
    *,
    allow_http: bool,
    allowed: Sequence[Network] = (),
    resolve: Resolver = system_resolver,
) -> str:
    """Refuse (UrlRefused) a URL this service must not call; return it normalised when it may."""
    normalised = normalise_url(url, allow_http=allow_http)
    parts = urlsplit(normalised)
    assert parts.hostname is not None  # normalise_url refuses a URL without one
    port = parts.port or _DEFAULT_PORTS[parts.scheme]
    await resolve_permitted(parts.hostname, port, allowed=allowed, resolve=resolve)
    return normalised


async def resolve_permitted(
    host: str, port: int, *, allowed: Sequence[Network], resolve: Resolver = system_resolver
) -> list[Address]:
    """The addresses of `host`, every one of them permitted; else UrlRefused."""
    try:
        addresses = await resolve(host, port)
    except (OSError, UnicodeError, ValueError):
        raise UrlRefused("the URL's host does not resolve") from None
    if not addresses:
        raise UrlRefused("the URL's host does not resolve")
    if not all(permitted(address, allowed) for address in addresses):
        raise UrlRefused(REFUSED_ADDRESS)
    return addresses


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, but a connection to a name goes to an address of it that was
    checked, resolved once, here: nothing resolves the name a second time."""

    def __init__(self, allowed: Sequence[Network], resolve: Resolver = system_resolver) -> None:
        self._allowed = list(allowed)
        self._resolve = resolve
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await resolve_permitted(
                    host.strip("[]"), port, allowed=self._allowed, resolve=self._resolve
                )
        except TimeoutError:
            raise httpcore.ConnectTimeout("the host did not resolve in time") from None
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._backend.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as err:
                failure = err
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise UrlRefused("no unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a connection pool whose connections the guard makes. No proxy (a
    proxy would resolve the name itself), no retries."""

    def __init__(
        self,
        allowed: Sequence[Network],
        *,
        resolve: Resolver = system_resolver,
        verify: ssl.SSLContext | bool = True,
        limits: httpx.Limits = httpx.Limits(max_connections=64, keepalive_expiry=30.0),
    ) -> None:
        super().__init__(verify=verify, trust_env=False, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(allowed, resolve),
        )


def guarded_client(
    allowed: Sequence[Network],
    *,
    timeout: float,
    resolve: Resolver = system_resolver,
    verify: ssl.SSLContext | bool = True,
) -> httpx.AsyncClient:
    """The client webhooks are sent with: every connection to a checked address, no redirect
    followed, no proxy from the environment."""
    return httpx.AsyncClient(
        transport=GuardedTransport(allowed, resolve=resolve, verify=verify),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
    )
