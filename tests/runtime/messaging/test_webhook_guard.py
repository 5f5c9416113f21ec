"""The SSRF guard's judgement of addresses and of the allow list (no network, no database)."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

from crm_platform.runtime.messaging.guard import AddressRefused, allowed_hosts, check_destination, forbidden


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("0.0.0.0", "an unspecified address"),
        ("::", "an unspecified address"),
        ("10.0.0.5", "a private address"),
        ("172.31.255.1", "a private address"),
        ("192.168.0.1", "a private address"),
        ("fd12:3456::1", "a private address"),
        ("169.254.169.254", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("240.0.0.1", "a private address"),  # reserved (Python counts 240/4 as private too)
        ("::ffff:10.0.0.1", "a private address"),  # IPv4-mapped: judged as the IPv4 address
        ("100.64.0.1", "a non-public address"),  # carrier-grade NAT
        ("93.184.215.14", None),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", None),
    ],
)
def test_addresses_are_judged(address: str, why: str | None) -> None:
    assert forbidden(ipaddress.ip_address(address)) == why


def _resolving_to(*addresses: str) -> Any:
    def resolver(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in addresses]

    return resolver


def test_one_internal_address_among_public_ones_refuses_the_host() -> None:
    with pytest.raises(
        AddressRefused, match=r"^refused: 10\.0\.0\.5 \(erp\.example\.com\) is a private address"
    ):
        check_destination("https://erp.example.com/h", {}, _resolving_to("93.184.215.14", "10.0.0.5"))


def test_the_allow_list_takes_names_and_addresses() -> None:
    environ = {"CRM_WEBHOOK_ALLOW_HOSTS": " erp.lan , 10.0.0.7,[::1]"}
    assert allowed_hosts(environ) == {"erp.lan", "10.0.0.7", "::1"}
    by_name = check_destination("http://ERP.lan:8080/h", environ, _resolving_to("10.0.0.9"))
    assert (by_name.host, by_name.port, by_name.address) == ("erp.lan", 8080, "10.0.0.9")
    by_address = check_destination("http://office.example/h", environ, _resolving_to("10.0.0.7"))
    assert by_address.address == "10.0.0.7"
    assert check_destination("http://[::1]:9000/h", environ).address == "::1"


def test_only_http_urls_with_a_host_are_sent() -> None:
    with pytest.raises(AddressRefused, match="is not an http:// or https:// URL"):
        check_destination("file:///etc/passwd", {})
