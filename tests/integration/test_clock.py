"""Clock skew: the verdict table, SNTP reply validation, and live runs against loopback SNTP and Date servers."""

from __future__ import annotations

import asyncio
import struct
import time
from pathlib import Path
from typing import Any

import pytest
from dnsserver import Behaviour, DnsServer
from helpers import cli_env, run_cli
from ntpserver import NtpServer
from pki import DAY, NOW, FakePki, write_bundle
from tlsserver import TlsServer

from checks.clock import CODES, judge
from preflight.probes.ntp import ERA, DateReading, NtpReading, NtpSample, build_request, from_ntp, parse_reply, to_ntp


def ntp(offset: float, delay: float = 0.02, outcome: str = "ok") -> NtpReading:
    sample = NtpSample(offset, delay, 2, 0, "198.18.0.1", 2**-20) if outcome == "ok" else None
    return NtpReading("time.lab", "198.18.53.10", 123, outcome, sample, 4 if sample else 0)


def unresolved() -> NtpReading:
    return NtpReading("time.lab", None, 123, "unresolved", reason="time.lab did not resolve (timeout)")


def date(offset: float) -> DateReading:
    return DateReading("login.lab", "198.18.50.10", 443, "ok", offset, 0.6, "Fri, 27 Nov 2026 18:00:00 GMT")


CASES = [
    ("in sync", [ntp(0.3)], None, False, "clock.ok"),
    ("59 s is fine", [ntp(59)], None, False, "clock.ok"),
    ("61 s warns", [ntp(61)], None, False, "clock.skew_warn"),
    ("-120 s warns", [ntp(-120)], None, False, "clock.skew_warn"),
    ("+600 s fails", [ntp(600)], None, False, "clock.skew_fail"),
    ("-301 s fails", [ntp(-301)], None, False, "clock.skew_fail"),
    ("uncertainty keeps 301 s under the limit", [ntp(301, delay=4.0)], None, False, "clock.skew_warn"),
    ("best of several servers", [ntp(0.1, delay=3.0), ntp(0.2, delay=0.01)], None, False, "clock.ok"),
    ("ntp silent, trusted date fine", [ntp(0, outcome="timeout")], date(1.0), True, "clock.ntp_blocked"),
    ("ntp silent, trusted date skewed", [ntp(0, outcome="timeout")], date(900), True, "clock.skew_fail"),
    ("ntp kiss-of-death, trusted date", [ntp(0, outcome="kiss_of_death")], date(0.5), True, "clock.ntp_blocked"),
    ("ntp silent, date over an intercepted path", [ntp(0, outcome="timeout")], date(0.5), False, "clock.unavailable"),
    ("nothing at all", [ntp(0, outcome="timeout")], None, False, "clock.unavailable"),
    ("no servers configured", [], None, False, "clock.unavailable"),
    ("ntp name unresolved, trusted date fine", [unresolved()], date(0.5), True, "clock.ntp_unresolved"),
    (
        "ntp name unresolved, another server silent",
        [unresolved(), ntp(0, outcome="timeout")],
        date(0.5),
        True,
        "clock.ntp_blocked",
    ),
    ("ntp name unresolved, no date", [unresolved()], None, False, "clock.unavailable"),
]


@pytest.mark.parametrize(("label", "readings", "reading", "trusted", "code"), CASES, ids=[c[0] for c in CASES])
def test_judge(label: str, readings: list[NtpReading], reading: DateReading | None, trusted: bool, code: str) -> None:
    finding, offset = judge(readings, reading, trusted, 60.0, 300.0)
    assert finding.code == code, finding.summary
    assert finding.status == CODES[code].status
    assert (offset is None) == (code == "clock.unavailable")


def test_an_unresolved_ntp_name_is_folded_under_the_dns_cause_not_blamed_on_udp_123() -> None:
    finding, _ = judge([unresolved()], None, False, 60.0, 300.0, dns_root="dns.resolve/login.lab")
    assert (finding.code, finding.caused_by) == ("clock.unavailable", "dns.resolve/login.lab")
    assert "did not resolve" in finding.summary and "UDP" not in finding.summary
    assert "name resolution" in finding.remediation and "UDP 123" not in finding.remediation
    silent, _ = judge([ntp(0, outcome="timeout")], None, False, 60.0, 300.0)
    assert silent.caused_by is None and "UDP 123" in silent.remediation  # a silent server is still UDP 123


T1 = 1_800_000_000.0


def reply(**changes: Any) -> bytes:
    fields = {"first": (0 << 6) | (4 << 3) | 4, "stratum": 2, "origin": b"ORIGIN!!", "receive": to_ntp(T1 + 5),
              "transmit": to_ntp(T1 + 5.001), "ref": b"\xc6\x12\x00\x01"}  # fmt: skip
    fields.update(changes)
    return (struct.pack("!BBbb", fields["first"], fields["stratum"], 4, -20) + bytes(8) + fields["ref"]
            + bytes(8) + fields["origin"] + fields["receive"] + fields["transmit"])  # fmt: skip


@pytest.mark.parametrize(
    ("label", "data", "outcome"),
    [
        ("valid", reply(), "ok"),
        ("short", reply()[:40], "rejected"),
        ("client mode", reply(first=(4 << 3) | 3), "rejected"),
        ("wrong origin", reply(origin=b"SPOOFED!"), "rejected"),
        ("kiss of death", reply(stratum=0, ref=b"DENY"), "kiss_of_death"),
        ("stratum 16", reply(stratum=16), "rejected"),
        ("leap indicator 3", reply(first=(3 << 6) | (4 << 3) | 4), "rejected"),
        ("zero transmit", reply(transmit=bytes(8)), "rejected"),
    ],
)
def test_parse_reply(label: str, data: bytes, outcome: str) -> None:
    got, sample, _detail = parse_reply(data, b"ORIGIN!!", T1, T1 + 0.02)
    assert got == outcome
    if outcome == "ok":
        assert sample is not None and abs(sample.offset_s - 5.0) < 0.01 and sample.delay_s < 0.03


def test_era_rollover_timestamps_are_placed_in_the_nearest_era() -> None:
    after_2036 = 2_085_978_496.0 + 100  # just past the NTP era 0 rollover (2036-02-07)
    raw = to_ntp(after_2036)
    assert struct.unpack("!I", raw[:4])[0] < 1000  # the seconds field wrapped
    assert abs(from_ntp(raw, after_2036 - 50) - after_2036) < 1e-3
    assert abs(from_ntp(to_ntp(T1), T1) - T1) < 1e-3
    assert ERA == 2**32


def test_request_is_a_client_packet_with_our_transmit() -> None:
    packet = build_request(b"RANDOM!!")
    assert len(packet) == 48 and packet[0] == 0x23 and packet[40:] == b"RANDOM!!"


@pytest.mark.parametrize("mode", ["kod", "wrong_origin", "leap3", "stratum16", "client_mode", "silent"])
def test_misbehaving_servers_never_give_an_offset(mode: str) -> None:
    from preflight.probes.ntp import query

    with NtpServer(mode=mode, offset_s=9999) as server:
        start = time.monotonic()
        reading = asyncio.run(query("lab", "127.0.0.1", server.port, 0.3))
    assert reading.outcome != "ok" and reading.sample is None
    assert time.monotonic() - start < 2.0
    if mode == "kod":
        assert reading.kiss_code == "RATE"


def run_clock(tmp: Path, ntp_server: NtpServer | None, *extra: str, rows: str = "", roots: Path | None = None,
              zone: dict[str, Behaviour] | None = None) -> Any:  # fmt: skip
    servers = [f"127.0.0.1:{ntp_server.port}"] if ntp_server else []
    profile = tmp / "clock.toml"
    tls = f'[tls]\nexpected_roots = "{roots}"\n' if roots else ""
    body = rows or '[[endpoint]]\nhost = "nothing.test"\nports = [9]\npurpose = "p"\nsource = "s"\n'
    profile.write_text(f'name = "clock"\n{tls}[clock]\nntp_servers = {servers!r}\n{body}'.replace("'", '"'))
    with DnsServer(zone or {}) as dns:
        return run_cli("run", "--profile", str(profile), "--dns-server", dns.address, "--timeout", "1",
                       "--format", "json", *extra, env=cli_env())  # fmt: skip


@pytest.mark.parametrize(("offset", "code"), [(0, "clock.ok"), (-120, "clock.skew_warn"), (600, "clock.skew_fail")])
def test_live_sntp_offsets(tmp_path: Path, offset: float, code: str) -> None:
    with NtpServer(offset_s=offset) as server:
        run = run_clock(tmp_path, server, "--only", "clock.*")
    result = run.result("clock.skew", "system clock")
    assert result["code"] == code
    assert abs(result["evidence"]["offset_s"] - offset) < 0.5


def test_ntp_server_option_overrides_the_profile(tmp_path: Path) -> None:
    with NtpServer(offset_s=600) as skewed, NtpServer(offset_s=0) as good:
        run = run_clock(tmp_path, skewed, "--only", "clock.*", "--ntp-server", f"127.0.0.1:{good.port}")
    assert run.result("clock.skew", "system clock")["code"] == "clock.ok"
    assert skewed.requests == 0


def test_skewed_clock_is_reported_as_skew_not_as_a_bad_certificate(tmp_path: Path) -> None:
    """Real time is 400 days ahead of this host. The server's certificate is valid only at real time: the
    verdict must be clock.skew_fail with tls.ok and tls.clean, not tls.not_yet_valid or interception."""
    pki = FakePki.build()
    name = "login.future.test"
    chain, key = pki.server_files(tmp_path, [name], not_before=NOW + 390 * DAY, not_after=NOW + 500 * DAY)
    roots = write_bundle(tmp_path / "roots.pem", pki.root, pki.ms_root)
    with NtpServer(offset_s=400 * 86400) as server, TlsServer("ok", chain, key) as tls:
        rows = f'[[endpoint]]\nhost = "{name}"\nports = [{tls.port}]\npurpose = "p"\nsource = "s"\ntls = true\n'
        run = run_clock(tmp_path, server, rows=rows, roots=roots, zone={name: Behaviour(a=("127.0.0.1",))})
    assert run.result("clock.skew", "system clock")["code"] == "clock.skew_fail"
    key_ = f"{name}:{tls.port}"
    assert run.result("tls.handshake", key_)["code"] == "tls.ok", run.result("tls.handshake", key_)["summary"]
    assert run.result("tls.interception", key_)["code"] == "tls.clean"


def test_an_ntp_port_that_rejects_is_unreachable_at_once() -> None:
    """A closed UDP port answers with ICMP port unreachable: reported as such, without waiting out the timeout."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
    from preflight.probes.ntp import query

    start = time.monotonic()
    reading = asyncio.run(query("closed", "127.0.0.1", port, 3.0))
    assert reading.outcome == "unreachable", reading
    assert time.monotonic() - start < 1.5 and "ICMP port unreachable" in (reading.reason or "")
