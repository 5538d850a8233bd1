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
