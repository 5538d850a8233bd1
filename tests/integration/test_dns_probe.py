"""The DNS probe against a real DNS server on loopback, one condition per name."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from dnsserver import Behaviour, DnsServer

from checks.dns import judge
from preflight.probes import dns as dns_probe

ZONE = {
    "ok.test": Behaviour(a=("127.0.0.1",), aaaa=("::1",)),
    "alias.test": Behaviour(cname="hop.test", ttl=60),
    "hop.test": Behaviour(cname="ok.test", ttl=30),
    "nodata.test": Behaviour(),
    "servfail.test": Behaviour(rcode="SERVFAIL"),
    "refused.test": Behaviour(rcode="REFUSED"),
    "silent.test": Behaviour(silent=True),
    "big.test": Behaviour(a=tuple(f"127.0.1.{i}" for i in range(1, 60)), truncate=True),
    "loop1.test": Behaviour(cname="loop2.test"),
    "loop2.test": Behaviour(cname="loop1.test"),
    "sink.test": Behaviour(a=("0.0.0.0",)),
    "login.filtered.test": Behaviour(cname="edge.filtered.test"),
    "edge.filtered.test": Behaviour(cname="blocked.cdn.test"),
    "blocked.cdn.test": Behaviour(rcode="NXDOMAIN"),  # a DNS filter cut the chain at its last link
    "sunk.test": Behaviour(cname="sinkhole.filter.test"),
    "sinkhole.filter.test": Behaviour(a=("0.0.0.0",)),
    "noaaaa.test": Behaviour(a=("127.0.0.1",), silent_types=("AAAA",)),
}


@pytest.fixture(scope="module")
def server() -> Iterator[DnsServer]:
    with DnsServer(ZONE) as running:
        yield running


def resolve(server: DnsServer, host: str, timeout: float = 1.0) -> dns_probe.Resolution:
    return asyncio.run(
        dns_probe.resolve(host, timeout=timeout, dns_servers=[("127.0.0.1", server.port)], use_system=False)
    )


@pytest.mark.parametrize(
    ("host", "code"),
    [
        ("ok.test", "dns.ok"),
        ("alias.test", "dns.ok"),
        ("nodata.test", "dns.nodata"),
        ("missing.test", "dns.nxdomain"),
        ("servfail.test", "dns.servfail"),
        ("refused.test", "dns.refused"),
        ("silent.test", "dns.timeout"),
        ("big.test", "dns.ok"),
        ("loop1.test", "dns.bad_response"),
        ("sink.test", "dns.sinkhole"),
    ],
)
def test_conditions(server: DnsServer, host: str, code: str) -> None:
    assert judge(resolve(server, host)).code == code


def test_cname_chain_is_recorded_with_ttls(server: DnsServer) -> None:
    resolution = resolve(server, "alias.test")
    a = next(ans for ans in resolution.servers if ans.qtype == "A")
    assert a.cnames == (("alias.test", "hop.test", 60), ("hop.test", "ok.test", 30))
    assert resolution.addresses == ("127.0.0.1", "::1")


def test_the_link_a_filter_broke_is_named(server: DnsServer) -> None:
    finding = judge(resolve(server, "login.filtered.test"))
    assert finding.code == "dns.nxdomain"
    assert finding.evidence["cname_chain"] == ["login.filtered.test", "edge.filtered.test", "blocked.cdn.test"]
    assert finding.evidence["broken_at"] == "blocked.cdn.test"
    assert "CNAME chain login.filtered.test → edge.filtered.test → blocked.cdn.test: blocked.cdn.test is the name " \
           "that failed" in finding.summary  # fmt: skip
    sunk = judge(resolve(server, "sunk.test"))
    assert sunk.code == "dns.sinkhole" and "through the CNAME chain sunk.test → sinkhole.filter.test" in sunk.summary


def test_truncated_answers_are_retried_over_tcp(server: DnsServer) -> None:
    resolution = resolve(server, "big.test")
    a = next(ans for ans in resolution.servers if ans.qtype == "A")
    assert a.truncated and a.transport == "tcp"
    assert len(a.addresses) == 59


def test_silence_is_bounded_by_the_timeout(server: DnsServer) -> None:
    loop_start = asyncio.run(_elapsed(server, "silent.test", 0.5))
    assert loop_start < 2.0


async def _elapsed(server: DnsServer, host: str, timeout: float) -> float:
    start = asyncio.get_running_loop().time()
    await dns_probe.resolve(host, timeout=timeout, dns_servers=[("127.0.0.1", server.port)], use_system=False)
    return asyncio.get_running_loop().time() - start


def test_an_answered_a_with_a_silent_aaaa_still_resolves(server: DnsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """getaddrinfo waits for the dropped AAAA query past --timeout (glibc: resolv.conf's timeout times attempts;
    Windows' DNS client: its retry schedule); the A answer is in hand, so the name resolves, with a warning."""

    async def waits_for_the_aaaa(host: str, timeout: float) -> dns_probe.SystemLookup:
        await asyncio.sleep(timeout)
        return dns_probe.SystemLookup(error="timeout", error_text=f"no answer within {timeout:g}s")

    monkeypatch.setattr(dns_probe, "system_lookup", waits_for_the_aaaa)
    resolution = asyncio.run(
        dns_probe.resolve("noaaaa.test", timeout=0.5, dns_servers=[("127.0.0.1", server.port)], use_system=True)
    )
    assert resolution.addresses == ("127.0.0.1",) and resolution.from_answers
    finding = judge(resolution)
    assert (finding.status.value, finding.code) == ("warn", "dns.partial")
    assert f"AAAA to 127.0.0.1:{server.port}" in finding.summary
    assert finding.evidence["addresses_from"].startswith("the DNS servers' answers")
    # Nothing answered at all: still a timeout, never addresses from nowhere.
    silent = asyncio.run(
        dns_probe.resolve("silent.test", timeout=0.5, dns_servers=[("127.0.0.1", server.port)], use_system=True)
    )
    assert silent.addresses == () and judge(silent).code == "dns.timeout"


def test_two_servers_one_failing_is_inconsistent(server: DnsServer) -> None:
    with DnsServer({"ok.test": Behaviour(rcode="SERVFAIL")}) as broken:
        resolution = asyncio.run(
            dns_probe.resolve(
                "ok.test", timeout=1, dns_servers=[("127.0.0.1", server.port), ("127.0.0.1", broken.port)],
                use_system=False,
            )
        )  # fmt: skip
    assert judge(resolution).code == "dns.inconsistent"
    assert set(resolution.nameservers) == {f"127.0.0.1:{server.port}", f"127.0.0.1:{broken.port}"}


def test_an_address_is_its_own_resolution_and_asks_no_dns() -> None:
    """An endpoint given as an address must not send DNS queries for that address (it reached the real resolver)."""
    import asyncio

    from preflight import profile as profile_mod
    from preflight.engine import plan as plan_mod
    from preflight.engine.context import RunContext, RunOptions

    async def resolve() -> tuple[str, tuple[str, ...], int]:
        ctx = RunContext(plan_mod.build(profile_mod.load("entra-private-access")), RunOptions(timeout=0.2))
        found = await ctx.resolve("198.51.100.7")
        six = await ctx.resolve("2001:db8::7")
        return found.source, (*found.addresses, *six.addresses), len(ctx._memo)

    assert asyncio.run(resolve()) == ("literal", ("198.51.100.7", "2001:db8::7"), 0)


class WinError(ConnectionResetError):
    """What recvfrom raises on Windows after an ICMP port unreachable for an earlier sendto."""

    winerror = 10054


@pytest.mark.parametrize("error", [WinError(104, "An existing connection was forcibly closed by the remote host"),
                                   ConnectionRefusedError(111, "Connection refused")])  # fmt: skip
def test_a_closed_dns_server_port_is_unreachable(error: OSError, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from checks.dns import judge
    from preflight.probes import dns as dns_probe

    async def refused(self: object, size: int, timeout: float | None) -> tuple[bytes, object]:
        raise error

    monkeypatch.setattr(dns_probe._UdpSocket, "recvfrom", refused)
    answer = asyncio.run(dns_probe.query_server("a.test", "A", ("127.0.0.1", 53), 1.0))
    assert answer.outcome == "unreachable" and "ICMP port unreachable" in (answer.error or "")
    resolution = dns_probe.Resolution("a.test", "dns-server", (), None, (answer,), ("127.0.0.1:53",))
    assert judge(resolution).code == "dns.unreachable"


def test_a_resolver_over_tcp_answers_or_refuses_on_loopback() -> None:
    import socket

    from preflight.probes.dns import ask_over_tcp

    with DnsServer({}) as server:
        answered = asyncio.run(ask_over_tcp((server.host, server.port), 2.0))
    assert (answered.connect, answered.answered, answered.rcode) == ("open", True, "NXDOMAIN")
    assert [(transport, qtype) for transport, _name, qtype in server.queries] == [("tcp", "NS")]
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    refused = asyncio.run(ask_over_tcp(("127.0.0.1", port), 2.0))
    assert (refused.connect, refused.answered) == ("refused", None)
    assert "no DNS server listens there" in refused.describe()


def test_a_resolver_that_accepts_tcp_but_never_answers_is_bounded_by_the_timeout() -> None:
    from preflight.probes.dns import ask_over_tcp

    with DnsServer({".": Behaviour(tcp_silent=True)}) as server:
        found = asyncio.run(ask_over_tcp((server.host, server.port), 0.5))
    assert (found.connect, found.answered) == ("open", False) and "within 0.5s" in (found.error or "")
