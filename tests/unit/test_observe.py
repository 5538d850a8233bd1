"""Each check's `observe(target, ctx)` against the dict-backed fake context (tests/support/fakecontext.py): what
it asks of the run, in which order, and the typed observation it hands its pure judge. No socket is opened."""

from __future__ import annotations

from typing import Any

from fakecontext import FakeContext, resolution, run

from checks import clocksource
from checks import dns as dns_check
from checks.tcp import TcpObserved, judge, observe
from preflight.host.hostsfile import HostsEntry
from preflight.model import Endpoint, Target
from preflight.probes.ntp import DateReading, NtpReading, NtpSample
from preflight.probes.tcp import ConnectAttempt
from preflight.proxy.sources import Route
from preflight.proxy.url import ProxyConfig

SVC = Target("svc.example", 443)


def open_(address: str) -> ConnectAttempt:
    return ConnectAttempt(address, 443, "open", latency_ms=2.0)


def test_tcp_connects_to_every_usable_address_ipv4_first() -> None:
    ctx = FakeContext(
        resolutions={"svc.example": resolution("svc.example", "2001:db8::7", "198.18.0.7", "198.18.0.8")},
        connects={
            ("198.18.0.7", 443): open_("198.18.0.7"),
            ("198.18.0.8", 443): ConnectAttempt("198.18.0.8", 443, "filtered", error="no answer within 1s"),
            ("2001:db8::7", 443): open_("2001:db8::7"),
        },
    )
    seen = run(observe(SVC, ctx))
    assert [a.address for a in seen.attempts] == ["198.18.0.7", "198.18.0.8", "2001:db8::7"]
    assert ctx.asked[0] == ("resolve", "svc.example")
    assert judge(seen).code == "tcp.partial"


def test_tcp_skips_addresses_that_only_test_this_host() -> None:
    public = Target("login.contoso.com", 443)  # a public name's loopback answer tests this host, not the path
    ctx = FakeContext(
        resolutions={"login.contoso.com": resolution("login.contoso.com", "0.0.0.0", "127.0.0.1", "198.18.0.7")},
        connects={("198.18.0.7", 443): open_("198.18.0.7")},
    )
    seen = run(observe(public, ctx))
    assert seen.ignored == ("0.0.0.0", "127.0.0.1") and [a.address for a in seen.attempts] == ["198.18.0.7"]
    assert [q for q in ctx.asked if q[0] == "connect"] == [("connect", "198.18.0.7", 443)]


def test_tcp_with_nothing_to_connect_to_points_at_the_dns_result() -> None:
    ctx = FakeContext(resolutions={"svc.example": resolution("svc.example", "0.0.0.0")}, selected={"dns.resolve"})
    seen = run(observe(SVC, ctx))
    assert seen == TcpObserved("svc.example", 443, (), ("0.0.0.0",), ("0.0.0.0",), "dns.resolve/svc.example")
    finding = judge(seen)
    assert (finding.code, finding.caused_by) == ("tcp.no_address", "dns.resolve/svc.example")
    assert [q[0] for q in ctx.asked] == ["resolve"]  # no connect was made


def _ntp_ok(server: str, offset: float, delay: float) -> NtpReading:
    return NtpReading(server, "198.18.0.123", 123, "ok", NtpSample(offset, delay, 2, 0, "GPS", 0.001), samples=4)


