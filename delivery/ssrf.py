"""Where a webhook may point: an https URL whose host resolves only to public addresses.

Refused: loopback, private, link-local (cloud metadata at 169.254.169.254 among them), shared,
reserved, multicast and unspecified addresses, unless the address is in an allow-list (for
development: the dev stack and the tests allow loopback). Checked when an endpoint is registered
and again before every send, so a name that later resolves elsewhere (DNS rebinding) is refused.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[Address]]]

# Metadata services that sit outside the ranges Python calls private (AWS IPv6, Alibaba).
_METADATA = (ipaddress.ip_network("fd00:ec2::254/128"), ipaddress.ip_network("100.100.100.200/32"))


class UrlRefused(ValueError):
    """Why a URL may not be called (the message names the rule, never the resolved address)."""


async def system_resolver(host: str, port: int) -> list[Address]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [ipaddress.ip_address(info[4][0]) for info in infos]


def parse_networks(texts: Sequence[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(text, strict=False) for text in texts]


def public(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return public(address.ipv4_mapped)
    if address.is_multicast:
        return False
    return address.is_global and not any(address in net for net in _METADATA)


async def check_url(
    url: str,
    *,
    allow_http: bool,
    allowed: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network] = (),
    resolve: Resolver = system_resolver,
) -> None:
    """Refuse (UrlRefused) a URL this service must not call; return when it may."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or (parts.scheme == "http" and not allow_http):
        raise UrlRefused("the URL must be https")
    if not parts.hostname or parts.username or parts.password:
        raise UrlRefused("the URL needs a host and no credentials")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UrlRefused("the URL's port is not valid") from None
    try:
        addresses = await resolve(parts.hostname, port)
    except (OSError, UnicodeError):
        raise UrlRefused("the URL's host does not resolve") from None
    if not addresses:
        raise UrlRefused("the URL's host does not resolve")
    for address in addresses:
        if not public(address) and not any(address in net for net in allowed):
            raise UrlRefused(
                "the URL's host resolves to a loopback, private, link-local or reserved address"
            )
