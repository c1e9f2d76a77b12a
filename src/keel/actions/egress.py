"""Where actions may send requests: the SSRF guard of the HTTP actions.

A workflow author chooses URLs, often from untrusted input (an alert's link, a webhook's body), so
an action must not become a way into the network Keel runs in. Before each request, and each
redirect hop, the destination host is resolved and every address it resolves to is checked:

- link-local addresses (169.254.0.0/16, fe80::/10) and cloud-metadata endpoints (169.254.169.254,
  fd00:ec2::254, 100.100.100.200, ``metadata.google.internal``) are always refused: they hand out
  instance credentials;
- loopback, private, shared (CGNAT), multicast and reserved addresses are refused unless
  ``KEEL_HTTP_ALLOW_PRIVATE`` is true (a Keel that automates an internal network needs them).

The check that decides is made where the connection is opened: :class:`GuardedBackend`, the
network backend of the actions' HTTP transport, resolves the name once, checks every address,
and connects to a checked address itself (TLS still verifies, and SNI and ``Host`` still name,
the host of the URL). A DNS server that answers one address to a check and another to the
connection (DNS rebinding) therefore gets nowhere: there is no second lookup. The request hook
(:func:`check_destination`) checks each request and redirect hop too, without a lookup, so that
an IP literal or a metadata name is refused early with the URL in the message.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable

import httpcore

from keel.actions.streams import AsyncioBackend
from keel.errors import KeelError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: Looks a host name up: ``(host, port) -> addresses`` (:func:`resolve`, or a test's stand-in).
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]
#: What a refusal names (``request https://x/y``), or a function that builds it: the text is
#: needed only when a request is refused, and building a display URL costs a URL parse per
#: request on the hot path (measured ~5% of a loopback call's CPU).
Description = str | Callable[[], str]

#: Hosts that serve cloud instance metadata by name.
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata.goog"})
#: Cloud metadata addresses: AWS/GCP/Azure/OpenStack, AWS over IPv6, Alibaba Cloud.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
_METADATA = "a cloud metadata address"
_LINK_LOCAL = "a link-local address"
_ALLOW_HINT = " (set KEEL_HTTP_ALLOW_PRIVATE=true to allow loopback and private addresses)"


class EgressError(KeelError):
    """A destination the guard would not let an action reach.

    Attributes:
        names_request: The message names the request (its URL), not only ``host:port``: false
            for a refusal where a connection is opened, which knows only the host and port.
    """

    def __init__(self, message: str, *, names_request: bool = False) -> None:
        super().__init__(message)
        self.names_request = names_request


class ForbiddenDestinationError(EgressError):
    """A request was refused: its host is, or resolves to, an address actions may not reach."""


class UnresolvableHostError(EgressError):
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


def check_destination(url: Description, host: str, port: int, *, allow_private: bool) -> None:
    """Refuse a request to ``url`` at once when its host alone settles it.

    A cloud-metadata name, or an IP literal that may not be reached, is refused here, naming
    the URL. A host *name* is not looked up: the connection it needs is opened by
    :class:`GuardedBackend`, which resolves it once and checks every address (a kept-alive
    connection was checked when it was opened). Looking the name up here as well cost a DNS
    query per request (~80 µs of CPU for ``localhost``; a network round trip for a remote
    name) and added no safety.

    Args:
        url: The URL as errors may show it (without its query), or a function returning it,
            called only when the request is refused.
        host: The URL's host (a name or an IP literal, without brackets).
        port: The port the request goes to.
        allow_private: Allow loopback, private and reserved addresses.

    Raises:
        ForbiddenDestinationError: Names the URL, the host and why it is refused.
    """
    what = (lambda: f"request {url()}") if callable(url) else f"request {url}"
    name = _refused_name(host, port, what)
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return  # a name: checked where its connection is opened
    _check(address, name, allow_private=allow_private, what=what, host=host, port=port)


async def vetted_addresses(
    host: str,
    port: int,
    *,
    allow_private: bool,
    resolver: Resolver | None = None,
    what: Description | None = None,
) -> list[IPAddress]:
    """Resolve ``host`` once and return its addresses, all of them checked.

    Args:
        host: A name or an IP literal (without brackets).
        port: The port to connect to.
        allow_private: Allow loopback, private and reserved addresses.
        resolver: How names are looked up (:func:`resolve` when None).
        what: What is refused, for the message (``request https://x/y``), or a function
            building it (called only on refusal); ``connect to host:port`` when None.

    Raises:
        ForbiddenDestinationError: An address (or the name) may not be reached.
        UnresolvableHostError: The host does not resolve.
    """
    name = _refused_name(host, port, what)
    try:
        addresses = await (resolver or resolve)(name, port)
    except OSError as exc:
        raise UnresolvableHostError(
            f"cannot {_described(what, host, port)}: {name} does not resolve ({exc})",
            names_request=what is not None,
        ) from exc
    if not addresses:
        raise UnresolvableHostError(
            f"cannot {_described(what, host, port)}: {name} resolves to no address",
            names_request=what is not None,
        )
    for address in addresses:
        _check(address, name, allow_private=allow_private, what=what, host=host, port=port)
    return addresses


def _refused_name(host: str, port: int, what: Description | None) -> str:
    """Return ``host`` normalised (lower case, no trailing dot); refuse a cloud-metadata name."""
    name = host.rstrip(".").lower()
    if name in METADATA_HOSTS:
        raise ForbiddenDestinationError(
            f"refused to {_described(what, host, port)}: {name} is a cloud metadata server",
            names_request=what is not None,
        )
    return name


def _check(
    address: IPAddress,
    name: str,
    *,
    allow_private: bool,
    what: Description | None,
    host: str,
    port: int,
) -> None:
    """Refuse ``address`` (what ``name`` is or resolves to) unless it may be reached."""
    why = refusal(address, allow_private=allow_private)
    if why is not None:
        hint = "" if why in (_METADATA, _LINK_LOCAL) else _ALLOW_HINT
        target = f"{address} is" if name == str(address) else f"{name} resolves to {address},"
        raise ForbiddenDestinationError(
            f"refused to {_described(what, host, port)}: {target} {why}{hint}",
            names_request=what is not None,
        )


def _described(what: Description | None, host: str, port: int) -> str:
    """Return the text naming what is refused (built now: a refusal is being raised)."""
    if what is None:
        return f"connect to {host}:{port}"
    return what() if callable(what) else what


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that opens connections only to checked addresses.

    It resolves the host once, refuses it unless every address is allowed, and connects to
    those addresses (in order, until one answers), never to the name: nothing resolves the name
    again between the check and the connection. TLS and the ``Host`` header are unaffected:
    httpcore takes both from the request's URL.

    Args:
        allow_private: Allow loopback, private and reserved addresses.
        resolver: How names are looked up (:func:`resolve` when None).
        inner: The backend that makes the connections
            (:class:`~keel.actions.streams.AsyncioBackend` when None).
    """

    def __init__(
        self,
        *,
        allow_private: bool,
        resolver: Resolver | None = None,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.allow_private = allow_private
        self._resolver = resolver
        self._inner = inner or AsyncioBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Connect to a checked address of ``host`` (see the class docstring)."""
        addresses = await vetted_addresses(
            host, port, allow_private=self.allow_private, resolver=self._resolver
        )
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                failure = exc  # try the next address, as a client connecting by name would
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Refuse: actions reach the network by address only."""
        raise ForbiddenDestinationError(f"refused to connect to the Unix socket {path}")

    async def sleep(self, seconds: float) -> None:
        """Sleep as the inner backend does (httpcore's retries use it)."""
        await self._inner.sleep(seconds)
