"""Addresses, names and host:port text: classification shared by checks, and the one place that brackets an IPv6
address and splits HOST[:PORT].

The address functions are memoised: every check of every endpoint asks them about the same few addresses, and
parsing an address with ipaddress costs more than the question."""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Iterable

from preflight.errors import UsageError

# How a probe's error begins when this host's own firewall refused the send (the diagnosis reads it).
LOCALLY_BLOCKED = "this host refused to send the query"

# Names under these suffixes never exist in public DNS (RFC 6761, RFC 8375, ICANN's .internal), so a private
# answer for them says nothing about split-horizon DNS or sinkholing.
_SPECIAL_USE_SUFFIXES = ("test", "example", "invalid", "localhost", "local", "internal", "home.arpa", "lan")

# A public name answering into these ranges is sinkholed, split-horizon, or pointed at a private endpoint.
# 198.18.0.0/15 (benchmarking) is deliberately not here: Python calls it private, but it is not RFC 1918 space.
_SINKHOLE_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "::/128",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
)


def is_special_use_name(host: str) -> bool:
    name = host.rstrip(".").lower()
    return any(name == s or name.endswith("." + s) for s in _SPECIAL_USE_SUFFIXES)


_memo = functools.lru_cache(maxsize=4096)

_DNS_NAME = re.compile(
    r"^(?=.{1,253}\.?$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*"
    r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.?$",
    re.IGNORECASE,
)


def is_host(host: str) -> bool:
    """An IP address or a DNS name (labels of letters, digits, '-' and '_', at most 63 each, 253 in all; the last
    not all digits, which is a mistyped address: 10.1.2.300)."""
    if is_ip_literal(host):
        return True
    return bool(_DNS_NAME.match(host)) and not host.rstrip(".").rpartition(".")[2].isdigit()


@_memo
def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@_memo
def unmapped(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    ip = ipaddress.ip_address(address.split("%", maxsplit=1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


@_memo
def is_unspecified(address: str) -> bool:
    ip = unmapped(address)
    return ip.is_unspecified or (isinstance(ip, ipaddress.IPv4Address) and ip in _SINKHOLE_NETWORKS[0])


@_memo
def sinkhole_kind(address: str) -> str | None:
    """Why an answer for a public name looks sinkholed or internal, or None if it looks public."""
    ip = unmapped(address)
    if is_unspecified(address):
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip in ipaddress.ip_network("100.64.0.0/10"):
        return "cgnat"
    if ip.is_link_local:
        return "link-local"
    if any(ip in net for net in _SINKHOLE_NETWORKS):
        return "private"
    return None


@_memo
def family_name(address: str) -> str:
    return (
        "ipv6" if isinstance(ipaddress.ip_address(address.split("%", maxsplit=1)[0]), ipaddress.IPv6Address) else "ipv4"
    )


def usable_addresses(host: str, addresses: Iterable[str]) -> tuple[list[str], list[str]]:
    """Split resolved addresses into those worth connecting to and those that would only test this host."""
    public = not is_special_use_name(host)
    usable: list[str] = []
    ignored: list[str] = []
    for address in addresses:
        ip = unmapped(address)
        if is_unspecified(address) or (public and ip.is_loopback):
            ignored.append(address)
        else:
            usable.append(address)
    return usable, ignored


# ICMP port unreachable for a UDP query: ECONNREFUSED on Linux (a connected socket), WSAECONNRESET (10054) or
# ERROR_PORT_UNREACHABLE (1234) on Windows, where the next receive fails instead of waiting for an answer.
_UDP_UNREACHABLE_WINERRORS = (10054, 1234)


def udp_port_unreachable(exc: BaseException) -> bool:
    """Whether a UDP receive failed because the peer's port is closed or rejected (an ICMP port unreachable)."""
    if getattr(exc, "winerror", None) in _UDP_UNREACHABLE_WINERRORS:
        return True
    return isinstance(exc, (ConnectionRefusedError, ConnectionResetError))


def bracketed(host: str) -> str:
    """An IPv6 address in brackets, as URLs and HOST:PORT text need it; anything else unchanged."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def split_host_port(
    value: str, *, option: str, default_port: int, valid_name: Callable[[str], bool] | None = None
) -> tuple[str, int]:
    """`HOST[:PORT]`, `[IPV6]:PORT`, `[IPV6]` or a bare IPv6 address, as (host, port). Without `valid_name` the
    host must be an IP address (returned in its normal form); with it, a name it accepts is allowed too. Errors
    are one line naming `option` and the value."""
    text = value.strip()
    port_text: str | None = None
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise UsageError(f"{option} {value!r}: missing ']'")
        host, rest = text[1:close], text[close + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise UsageError(f"{option} {value!r}: expected [IPV6]:PORT")
            port_text = rest[1:]
        if not is_ip_literal(host) or ":" not in host:
            raise UsageError(f"{option} {value!r}: {host!r} is not an IPv6 address")
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host = text
    if port_text is not None and not (port_text.isascii() and port_text.isdigit()):
        raise UsageError(f"{option} {value!r}: {port_text!r} is not a port")
    port = int(port_text) if port_text is not None else default_port
    if not 1 <= port <= 65535:
        raise UsageError(f"{option} {value!r}: port {port} is out of range")
    if is_ip_literal(host):
        return str(ipaddress.ip_address(host)), port
    if valid_name is None:
        raise UsageError(f"{option} {value!r}: {host!r} is not an IP address")
    if not valid_name(host):
        raise UsageError(f"{option} {value!r}: expected HOST[:PORT] or [IPV6]:PORT")
    return host, port
