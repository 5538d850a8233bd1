"""Table-driven tests of the TCP verdict and of the error classification underneath it."""

from __future__ import annotations

import errno
import socket
import struct
from typing import Any

import pytest

from checks.tcp import CODES, TcpObserved
from checks.tcp import judge as judge_observed
from preflight.netutil import usable_addresses
from preflight.probes.tcp import ConnectAttempt, IcmpReport, classify_error, parse_extended_error

PROHIBITED = IcmpReport("ipv4", 3, 13, "198.18.0.1")
PROHIBITED6 = IcmpReport("ipv6", 1, 1, "2001:db8::1")


def judge(host: str, port: int, attempts: list[ConnectAttempt], ignored: list[str] | None = None) -> Any:
    return judge_observed(TcpObserved(host, port, tuple(attempts), tuple(ignored or ())))


def attempt(address: str, outcome: str, icmp: IcmpReport | None = None) -> ConnectAttempt:
    return ConnectAttempt(address, 443, outcome, latency_ms=1.5 if outcome == "open" else None, icmp=icmp,
                          error="no answer within 5s" if outcome == "filtered" else None)  # fmt: skip


CASES = [
    ("one open", [attempt("198.18.0.5", "open")], "tcp.open"),
    ("v4 and v6 open", [attempt("198.18.0.5", "open"), attempt("2001:db8::5", "open")], "tcp.open"),
    ("v6 broken, v4 fine", [attempt("198.18.0.5", "open"), attempt("2001:db8::5", "filtered")], "tcp.partial"),
    ("refused", [attempt("198.18.0.5", "refused")], "tcp.refused"),
    ("filtered", [attempt("198.18.0.5", "filtered")], "tcp.filtered"),
    ("prohibited", [attempt("198.18.0.5", "unreachable", PROHIBITED)], "tcp.unreachable"),
    ("local block", [attempt("198.18.0.5", "local_block")], "tcp.local_block"),
    ("error", [attempt("198.18.0.5", "error")], "tcp.error"),
    (
        "mixed failures name the most actionable",
        [attempt("198.18.0.5", "filtered"), attempt("2001:db8::5", "unreachable", PROHIBITED6)],
        "tcp.unreachable",
    ),
    ("refused outranks filtered", [attempt("198.18.0.5", "filtered"), attempt("198.18.0.6", "refused")], "tcp.refused"),
]


@pytest.mark.parametrize(("label", "attempts", "code"), CASES, ids=[c[0] for c in CASES])
def test_judge(label: str, attempts: list[ConnectAttempt], code: str) -> None:
    finding = judge("svc.test", 443, attempts)
    assert finding.code == code
    assert finding.status == CODES[code].status
    assert len(finding.evidence["attempts"]) == len(attempts)
    assert "\n" not in finding.summary


def test_partial_names_the_failed_address_and_why() -> None:
    finding = judge(
        "svc.test", 443, [attempt("198.18.0.5", "open"), attempt("2001:db8::5", "unreachable", PROHIBITED6)]
    )
    assert "2001:db8::5 unreachable" in finding.summary
    assert "administratively prohibited from 2001:db8::1" in finding.summary


@pytest.mark.parametrize(
    ("number", "icmp", "outcome"),
    [
        (errno.ECONNREFUSED, None, "refused"),
        (10061, None, "refused"),  # WSAECONNREFUSED
        (errno.ETIMEDOUT, None, "filtered"),
        (10060, None, "filtered"),  # WSAETIMEDOUT
        (errno.EHOSTUNREACH, PROHIBITED, "unreachable"),
        (errno.EHOSTUNREACH, None, "unreachable"),
        (errno.ENETUNREACH, PROHIBITED, "unreachable"),
        (errno.ENETUNREACH, None, "no_route"),
        (10051, None, "no_route"),  # WSAENETUNREACH
        (10065, None, "unreachable"),  # WSAEHOSTUNREACH
        (errno.EACCES, PROHIBITED6, "unreachable"),  # IPv6 admin-prohibited arrives as EACCES
        (errno.EACCES, None, "local_block"),
        (errno.EPERM, None, "local_block"),
        (10013, None, "local_block"),  # WSAEACCES
        (errno.EINVAL, None, "local_block"),
        (errno.EHOSTUNREACH, IcmpReport("ipv4", 3, 13, "198.18.1.2", local=True), "local_block"),
        (errno.EACCES, IcmpReport("ipv6", 1, 1, "2001:db8:1::2", local=True), "local_block"),
        (errno.EMFILE, None, "error"),
        (None, None, "error"),
    ],
)
def test_classify_error(number: int | None, icmp: IcmpReport | None, outcome: str) -> None:
    assert classify_error(number, icmp) == outcome


def test_parse_extended_error_ipv4_prohibited() -> None:
    # sock_extended_err{ee_errno=113, origin=ICMP, type=3, code=13} + sockaddr_in of 198.18.0.1
    data = struct.pack("=IBBBBII", 113, 2, 3, 13, 0, 0, 0) + struct.pack("=HH4s8x", socket.AF_INET, 0,
                                                                          bytes([198, 18, 0, 1]))  # fmt: skip
    report = parse_extended_error(socket.IPPROTO_IP, 11, data)
    assert report == IcmpReport("ipv4", 3, 13, "198.18.0.1")
    assert report.prohibited and report.meaning == "communication administratively prohibited"


def test_parse_extended_error_ipv6() -> None:
    offender = socket.inet_pton(socket.AF_INET6, "2001:db8::1")
    data = struct.pack("=IBBBBII", 13, 3, 1, 1, 0, 0, 0) + struct.pack("=HHI16sI", socket.AF_INET6, 0, 0, offender, 0)
    report = parse_extended_error(socket.IPPROTO_IPV6, 25, data)
    assert report == IcmpReport("ipv6", 1, 1, "2001:db8::1")
    assert report.prohibited


def test_is_local_address() -> None:
    from preflight.probes.tcp import is_local_address

    assert is_local_address("127.0.0.1") and is_local_address("::1")
    assert not is_local_address("192.0.2.1") and not is_local_address(None)


@pytest.mark.parametrize("data", [b"", b"\x00" * 15, struct.pack("=IBBBBII", 1, 1, 0, 0, 0, 0, 0)])
def test_parse_extended_error_ignores_non_icmp_or_short(data: bytes) -> None:
    assert parse_extended_error(0, 11, data) is None


@pytest.mark.parametrize(
    ("host", "addresses", "usable", "ignored"),
    [
        ("a.test", ["127.0.0.1", "::1"], ["127.0.0.1", "::1"], []),
        ("a.test", ["0.0.0.0"], [], ["0.0.0.0"]),
        ("login.microsoftonline.com", ["127.0.0.1", "198.18.0.1"], ["198.18.0.1"], ["127.0.0.1"]),
        ("login.microsoftonline.com", ["10.0.0.4"], ["10.0.0.4"], []),  # private endpoints are worth testing
        ("login.microsoftonline.com", ["::ffff:127.0.0.1", "::"], [], ["::ffff:127.0.0.1", "::"]),
    ],
)
def test_usable_addresses(host: str, addresses: list[str], usable: list[str], ignored: list[str]) -> None:
    assert usable_addresses(host, addresses) == (usable, ignored)


def test_unrouted_ipv6_next_to_working_ipv4_is_not_a_warning() -> None:
    finding = judge("svc.test", 443, [attempt("198.18.0.5", "open"), attempt("2001:db8::5", "no_route")])
    assert finding.code == "tcp.open"
    assert finding.evidence["ipv6_not_routed"] == ["2001:db8::5"]
    assert "IPv6 is not routed" in finding.summary


def test_no_route_alone_is_unreachable() -> None:
    assert judge("svc.test", 443, [attempt("198.18.0.5", "no_route")]).code == "tcp.unreachable"


def test_unrouted_ipv4_is_still_a_partial() -> None:
    finding = judge("svc.test", 443, [attempt("2001:db8::5", "open"), attempt("198.18.0.5", "no_route")])
    assert finding.code == "tcp.partial"


class WinError(OSError):
    """An OSError as CPython raises it on Windows: a winerror, and the errno it was mapped to (EINVAL by default)."""

    def __init__(self, winerror: int, mapped_errno: int, message: str) -> None:
        super().__init__(mapped_errno, message)
        self.winerror = winerror


# (winerror, the errno CPython maps it to, outcome): what the proactor loop's ConnectEx really reports
WINDOWS_CASES = [
    (1225, errno.EINVAL, "refused"),  # ERROR_CONNECTION_REFUSED, mapped to EINVAL: was tcp.error
    (10061, errno.ECONNREFUSED, "refused"),
    (64, errno.EINVAL, "refused"),  # ERROR_NETNAME_DELETED
    (1236, errno.EINVAL, "refused"),  # ERROR_CONNECTION_ABORTED
    (121, errno.EINVAL, "filtered"),  # ERROR_SEM_TIMEOUT
    (10060, errno.ETIMEDOUT, "filtered"),
    (1231, errno.EINVAL, "no_route"),  # ERROR_NETWORK_UNREACHABLE
    (1232, errno.EINVAL, "unreachable"),  # ERROR_HOST_UNREACHABLE
    (10065, errno.EHOSTUNREACH, "unreachable"),
    (10013, errno.EACCES, "local_block"),  # WSAEACCES: the host firewall
    (10024, errno.EMFILE, "error"),  # WSAEMFILE: not a network condition
]


@pytest.mark.parametrize(("winerror", "mapped", "outcome"), WINDOWS_CASES)
def test_classify_windows_errors_by_winerror_first(winerror: int, mapped: int, outcome: str) -> None:
    assert classify_error(mapped, None, winerror) == outcome


@pytest.mark.parametrize(("winerror", "mapped", "outcome"), WINDOWS_CASES[:3])
def test_a_windows_connect_failure_end_to_end(winerror: int, mapped: int, outcome: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    import asyncio

    from preflight.probes import tcp

    async def failing_connect(self: object, sock: object, address: object) -> None:
        raise WinError(winerror, mapped, "The remote computer refused the network connection")

    monkeypatch.setattr(asyncio.selector_events.BaseSelectorEventLoop, "sock_connect", failing_connect)
    monkeypatch.setattr(tcp, "_read_icmp", lambda sock: None)  # no IP_RECVERR on Windows
    attempt = asyncio.run(tcp.connect("127.0.0.1", 9, 1.0))
    assert attempt.outcome == outcome
    assert attempt.errno_name is not None and attempt.errno_name.startswith(f"WinError {winerror}")


@pytest.mark.parametrize(
    ("winerror", "outcome"),
    [(64, "reset"), (10054, "reset"), (1236, "closed"), (10053, "closed"), (121, "timeout"), (10060, "timeout"),
     (10024, "error")],
)  # fmt: skip
def test_a_tls_handshake_ended_by_a_windows_error(winerror: int, outcome: str) -> None:
    from preflight.probes.tls import _failed_handshake

    failed = _failed_handshake("198.51.100.7", 443, "a.test", WinError(winerror, errno.EINVAL, "winerror"), 5.0, 1.0)
    assert failed.outcome == outcome


@pytest.mark.parametrize(
    ("message", "outcome"),
    [("[WinError 1225] The remote computer refused the network connection", "refused"),
     ("[WinError 10061] No connection could be made because the target machine actively refused it", "refused"),
     ("[WinError 10060] A connection attempt failed because the connected party did not properly respond", "timeout"),
     ("[WinError 1232] The network location cannot be reached", "error"),
     ("[Errno 111] Connection refused", "refused"),
     ("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed", "tls_error")],
)  # fmt: skip
def test_an_http_connect_error_on_windows(message: str, outcome: str) -> None:
    from preflight.probes.http import classify_connect_error

    assert classify_connect_error(message) == outcome