def test_the_clock_asks_every_ntp_server_and_an_https_date_at_once() -> None:
    ctx = FakeContext(
        endpoints=(Endpoint("svc.example", (443,), "p", "s"),),
        ntp_servers=("time.example", "198.18.0.124"),
        resolutions={
            "time.example": resolution("time.example", "198.18.0.123"),
            "svc.example": resolution("svc.example", "198.18.0.7"),
        },
        ntp_answers={
            "time.example": _ntp_ok("time.example", 3.5, 0.02),
            "198.18.0.124": NtpReading("198.18.0.124", "198.18.0.124", 123, "timeout", reason="no answer"),
        },
        path_answers={("svc.example", 443): []},
    )
    seen = run(clocksource.observe(ctx))
    assert [r.outcome for r in seen.readings] == ["ok", "timeout"]
    assert seen.date is None and seen.date_trusted is False
    offset = clocksource.measured_offset(seen.readings, seen.date, seen.date_trusted)
    assert offset is not None and offset.seconds == 3.5 and offset.source == "NTP time.example"
    # asked once however often the measurement is wanted
    again = run(clocksource.observe(ctx))
    assert again is not seen or again == seen


def test_an_unresolvable_ntp_server_is_a_reading_not_a_crash() -> None:
    ctx = FakeContext(
        ntp_servers=("time.example",),
        resolutions={"time.example": resolution("time.example")},
    )
    seen = run(clocksource.observe(ctx))
    assert [(r.outcome, r.reason) for r in seen.readings] == [
        ("unresolved", "time.example did not resolve (no answer)")
    ]
    assert [q[0] for q in ctx.asked] == ["resolve"]  # no NTP exchange with a name that has no address


def test_the_https_date_is_read_on_the_first_path_that_opens_and_trusted_only_on_a_clean_chain() -> None:
    ctx = FakeContext(
        endpoints=(Endpoint("svc.example", (443,), "p", "s"), Endpoint("other.example", (443,), "p", "s")),
        path_answers={("svc.example", 443): [], ("other.example", 443): [("198.18.0.8", None)]},
        dates={("other.example", 443): DateReading("other.example", "198.18.0.8", 443, "ok", 90.0, 0.5)},
    )
    seen = run(clocksource.observe(ctx))
    assert seen.readings == () and seen.date is not None and seen.date.host == "other.example"
    assert seen.date_trusted is False  # no chain came with it: an interceptor's clock is no reference
    assert clocksource.measured_offset(seen.readings, seen.date, seen.date_trusted) is None
    assert ("https_date", "svc.example", 443) not in ctx.asked


def test_no_path_opening_names_the_dns_result_that_explains_it() -> None:
    ctx = FakeContext(
        endpoints=(Endpoint("svc.example", (443,), "p", "s"),),
        path_answers={("svc.example", 443): []},
        resolutions={"svc.example": resolution("svc.example")},
        selected={"dns.resolve"},
    )
    seen = run(clocksource.observe(ctx))
    assert seen.date is None and seen.dns_root == "dns.resolve/svc.example"


def test_dns_reads_the_hosts_file_lines_for_the_name_and_the_route_of_every_port() -> None:
    pinned = HostsEntry(3, "10.9.9.9", ("svc.example",), "10.9.9.9 svc.example")
    other = HostsEntry(4, "10.9.9.8", ("other.example",), "10.9.9.8 other.example")
    ctx = FakeContext(
        endpoints=(Endpoint("svc.example", (443, 8398), "p", "s"),),
        resolutions={"svc.example": resolution("svc.example", "198.18.0.7")},
        hosts=("/etc/hosts", [pinned, other]),
    )
    seen = run(dns_check.observe(Target("svc.example"), ctx))
    assert seen.hosts_entries == (pinned,) and seen.proxied is False
    assert dns_check.judge_observed(seen).code == "dns.ok"  # DNS gave no answers of its own to compare with


def test_dns_of_a_name_whose_every_port_is_proxied_is_only_a_warning() -> None:
    proxy = Route(ProxyConfig("http", "proxy.example", 3128), "--proxy")
    ctx = FakeContext(
        endpoints=(Endpoint("svc.example", (443,), "p", "s"),),
        resolutions={"svc.example": resolution("svc.example")},
        routes={("svc.example", 443): proxy},
    )
    seen = run(dns_check.observe(Target("svc.example"), ctx))
    assert seen.proxied is True
    finding = dns_check.judge_observed(seen)
    assert finding.status.value == "warn" and "every port of this host goes through the proxy" in finding.summary


def test_tls_with_no_path_open_points_at_the_stage_that_explains_it() -> None:
    from checks.tls import TlsHandshakeCheck, judge_observed

    check = TlsHandshakeCheck()
    direct = FakeContext(handshake_answers={("svc.example", 443): []}, selected={"tcp.connect"})
    seen = run(check.observe(SVC, direct))
    assert seen.handshakes == () and seen.upstream == "tcp.connect"
    finding = judge_observed(seen)
    assert (finding.code, finding.caused_by) == ("run.upstream", "tcp.connect/svc.example")
    proxy = Route(ProxyConfig("http", "proxy.example", 3128), "--proxy")
    proxied = FakeContext(
        handshake_answers={("svc.example", 443): []}, routes={("svc.example", 443): proxy}, selected={"proxy.tunnel"}
    )
    assert judge_observed(run(check.observe(SVC, proxied))).caused_by == "proxy.tunnel/svc.example"


def test_the_tunnel_goes_through_the_proxy_the_route_takes() -> None:
    from checks.proxy import judge_carrier, judge_tunnel, observe_tunnel
    from preflight.probes.proxy import TunnelResult

    proxy = Route(ProxyConfig("http", "proxy.example", 3128), "--proxy")
    answer = TunnelResult(
        "http://proxy.example:3128",
        "198.18.0.3",
        "svc.example",
        443,
        "auth_required",
        407,
        proxy_authenticate=("Negotiate",),
    )
    ctx = FakeContext(routes={("svc.example", 443): proxy}, tunnels={("svc.example", 443): answer})
    seen = run(observe_tunnel(SVC, ctx))
    assert seen.tried == (answer,) and seen.via == "http://proxy.example:3128"
    assert ctx.asked == [("tunnel", "svc.example", 443)]
    assert judge_carrier(seen).code == judge_tunnel(answer).code == "proxy.auth_required"


def test_a_dead_first_proxy_of_the_list_is_passed_over_as_the_connector_does() -> None:
    from checks.proxy import judge_carrier, observe_tunnel
    from preflight.probes.proxy import TunnelResult

    dead, alive = ProxyConfig("http", "198.18.0.3", 3129), ProxyConfig("http", "198.18.0.4", 3128)
    route = Route(dead, "PAC --pac: PROXY 198.18.0.3:3129; PROXY 198.18.0.4:3128", (alive,))
    refused = TunnelResult(dead.display, "198.18.0.3", "svc.example", 443, "unreachable", error="refused")
    carried = TunnelResult(alive.display, "198.18.0.4", "svc.example", 443, "ok", 200)
    ctx = FakeContext(
        routes={("svc.example", 443): route},
        tunnels_via={(dead.display, "svc.example", 443): refused, (alive.display, "svc.example", 443): carried},
    )
    seen = run(observe_tunnel(SVC, ctx))
    assert seen.tried == (refused, carried) and seen.via == alive.display
    finding = judge_carrier(seen)
    assert finding.code == "proxy.failover" and finding.status.value == "warn"
    assert "http://198.18.0.3:3129 (refused) cannot be connected to" in finding.summary
    assert [t["proxy"] for t in finding.evidence["tried"]] == [dead.display, alive.display]


def test_the_tenant_observation_names_every_cloud_s_profile() -> None:
    from checks.tenant import judge_observed
    from checks.tenant import observe as observe_tenant
    from preflight.tenant.discovery import TenantResolution

    ctx = FakeContext(tenant=TenantResolution("domain", "contoso.onmicrosoft.com", ended="run.deadline"))
    seen = run(observe_tenant(Target("tenant"), ctx))
    assert seen.profile_cloud == "microsoftonline.com" and seen.clouds["microsoftonline.us"] == "azure-government"
    finding = judge_observed(seen)
    assert (finding.code, finding.summary) == ("run.deadline", "the lookup of contoso.onmicrosoft.com did not finish")
    assert ctx.asked == []  # nothing on the network: the lookup was made before the checks


def test_crl_with_no_chain_naming_the_host_probes_its_root_on_every_address() -> None:
    from checks.crl import judge_observed
    from checks.crl import observe as observe_crl
    from preflight.probes.http import HttpFetch

    crl = Target("crl.example", 80)
    url = "http://crl.example/"
    ctx = FakeContext(
        resolutions={"crl.example": resolution("crl.example", "198.18.0.80", "198.18.0.81")},
        connects={
            ("198.18.0.80", 80): ConnectAttempt("198.18.0.80", 80, "open", latency_ms=1.0),
            ("198.18.0.81", 80): ConnectAttempt("198.18.0.81", 80, "filtered", error="no answer within 1s"),
        },
        fetches={(url, "198.18.0.80"): HttpFetch(url, "198.18.0.80", "GET", "response", 200, "text/plain")},
    )
    seen = run(observe_crl(crl, ctx))
    assert [(row["address"], row["code"]) for row in seen.fetches] == [
        ("198.18.0.80", "crl.reachable"),
        ("198.18.0.81", "crl.filtered"),
    ]
    assert ("http", url, "198.18.0.81") not in ctx.asked  # no HTTP on an address whose connect failed
    assert judge_observed(seen).code == "crl.filtered"


def test_crl_without_an_address_points_at_the_dns_result() -> None:
    from checks.crl import judge_observed
    from checks.crl import observe as observe_crl

    ctx = FakeContext(resolutions={"crl.example": resolution("crl.example")}, selected={"dns.resolve"})
    seen = run(observe_crl(Target("crl.example", 80), ctx))
    assert seen.fetches == () and seen.dns_result == "dns.resolve/crl.example"
    assert judge_observed(seen).caused_by == "dns.resolve/crl.example"


def test_interception_reads_the_served_chains_and_the_expected_anchors(tmp_path: Any) -> None:
    from pki import FakePki, leaf, write_bundle

    from checks.interception import TlsInterceptionCheck
    from preflight.probes.tls import Handshake

    pki = FakePki.build()
    served = leaf(["svc.example"], pki.issuing)
    roots = write_bundle(tmp_path / "expected.pem", pki.root, pki.ms_root)
    ctx = FakeContext(
        handshake_answers={
            ("svc.example", 443): [
                Handshake("198.18.0.7", 443, "svc.example", "ok", chain=(served.der, pki.issuing.der))
            ]
        },
        expected_roots=roots,
        selected={"tls.handshake"},
    )
    check = TlsInterceptionCheck()
    seen = run(check.observe(SVC, ctx))
    assert list(seen.chains) == ["198.18.0.7"] and seen.direct_chains is None  # not proxied: no direct path
    assert {c.subject for c in seen.anchors.expected} == {pki.root.cert.subject, pki.ms_root.cert.subject}
    assert seen.upstream == "tls.handshake/svc.example"
    assert ctx.asked == [("handshakes", "svc.example", 443)]
    assert check.judge(seen).code == "tls.clean"


WPAD_FOUND = {"url": "http://wpad.example/wpad.dat", "used": False, "why": "autoDetect=false in c.config"}


def test_the_effective_route_compares_every_source_with_the_route_tested() -> None:
    from proxysettings import proxy_settings

    from checks.proxy import ProxyEffectiveCheck

    wpad = {("svc.example", 443): "PROXY 198.18.0.3:3128"}
    ctx = FakeContext(
        endpoints=(Endpoint("svc.example", (443, 80), "r", "s", role="service"),),
        proxy=proxy_settings(wpad_decisions=wpad, wpad_evidence=WPAD_FOUND),
    )
    check = ProxyEffectiveCheck()
    seen = run(check.observe(Target("proxy settings"), ctx))
    assert seen.routes["svc.example:443"]["by_source"] == {"tested": "direct", "wpad": "http://198.18.0.3:3128"}
    assert "by_source" not in seen.routes["svc.example:80"]  # the script was not asked about port 80
    assert seen.divergent == ("svc.example:443: tested direct, wpad http://198.18.0.3:3128",)
    assert ctx.asked == []  # the run's own facts: nothing on the network
    assert check.judge(seen).code == "proxy.divergent"


def test_a_discovered_proxy_is_tried_with_the_first_direct_service_endpoint() -> None:
    from proxysettings import proxy_settings

    from checks.proxy import ProxyDiscoveredCheck
    from preflight.probes.proxy import TunnelResult

    wpad = {("svc.example", 443): "PROXY 198.18.0.3:3128"}
    answer = TunnelResult("http://198.18.0.3:3128", "198.18.0.3", "svc.example", 443, "ok", 200)
    ctx = FakeContext(
        endpoints=(
            Endpoint("other.example", (443,), "r", "s"),
            Endpoint("svc.example", (443,), "r", "s", role="service"),
        ),
        proxy=proxy_settings(wpad_decisions=wpad, wpad_evidence=WPAD_FOUND),
        tunnels={("svc.example", 443): answer},
    )
    check = ProxyDiscoveredCheck()
    [target] = check.targets(ctx)  # type: ignore[arg-type]
    assert (target.host, target.port) == ("198.18.0.3", 3128)
    seen = run(check.observe(target, ctx))
    assert seen is answer and ctx.asked == [("tunnel", "svc.example", 443)]  # the service row, not the first row
    assert check.judge(seen).code == "proxy.ok"


def test_host_checks_observe_nothing_off_windows_and_read_the_registry_on_it() -> None:
    from test_host import FakeHost

    from checks import host

    check = host.HostDotnetCheck()
    check.reader = None  # this Linux host: no registry
    seen = run(check.observe(Target("this host"), FakeContext()))
    assert seen is None and check.judge(seen).code == "host.not_windows"
    check.reader = FakeHost({(host.DOTNET_KEY, "Release"): 461808})  # 4.7.2
    seen = run(check.observe(Target("this host"), FakeContext()))
    assert seen is not None and seen.release.value == 461808
    assert check.judge(seen).code == "host.dotnet_ok"
    old = host.HostOsCheck()
    old.reader = FakeHost({(host.WINDOWS_KEY, "CurrentBuildNumber"): "9600"}, cores=2)
    observed = run(old.observe(Target("this host"), FakeContext()))
    assert observed is not None and (observed.build.value, observed.cores) == ("9600", 2)
    assert old.judge(observed).code == "host.os_unsupported"


def test_dns_asks_what_tcp_53_showed_only_of_the_resolvers_that_gave_no_response() -> None:
    from preflight.probes.dns import OverTcp, Resolution, ServerAnswer

    answers = (
        ServerAnswer("198.18.0.53", "A", "timeout"),
        ServerAnswer("198.18.0.53", "AAAA", "timeout"),
        ServerAnswer("198.18.0.54", "A", "servfail"),  # a response: that server is alive
        ServerAnswer("198.18.0.54", "AAAA", "timeout"),
    )
    silent = Resolution("svc.example", "dns-server", (), None, answers, ("198.18.0.53", "198.18.0.54"))
    probe = OverTcp("198.18.0.53", "open", True, "NOERROR")
    ctx = FakeContext(resolutions={"svc.example": silent}, over_tcp={"198.18.0.53": probe})
    seen = run(dns_check.observe(Target("svc.example"), ctx))
    assert seen.over_tcp == (probe,)
    assert ("resolver_over_tcp", "198.18.0.54") not in ctx.asked
    finding = dns_check.judge_observed(seen)
    assert finding.code == "dns.servfail" and "answers over TCP 53 (NOERROR): UDP 53 is dropped" in finding.summary
    assert finding.evidence["over_tcp"] == [probe.to_json()]


def test_judging_a_proxy_list_names_every_proxy_passed_over() -> None:
    from checks.proxy import judge_carrier
    from preflight.probes.proxy import Carrier, TunnelResult

    def tunnel(proxy: str, outcome: Any, status: int | None = None) -> TunnelResult:
        return TunnelResult(proxy, "198.18.0.9", "svc.example", 443, outcome, status, error="refused")

    pa, pb = ProxyConfig("http", "a.test", 3128), ProxyConfig("http", "b.test", 3128)
    a, b = pa.display, pb.display
    cases = [
        (Carrier((tunnel(a, "ok", 200),), pa), "proxy.ok", "tunnel open"),
        (Carrier((tunnel(a, "unreachable"), tunnel(b, "ok", 200)), pb), "proxy.failover", f"{b} carries the tunnel"),
        (Carrier((tunnel(a, "unreachable"),), None, direct=True), "proxy.failover", "DIRECT entry carries the traffic"),
        (Carrier((tunnel(a, "unreachable"), tunnel(b, "unreachable")), None), "proxy.unreachable", "no proxy of the"),
        (Carrier((tunnel(a, "unreachable"), tunnel(b, "denied", 403)), pb), "proxy.denied", "after passing over"),
    ]
    for seen, code, words in cases:
        finding = judge_carrier(seen)
        assert finding.code == code and words in finding.summary, (code, finding.summary)


def _system_gap_context() -> FakeContext:
    """The connector goes through a proxy (its .exe.config, or --proxy); WinHTTP's system setting is direct."""
    from proxysettings import proxy_settings

    from preflight.proxy import ProxyConfig
    from preflight.proxy.sources import Route
    from preflight.proxy.windows import WinHttpSettings

    proxy = ProxyConfig("http", "198.18.0.3", 3128)
    winhttp_direct = WinHttpSettings(version=0x28, counter=1, flags=1, proxy="", bypass="", autoconfig_url="")
    return FakeContext(
        endpoints=(Endpoint("crl.example", (80,), "r", "s"), Endpoint("svc.example", (443,), "r", "s")),
        proxy=proxy_settings(explicit=proxy, winhttp=winhttp_direct),
        routes={("crl.example", 80): Route(proxy, "--proxy"), ("svc.example", 443): Route(proxy, "--proxy")},
    )


def test_a_proxy_the_system_context_does_not_use_is_named_with_its_fix() -> None:
    from checks.proxy import ProxyEffectiveCheck

    check = ProxyEffectiveCheck()
    finding = check.judge(run(check.observe(Target("proxy settings"), _system_gap_context())))
    assert (finding.status.value, finding.code) == ("warn", "proxy.system_proxy_missing")
    assert "netsh winhttp set proxy 198.18.0.3:3128" in finding.summary
    assert finding.evidence["system_route_direct"] == [
        {"target": "crl.example:80", "connector_proxy": "http://198.18.0.3:3128"}
    ]


def test_revocation_fetches_take_the_system_route_not_the_connectors() -> None:
    from checks.crl import CrlFetchCheck
    from preflight.probes.dns import Resolution
    from preflight.probes.http import HttpFetch
    from preflight.probes.tcp import ConnectAttempt

    ctx = _system_gap_context()
    ctx.handshake_answers[("svc.example", 443)] = []
    ctx.resolutions["crl.example"] = Resolution("crl.example", "system", ("198.18.0.80",), None, (), ())
    ctx.connects[("198.18.0.80", 80)] = ConnectAttempt("198.18.0.80", 80, "open")
    ctx.fetches[("http://crl.example/", "198.18.0.80")] = HttpFetch(
        "http://crl.example/", "198.18.0.80", "GET", "response", status=404
    )
    seen = run(CrlFetchCheck().observe(Target("crl.example", 80), ctx))
    (row,) = seen.fetches
    assert row["address"] == "198.18.0.80"  # direct, as WinHTTP would go: not "via http://198.18.0.3:3128"
