"""Test network guard: refuses, and records, any attempt to reach an address outside the allowed networks.

Allowed: loopback, plus the networks in $PREFLIGHT_GUARD_ALLOW (comma-separated CIDRs, set by namespace tests for
the lab's own ranges). Name lookups through the OS resolver are refused unless $PREFLIGHT_GUARD_ALLOW_NAMES=1
(namespace tests, whose resolv.conf points into the lab), because they would reach the machine's real resolver.
Violations are appended to $PREFLIGHT_GUARD_LOG so that the test that caused them fails even in a subprocess.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
from typing import Any

_LOOPBACK = [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")]
violations: list[str] = []
_installed = False


def _allowed_networks() -> list[Any]:
    extra = [ipaddress.ip_network(n.strip()) for n in os.environ.get("PREFLIGHT_GUARD_ALLOW", "").split(",") if n]
    return _LOOPBACK + extra


def _record(message: str) -> None:
    violations.append(message)
    log = os.environ.get("PREFLIGHT_GUARD_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(message + "\n")


def _check_address(address: Any, what: str) -> None:
    if not isinstance(address, tuple) or not address:
        return  # AF_UNIX paths and the like stay on this machine
    host = str(address[0]).split("%", 1)[0]
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        _record(f"{what} to unresolved name {host!r}")
        raise PermissionError(errno.EACCES, f"test network guard: {what} to name {host!r} refused") from None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if not any(ip in net for net in _allowed_networks()):
        _record(f"{what} to {ip}")
        raise PermissionError(errno.EACCES, f"test network guard: {what} to {ip} refused")


def forget() -> None:
    """For tests of the guard itself: drop the violations they provoked on purpose."""
    violations.clear()
    log = os.environ.get("PREFLIGHT_GUARD_LOG")
    if log:
        open(log, "w").close()


def install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex
    original_sendto = socket.socket.sendto
    original_sendmsg = socket.socket.sendmsg
    original_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        _check_address(address, "connect")
        return original_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        _check_address(address, "connect")
        return original_connect_ex(self, address)

    def sendto(self: socket.socket, data: Any, *args: Any) -> int:
        _check_address(args[-1], "sendto")
        return original_sendto(self, data, *args)  # type: ignore[call-overload, no-any-return]

    def sendmsg(self: socket.socket, buffers: Any, *args: Any) -> int:
        if len(args) >= 3 and args[2] is not None:
            _check_address(args[2], "sendmsg")
        return original_sendmsg(self, buffers, *args)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and os.environ.get("PREFLIGHT_GUARD_ALLOW_NAMES") != "1":
            name = host.decode() if isinstance(host, bytes) else str(host)
            try:
                ipaddress.ip_address(name.split("%", 1)[0])
            except ValueError:
                if name not in ("localhost", "ip6-localhost"):
                    _record(f"getaddrinfo({name!r}) through the OS resolver")
                    raise socket.gaierror(
                        socket.EAI_NONAME, f"test network guard: lookup of {name!r} refused"
                    ) from None
        return original_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.socket.sendto = sendto  # type: ignore[assignment]
    socket.socket.sendmsg = sendmsg  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo
