"""TCP observation: one connect to one address and port, with the reason it failed.

On Linux the socket asks for IP_RECVERR so that an ICMP error names the router that rejected the connection;
Windows has no equivalent, so there only the error number is read. The verdict is `checks.tcp.judge`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import ipaddress
import struct
import sys
import time
from typing import TYPE_CHECKING, Any, Literal

from preflight import lazy
from preflight.netutil import family_name

if TYPE_CHECKING:
    import asyncio
    import socket
else:
    asyncio = lazy.module("asyncio")
    socket = lazy.module("socket")


ConnectOutcome = Literal["open", "refused", "filtered", "unreachable", "no_route", "local_block", "error"]

_IP_RECVERR = 11
_IPV6_RECVERR = 25
_SO_EE_ORIGIN_ICMP = 2
_SO_EE_ORIGIN_ICMP6 = 3

# Windows socket errors, which Python leaves as winerror on a plain OSError.
_WSAECONNREFUSED, _WSAETIMEDOUT, _WSAENETUNREACH, _WSAEHOSTUNREACH = 10061, 10060, 10051, 10065
_WSAEACCES, _WSAECONNRESET = 10013, 10054

# What a failed connect reports on Windows, by winerror. The proactor loop's ConnectEx fails with ERROR_* codes
# (1225 for a refused connect) that CPython maps to errno values meaning something else, so winerror decides.
WINDOWS_CONNECT_ERRORS: dict[int, ConnectOutcome] = {
    1225: "refused",  # ERROR_CONNECTION_REFUSED: a RST (or ICMP port unreachable)
    10061: "refused",  # WSAECONNREFUSED
    1236: "refused",  # ERROR_CONNECTION_ABORTED: closed by the peer or a middlebox during the connect
    10054: "refused",  # WSAECONNRESET
    64: "refused",  # ERROR_NETNAME_DELETED: reset during the handshake
    121: "filtered",  # ERROR_SEM_TIMEOUT: ConnectEx gave up waiting for a SYN-ACK
    1460: "filtered",  # ERROR_TIMEOUT
    10060: "filtered",  # WSAETIMEDOUT
    1231: "no_route",  # ERROR_NETWORK_UNREACHABLE: no route on this host (often no IPv6 connectivity)
    10051: "no_route",  # WSAENETUNREACH
    1232: "unreachable",  # ERROR_HOST_UNREACHABLE: a router said so (ICMP), or no neighbour answered
    10065: "unreachable",  # WSAEHOSTUNREACH
    1233: "unreachable",  # ERROR_PROTOCOL_UNREACHABLE
    1234: "refused",  # ERROR_PORT_UNREACHABLE
    10013: "local_block",  # WSAEACCES: this host's firewall (Windows Defender Firewall, WFP) refused to send
    5: "local_block",  # ERROR_ACCESS_DENIED
}

_ICMP4_MEANINGS = {
    (3, 0): "network unreachable",
    (3, 1): "host unreachable",
    (3, 3): "port unreachable",
    (3, 9): "network administratively prohibited",
    (3, 10): "host administratively prohibited",
    (3, 13): "communication administratively prohibited",
    (11, 0): "TTL exceeded in transit",
}
_ICMP6_MEANINGS = {
    (1, 0): "no route to destination",
    (1, 1): "communication administratively prohibited",
    (1, 3): "address unreachable",
    (1, 4): "port unreachable",
    (1, 5): "source address failed ingress/egress policy",
    (1, 6): "reject route to destination",
    (3, 0): "hop limit exceeded in transit",
}


@dataclasses.dataclass(frozen=True)
class IcmpReport:
    family: str
    type: int
    code: int
    offender: str | None
    local: bool = False  # the offender is one of this host's own addresses: its own firewall rejected it

    @property
    def meaning(self) -> str:
        table = _ICMP4_MEANINGS if self.family == "ipv4" else _ICMP6_MEANINGS
        return table.get((self.type, self.code), f"ICMP type {self.type} code {self.code}")

    @property
    def prohibited(self) -> bool:
        if self.family == "ipv4":
            return self.type == 3 and self.code in (9, 10, 13)
        return self.type == 1 and self.code in (1, 5, 6)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "code": self.code,
            "meaning": self.meaning,
            "offender": self.offender,
            "prohibited": self.prohibited,
            "local": self.local,
        }


@dataclasses.dataclass(frozen=True)
class ConnectAttempt:
    address: str
    port: int
    outcome: ConnectOutcome
    latency_ms: float | None = None
    errno_name: str | None = None
    error: str | None = None
    icmp: IcmpReport | None = None
    started_s: float | None = None  # when the connect began, in seconds after the run's probes began

    @property
    def family(self) -> str:
        return family_name(self.address)

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "family": self.family,
            "port": self.port,
            "outcome": self.outcome,
            "latency_ms": self.latency_ms,
            "errno": self.errno_name,
            "error": self.error,
            "icmp": self.icmp.to_json() if self.icmp else None,
            "started_s": self.started_s,
        }


def classify_error(number: int | None, icmp: IcmpReport | None, winerror: int | None = None) -> ConnectOutcome:
    """Map a failed connect's errno (POSIX or WSA*), its Windows error if any, and any ICMP report to an outcome.
    Pure."""
    if winerror is not None and winerror in WINDOWS_CONNECT_ERRORS:
        return WINDOWS_CONNECT_ERRORS[winerror]
    if number in (errno.ECONNREFUSED, _WSAECONNREFUSED, errno.ECONNRESET, _WSAECONNRESET):
        return "refused"
    if number in (errno.ETIMEDOUT, _WSAETIMEDOUT):
        return "filtered"
    if icmp is not None and icmp.local:
        return "local_block"  # this host's own firewall answered with an ICMP reject
    if number in (errno.ENETUNREACH, _WSAENETUNREACH) and icmp is None:
        return "no_route"  # this host has no route to that network at all (often: no IPv6 connectivity)
    if number in (errno.EHOSTUNREACH, errno.ENETUNREACH, _WSAEHOSTUNREACH, _WSAENETUNREACH):
        return "unreachable"
    if number in (errno.EACCES, errno.EPERM, _WSAEACCES):
        # IPv6 admin-prohibited arrives as EACCES with an ICMPv6 report; without one, this host refused to send.
        return "unreachable" if icmp is not None else "local_block"
    if number == errno.EINVAL and sys.platform.startswith("linux"):
        return "local_block"  # a local blackhole route
    return "error"


def error_name(number: int | None, winerror: int | None) -> str:
    """ECONNREFUSED, or WinError 1225 (with the errno CPython mapped it to) on Windows."""
    if winerror is not None:
        mapped = errno.errorcode.get(number) if number is not None else None
        return f"WinError {winerror}" + (f" ({mapped})" if mapped else "")
    return errno.errorcode.get(number or -1, str(number))


def parse_extended_error(level: int, kind: int, data: bytes) -> IcmpReport | None:
    """Decode a Linux `sock_extended_err` control message (and its offender address) from MSG_ERRQUEUE."""
    if len(data) < 16:
        return None
    _errno, origin, icmp_type, icmp_code, _pad, _info, _data = struct.unpack("=IBBBBII", data[:16])
    if origin not in (_SO_EE_ORIGIN_ICMP, _SO_EE_ORIGIN_ICMP6):
        return None
    family = "ipv4" if origin == _SO_EE_ORIGIN_ICMP else "ipv6"
    offender: str | None = None
    tail = data[16:]
    if len(tail) >= 2:
        (sa_family,) = struct.unpack("=H", tail[:2])
        if sa_family == socket.AF_INET and len(tail) >= 8:
            offender = str(ipaddress.IPv4Address(tail[4:8]))
        elif sa_family == socket.AF_INET6 and len(tail) >= 24:
            offender = str(ipaddress.IPv6Address(tail[8:24]))
    if offender in ("0.0.0.0", "::"):
        offender = None
    return IcmpReport(family=family, type=icmp_type, code=icmp_code, offender=offender)


def _read_icmp(sock: socket.socket) -> IcmpReport | None:
    if sys.platform.startswith("linux"):
        try:
            _data, ancillary, _flags, _addr = sock.recvmsg(1, 512, socket.MSG_ERRQUEUE | socket.MSG_DONTWAIT)
        except OSError:
            return None
        for level, kind, data in ancillary:
            if (level, kind) in ((socket.IPPROTO_IP, _IP_RECVERR), (socket.IPPROTO_IPV6, _IPV6_RECVERR)):
                report = parse_extended_error(level, kind, data)
                if report is not None:
                    return dataclasses.replace(report, local=is_local_address(report.offender))
    return None  # elsewhere no ICMP detail is available


def is_local_address(address: str | None) -> bool:
    """Whether an address belongs to this host (binding to it succeeds only then)."""
    if address is None:
        return False
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.bind((address, 0))
    except OSError:
        return False
    return True


async def connect(address: str, port: int, timeout: float) -> ConnectAttempt:
    attempt, sock = await open_connection(address, port, timeout)
    if sock is not None:
        sock.close()
    return attempt


async def open_connection(address: str, port: int, timeout: float) -> tuple[ConnectAttempt, socket.socket | None]:
    """One connect; on success the connected non-blocking socket is handed over (the caller closes it)."""
    loop = asyncio.get_running_loop()
    ip = ipaddress.ip_address(address.split("%", maxsplit=1)[0])
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    recverr = _recverr_option(family)
    if recverr is not None:
        try:
            sock.setsockopt(*recverr, 1)
        except OSError:
            recverr = None
    sockaddr: tuple[Any, ...] = (address, port) if family == socket.AF_INET else (address, port, 0, 0)
    start = time.monotonic()
    try:
        async with asyncio.timeout(timeout):
            await loop.sock_connect(sock, sockaddr)
    except TimeoutError:
        sock.close()
        return ConnectAttempt(address, port, "filtered", error=f"no answer within {timeout:g}s"), None
    except OSError as exc:
        winerror: int | None = getattr(exc, "winerror", None)
        number = exc.errno if exc.errno is not None else winerror
        icmp = _read_icmp(sock)
        sock.close()
        attempt = ConnectAttempt(
            address,
            port,
            classify_error(number, icmp, winerror),
            errno_name=error_name(number, winerror),
            error=exc.strerror or str(exc),
            icmp=icmp,
        )
        return attempt, None
    except BaseException:
        sock.close()
        raise
    latency_ms = round((time.monotonic() - start) * 1000, 2)
    if recverr is not None:
        # The error queue explains a failed connect; on a connection that carries traffic it would turn ICMP
        # noise into errors the application never asked for.
        with contextlib.suppress(OSError):
            sock.setsockopt(*recverr, 0)
    return ConnectAttempt(address, port, "open", latency_ms=latency_ms), sock


def _recverr_option(family: int) -> tuple[int, int] | None:
    if sys.platform.startswith("linux"):
        return (socket.IPPROTO_IP, _IP_RECVERR) if family == socket.AF_INET else (socket.IPPROTO_IPV6, _IPV6_RECVERR)
    else:  # one branch per platform, each type-checked on its own
        return None
