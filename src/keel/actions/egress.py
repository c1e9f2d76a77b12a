"""Where actions may send requests: the SSRF guard of the HTTP actions.

A workflow author chooses URLs, often from untrusted input (an alert's link, a webhook's body), so
an action must not become a way into the network Keel runs in. Before each request, and each
redirect hop, the destination host is resolved and every address it resolves to is checked:

- link-local addresses (169.254.0.0/16, fe80::/10) and cloud-metadata endpoints (169.254.169.254,
  fd00:ec2::254, 100.100.100.200, ``metadata.google.internal``) are always refused: they hand out
  instance credentials;
- loopback, private, shared (CGNAT), multicast and reserved addresses are refused unless
  ``KEEL_HTTP_ALLOW_PRIVATE`` is true (a Keel that automates an internal network needs them).

Caveat: the check and the HTTP client's own connection resolve the name separately, so a DNS
server that answers differently between the two (DNS rebinding) can slip past the check.
Deployments that need a hard boundary should also send egress through a filtering proxy.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from keel.errors import KeelError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Hosts that serve cloud instance metadata by name.
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata.goog"})
#: Cloud metadata addresses: AWS/GCP/Azure/OpenStack, AWS over IPv6, Alibaba Cloud.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
_METADATA = "a cloud metadata address"
_LINK_LOCAL = "a link-local address"
_ALLOW_HINT = " (set KEEL_HTTP_ALLOW_PRIVATE=true to allow loopback and private addresses)"


class ForbiddenDestinationError(KeelError):
    """A request was refused: its host is, or resolves to, an address actions may not reach."""


class UnresolvableHostError(KeelError):
    """A request's host name does not resolve, so it cannot be checked (nor reached)."""


def refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Return why ``address`` is refused (``"a loopback address"``), or None when it is allowed."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 reaches 127.0.0.1
    if address in METADATA_ADDRESSES:
        return _METADATA
    if address.is_link_local:
        return _LINK_LOCAL
    if allow_private:
        return None
    for kind in ("loopback", "private", "multicast", "unspecified", "reserved"):
        if getattr(address, f"is_{kind}"):
            return f"a {kind} address"
    if not address.is_global:  # e.g. 100.64.0.0/10, shared by carrier-grade NAT
        return "not a public address"
    return None


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Return the addresses ``host`` resolves to (the address itself for an IP literal)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # getaddrinfo may append a scope ("fe80::1%eth0"); the address is what matters.
    return list(dict.fromkeys(ipaddress.ip_address(str(i[4][0]).split("%")[0]) for i in infos))


async def check_destination(url: str, host: str, port: int, *, allow_private: bool) -> None:
    """Refuse a request to ``url`` unless every address of ``host`` is allowed.

    Args:
        url: The full URL, for the error message.
        host: The URL's host (a name or an IP literal, without brackets).
        port: The port the request goes to.
        allow_private: Allow loopback, private and reserved addresses.

    Raises:
        ForbiddenDestinationError: Names the URL, the host and the refused address.
        UnresolvableHostError: The host does not resolve.
    """
    name = host.rstrip(".").lower()
    if name in METADATA_HOSTS:
        raise ForbiddenDestinationError(
            f"refused to request {url}: {name} is a cloud metadata server"
        )
    try:
        addresses = await resolve(name, port)
    except OSError as exc:
        raise UnresolvableHostError(
            f"cannot request {url}: {name} does not resolve ({exc})"
        ) from exc
    for address in addresses:
        why = refusal(address, allow_private=allow_private)
        if why is not None:
            hint = "" if why in (_METADATA, _LINK_LOCAL) else _ALLOW_HINT
            target = f"{address} is" if name == str(address) else f"{name} resolves to {address},"
            raise ForbiddenDestinationError(f"refused to request {url}: {target} {why}{hint}")
