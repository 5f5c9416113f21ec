"""The SSRF guard of outgoing webhooks: where a webhook may connect, decided before each attempt.

A webhook URL comes from a blueprint; it must not become a way to reach the platform's
own network. Before every attempt :func:`check_destination` resolves the URL's host once
and refuses it when any address it resolves to is loopback, private (10/8, 172.16/12,
192.168/16, fc00::/7, ...), link-local (169.254/16 with the cloud metadata service
169.254.169.254, fe80::/10), multicast, unspecified, reserved or otherwise not public
(an IPv4-mapped IPv6 address is judged as the IPv4 address it maps). The checked address
is the one connected to (:mod:`.transport` puts it in the URL and keeps the host name in
the ``Host`` header and the TLS server name), so a second DNS answer cannot swap it.

Hosts listed in ``CRM_WEBHOOK_ALLOW_HOSTS`` (comma-separated host names or IP addresses)
are let through: a receiver on 127.0.0.1 in tests and the demo, an ERP on the office LAN.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = ["ALLOW_ENV", "AddressRefused", "Destination", "allowed_hosts", "check_destination", "forbidden"]

#: The environment variable listing the hosts the guard lets through.
ALLOW_ENV = "CRM_WEBHOOK_ALLOW_HOSTS"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: ``socket.getaddrinfo``'s shape; tests pass their own to pretend a name resolves elsewhere.
Resolver = Callable[..., Sequence[tuple[Any, ...]]]


class AddressRefused(Exception):
    """The webhook's destination is not allowed; retrying will not change that."""


@dataclass(frozen=True)
class Destination:
    """Where one attempt connects: the URL's host and port and the checked address."""

    scheme: str
    host: str
    port: int
    address: str


def allowed_hosts(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """The host names and addresses of ``CRM_WEBHOOK_ALLOW_HOSTS``, lower-cased."""
    raw = (os.environ if environ is None else environ).get(ALLOW_ENV, "")
    return frozenset(part.strip().lower().strip("[]") for part in raw.split(",") if part.strip())


def forbidden(address: IPAddress) -> str | None:
    """Why ``address`` may not be connected to ("a private address"), or ``None`` when it is public.

    >>> forbidden(ipaddress.ip_address("169.254.169.254"))
    'a link-local address'
    """
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return forbidden(address.ipv4_mapped)
    checks = (
        (address.is_loopback, "a loopback address"),
        (address.is_unspecified, "an unspecified address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.is_private, "a private address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "a non-public address"),
    )
    return next((why for hit, why in checks if hit), None)


def _port(scheme: str, url: str) -> int:
    try:
        port = urlsplit(url).port
    except ValueError as exc:
        raise AddressRefused(f"refused: {url} has a bad port ({exc})") from None
    return port or (443 if scheme == "https" else 80)


def check_destination(
    url: str, environ: Mapping[str, str] | None = None, resolver: Resolver | None = None
) -> Destination:
    """Resolve ``url``'s host once and check every address; raises :class:`AddressRefused`.

    A host that does not resolve raises :class:`OSError` (``socket.gaierror``): DNS may be
    back on the next attempt, so that one is retried.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise AddressRefused(f"refused: {url} is not an http:// or https:// URL with a host")
    host = parts.hostname.lower()
    port = _port(scheme, url)
    allowed = allowed_hosts(environ)
    try:
        addresses: list[IPAddress] = [ipaddress.ip_address(host)]
    except ValueError:
        found = (resolver or socket.getaddrinfo)(host, port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found))
        if not addresses:
            raise OSError(f"{host} resolves to no address") from None
    if host not in allowed:
        for address in addresses:
            why = forbidden(address)
            if why is not None and str(address) not in allowed:
                named = str(address) if str(address) == host else f"{address} ({host})"
                raise AddressRefused(f"refused: {named} is {why}; allow it with {ALLOW_ENV}")
    return Destination(scheme, host, port, str(addresses[0]))
