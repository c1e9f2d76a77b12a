"""FN network functions: IP address checks, and the indicator extractors of :mod:`.indicators`."""

from __future__ import annotations

import ipaddress
from typing import Any

from keel.expressions.functions import fn, indicators
from keel.expressions.functions.arguments import expect_str


def _address(fname: str, ip: Any, version: int) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    text = expect_str(fname, ip, "an IP address string").strip()
    try:
        return ipaddress.IPv4Address(text) if version == 4 else ipaddress.IPv6Address(text)
    except ValueError:
        raise ValueError(f"{fname} expects an IPv{version} address, got '{text}'") from None


def _network(
    fname: str, subnet: Any, version: int
) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    text = expect_str(fname, subnet, "a subnet string like '10.0.0.0/8'").strip()
    try:
        if version == 4:
            return ipaddress.IPv4Network(text, strict=False)
        return ipaddress.IPv6Network(text, strict=False)
    except ValueError:
        raise ValueError(f"{fname} expects an IPv{version} subnet, got '{text}'") from None


@fn("ipv4_in_subnet")
def ipv4_in_subnet(ip: str, subnet: str) -> bool:
    """Tell whether an IPv4 address is in a subnet (``10.0.0.0/8``)."""
    return _address("ipv4_in_subnet", ip, 4) in _network("ipv4_in_subnet", subnet, 4)


@fn("ipv6_in_subnet")
def ipv6_in_subnet(ip: str, subnet: str) -> bool:
    """Tell whether an IPv6 address is in a subnet (``2001:db8::/32``)."""
    return _address("ipv6_in_subnet", ip, 6) in _network("ipv6_in_subnet", subnet, 6)


@fn("ipv4_is_public")
def ipv4_is_public(ip: str) -> bool:
    """Tell whether an IPv4 address is globally routable (not private, loopback, reserved ...)."""
    return _address("ipv4_is_public", ip, 4).is_global


@fn("ipv6_is_public")
def ipv6_is_public(ip: str) -> bool:
    """Tell whether an IPv6 address is globally routable."""
    return _address("ipv6_is_public", ip, 6).is_global


@fn("check_ip_version")
def check_ip_version(ip: str) -> int:
    """Return 4 or 6, the version of an IP address."""
    text = expect_str("check_ip_version", ip, "an IP address string").strip()
    try:
        return ipaddress.ip_address(text).version
    except ValueError:
        raise ValueError(f"check_ip_version expects an IP address, got '{text}'") from None


for _name in (
    "extract_urls", "extract_domains", "extract_emails", "normalize_email", "extract_ip",
    "extract_ipv4", "extract_ipv6", "extract_mac", "extract_md5", "extract_sha1",
    "extract_sha256", "extract_sha512", "extract_cves", "extract_asns",
):  # fmt: skip
    fn(_name)(getattr(indicators, _name))
