"""The webhook URL guard, without ever connecting: a resolver stands in for DNS, so names can be
made to resolve anywhere (including, as in DNS rebinding, somewhere new on the second look)."""

from __future__ import annotations

import ipaddress

import pytest

from delivery.ssrf import UrlRefused, check_url, parse_networks

LOOPBACK = parse_networks(["127.0.0.0/8", "::1/128"])
HOOK = "https://hooks.insurer.example/x"
LOCAL = "http://localhost:9000/x"


def resolving(*addresses: str):
    async def resolve(host: str, port: int):
        return [ipaddress.ip_address(a) for a in addresses]

    return resolve


async def unresolvable(host: str, port: int):
    raise OSError("no such host")


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.5",
        "172.16.3.4",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # shared (carrier-grade NAT)
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fd00::1",
        "fe80::1",
        "fd00:ec2::254",  # AWS metadata over IPv6
        "::ffff:10.0.0.1",  # v4-mapped private
        "100.100.100.200",  # Alibaba metadata
    ],
)
async def test_names_resolving_to_non_public_addresses_are_refused(address: str):
    with pytest.raises(UrlRefused, match="loopback, private"):
        await check_url(
            "https://hooks.insurer.example/x", allow_http=False, resolve=resolving(address)
        )


async def test_one_non_public_address_among_public_ones_is_enough_to_refuse():
    with pytest.raises(UrlRefused):
        await check_url(HOOK, allow_http=False, resolve=resolving("93.184.216.34", "10.0.0.1"))


async def test_public_https_is_allowed_and_loopback_only_when_allow_listed():
    await check_url(
        "https://hooks.insurer.example/x", allow_http=False, resolve=resolving("93.184.216.34")
    )
    await check_url(
        "http://localhost:9000/x", allow_http=True, allowed=LOOPBACK, resolve=resolving("127.0.0.1")
    )
    with pytest.raises(UrlRefused):
        await check_url(
            "http://localhost:9000/x",
            allow_http=True,
            allowed=LOOPBACK,
            resolve=resolving("10.0.0.1"),
        )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.insurer.example/x", "https"),
        ("ftp://hooks.insurer.example/x", "https"),
        ("https://user:secret@hooks.insurer.example/x", "credentials"),
        ("https:///x", "host"),
        ("https://hooks.insurer.example:99999/x", "port"),
    ],
)
async def test_malformed_or_plain_http_urls_are_refused_outside_development(url, reason):
    with pytest.raises(UrlRefused, match=reason):
        await check_url(url, allow_http=False, resolve=resolving("93.184.216.34"))


async def test_a_name_that_does_not_resolve_is_refused():
    with pytest.raises(UrlRefused, match="does not resolve"):
        await check_url("https://nowhere.invalid/x", allow_http=False, resolve=unresolvable)
