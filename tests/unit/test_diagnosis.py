"""The diagnosis step, table-driven: results in, causes out. Each row is a host broken as a whole, or one that is
not (a few failures that share nothing): the cause's code, its confidence, the specifics its summary and fix must
name, and what it must not claim."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from preflight.model import CheckResult, Status, Target
from preflight.reporting.diagnosis import CAUSE_CODES, Cause, amount_of_time, diagnose, unexplained

NAMES = [
    "login.microsoftonline.com",
    "bootstrap.msappproxy.net",
    "servicebus.windows.net",
    "graph.microsoft.com",
    "crl3.digicert.com",
    "ocsp.digicert.com",
]


def result(check: str, host: str, port: int | None, status: str, code: str, **evidence: Any) -> CheckResult:
    return CheckResult(check, Target(host, port), Status(status), code, f"{host}: {code}", evidence, f"fix {code}")


def dns(host: str, code: str, server: str = "198.18.0.53:53", outcome: str = "timeout") -> CheckResult:
    status = "pass" if code == "dns.ok" else "fail"
    answers = [{"server": server, "qtype": q, "outcome": "answer" if code == "dns.ok" else outcome} for q in "AB"]
    return result("dns.resolve", host, None, status, code, answers=answers)


def connect(host: str, port: int, code: str, *attempts: tuple[str, str, str | None]) -> CheckResult:
    status = {"tcp.open": "pass", "tcp.partial": "warn"}.get(code, "fail")
    tries = [{"address": a, "family": "ipv6" if ":" in a else "ipv4", "outcome": o, "errno": e} for a, o, e in attempts]
    return result("tcp.connect", host, port, status, code, attempts=tries)


def skip_under(upstream: CheckResult, check: str) -> CheckResult:
    target = Target(upstream.target.host, upstream.target.port or 443)
    return CheckResult(check, target, Status.SKIP, "run.upstream", "not run", {}, "", caused_by=upstream.id)


def dead_resolver() -> list[CheckResult]:
    rows = [dns(n, "dns.timeout") for n in NAMES]
    return rows + [skip_under(r, "tcp.connect") for r in rows]


def test_a_dead_resolver_is_one_cause_that_names_the_server_and_explains_every_row() -> None:
    rows = dead_resolver()
    [cause] = diagnose(rows)
    assert cause.code == "cause.resolver_unreachable" and cause.confidence == "confirmed"
    assert "198.18.0.53:53" in cause.summary and "198.18.0.53:53" in cause.fix and "UDP and TCP 53" in cause.fix
    assert set(cause.explains) == {r.id for r in rows}  # the skips under the names too
    assert unexplained(rows, [cause]) == []


@pytest.mark.parametrize(
    ("over_tcp", "summary", "fix"),
    [
        ({"connect": "open", "answered": True, "rcode": "NOERROR"}, "answers over TCP 53 but not over UDP 53",
         "Allow UDP 53 from this host to 198.18.0.53"),
        ({"connect": "refused", "answered": None}, "no DNS server listens there", "Start the DNS service on"),
        ({"connect": "no_route", "answered": None}, "no route to its DNS server", "Add the route"),
        ({"connect": "filtered", "answered": None}, "answers neither UDP nor TCP 53 (filtered)", "is running"),
    ],
)  # fmt: skip
def test_what_tcp_53_showed_names_the_one_fix(over_tcp: dict[str, Any], summary: str, fix: str) -> None:
    rows = [dns(n, "dns.timeout", server="198.18.0.53") for n in NAMES]
    probe = {"server": "198.18.0.53", "rcode": None, "error": None, **over_tcp}
    rows = [dataclasses.replace(r, evidence={**r.evidence, "over_tcp": [probe]}) for r in rows]
    [cause] = diagnose(rows)
    assert cause.code == "cause.resolver_unreachable" and cause.confidence == "confirmed"
    assert summary in cause.summary and fix in cause.fix and "198.18.0.53" in cause.fix
    assert cause.evidence["over_tcp"] == [probe]


def test_resolvers_that_showed_different_things_over_tcp_keep_the_general_fix() -> None:
    rows = [dns(n, "dns.timeout", server="198.18.0.53") for n in NAMES]
    probes = [{"server": "198.18.0.53", "connect": "refused"}, {"server": "198.18.0.54", "connect": "filtered"}]
    rows = [dataclasses.replace(r, evidence={**r.evidence, "over_tcp": probes}) for r in rows]
    [cause] = diagnose(rows)
    assert "UDP and TCP 53" in cause.fix and "does not answer" in cause.summary


def test_one_name_resolving_among_many_timeouts_lowers_the_confidence_and_says_so() -> None:
    rows = [dns(n, "dns.timeout") for n in NAMES[:5]] + [dns(NAMES[5], "dns.ok")]
    [cause] = diagnose(rows)
    assert cause.confidence == "partial" and "5 of 6 names agree" in cause.summary


def test_a_few_failures_that_share_nothing_are_no_whole_host_cause() -> None:
    rows = [dns(n, "dns.ok") for n in NAMES[:4]] + [dns(NAMES[4], "dns.timeout"), dns(NAMES[5], "dns.nxdomain")]
    assert diagnose(rows) == []
    assert len(unexplained(rows, [])) == 2  # the findings stay, each for itself


def test_a_resolver_refusing_every_name() -> None:
    rows = [dns(n, "dns.refused", outcome="refused") for n in NAMES]
    [cause] = diagnose(rows)
    assert cause.code == "cause.resolver_failing" and "REFUSED" in cause.summary


def test_no_default_route() -> None:
    rows = [connect(n, 443, "tcp.unreachable", ("198.18.50.10", "no_route", "ENETUNREACH")) for n in NAMES]
    [cause] = diagnose(rows)
    assert cause.code == "cause.no_route" and "ENETUNREACH" in cause.summary
    assert "default gateway" in cause.fix and "router named" not in cause.fix


def _effective(**evidence: Any) -> CheckResult:
    return result("proxy.effective", "proxy settings", None, "pass", "proxy.direct", **evidence)


def test_direct_egress_blocked_with_a_wpad_proxy_the_connector_does_not_use() -> None:
    wpad = {"url": "http://wpad.corp.example/wpad.dat", "used": False}
    routes = {f"{n}:443": {"by_source": {"tested": "direct", "wpad": "http://proxy.corp.example:3128"}} for n in NAMES}
    rows = [connect(n, 443, "tcp.filtered", ("198.18.50.10", "filtered", None)) for n in NAMES] + [
        _effective(wpad=wpad, routes=routes)
    ]
    [cause] = diagnose(rows)
    assert cause.code == "cause.proxy_not_configured"
    assert "proxy.corp.example:3128" in cause.summary and "wpad.corp.example" in cause.summary
    assert 'proxyaddress="http://proxy.corp.example:3128"' in cause.fix and "--proxy" in cause.fix
    assert "firewall" not in cause.fix  # the misleading 'open outbound TCP' is not the fix here


def test_blocked_egress_without_any_proxy_found_is_no_proxy_cause() -> None:
    rows = [connect(n, 443, "tcp.filtered", ("198.18.50.10", "filtered", None)) for n in NAMES] + [_effective()]
    assert [c.code for c in diagnose(rows)] == []  # every row's own remediation stands


@pytest.mark.parametrize(
    ("offset", "words"),
    [
        (-3 * 365.25 * 86400, ["3.0 years ahead", "by hand", "3.0 years back"]),
        (2 * 86400.0, ["2.0 days behind", "by hand", "forward"]),
        (-900.0, ["15 minutes ahead", "w32tm /resync"]),
    ],
)
def test_a_clock_far_off_says_how_far_and_which_way(offset: float, words: list[str]) -> None:
    clock = result("clock.skew", "system clock", None, "fail", "clock.skew_fail", offset_s=offset, source="NTP a")
    expired = result("tls.handshake", NAMES[0], 443, "fail", "tls.expired")
    [cause] = diagnose([clock, expired])
    assert cause.code == "cause.clock_far_off"
    text = cause.summary + " " + cause.fix
    assert all(word in text for word in words), text
    assert set(cause.explains) == {clock.id, expired.id}


def _intercepted(host: str, ca: str) -> CheckResult:
    path = {
        "code": "tls.intercepted",
        "chain": [{"subject": f"CN={host}", "issuer": ca}],
        "product_hint": {"product": "Zscaler"},
    }
    return result("tls.interception", host, 443, "fail", "tls.intercepted", addresses={"198.18.0.1": path})


def test_one_interceptor_on_every_tls_path_is_named_with_every_name() -> None:
    rows = [_intercepted(n, "CN=Corp Inspection CA,O=Contoso") for n in NAMES]
    [cause] = diagnose(rows)
    assert cause.code == "cause.one_interceptor" and "CN=Corp Inspection CA,O=Contoso" in cause.summary
    assert "all 6 TLS endpoints" in cause.summary and "Zscaler" in cause.summary
    assert all(n in cause.fix for n in NAMES) and "more" not in cause.fix  # every name, never 'and 2 more'


def test_two_different_inspection_cas_are_no_single_interceptor() -> None:
    rows = [_intercepted(n, f"CN=CA {i % 2}") for i, n in enumerate(NAMES)]
    assert diagnose(rows) == []


def test_proxy_authentication_on_every_path() -> None:
    rows = [
        result(
            "proxy.tunnel",
            n,
            443,
            "fail",
            "proxy.auth_required",
            proxy="http://proxy:3128",
            proxy_authenticate=["Negotiate", "NTLM"],
        )
        for n in NAMES
    ]
    [cause] = diagnose(rows)
    assert cause.code == "cause.proxy_auth_everywhere" and "Negotiate" in cause.summary
    assert "http://proxy:3128" in cause.fix


def test_port_80_blocked_everywhere_lists_all_eight_hosts() -> None:
    hosts = [f"crl{i}.example.com" for i in range(8)]
    rows = [connect(h, 80, "tcp.filtered", ("198.18.0.9", "filtered", None)) for h in hosts]
    rows += [connect(h, 443, "tcp.open", ("198.18.0.9", "open", None)) for h in hosts]
    [cause] = diagnose(rows)
    assert cause.code == "cause.port_blocked" and "TCP 80 (CRL/OCSP)" in cause.summary
    assert "all 8 hosts" in cause.summary and all(h in cause.fix for h in hosts)


def test_every_port_blocked_is_not_one_port_blocked() -> None:
    rows = [connect(n, p, "tcp.filtered", ("198.18.0.9", "filtered", None)) for n in NAMES for p in (80, 443)]
    assert diagnose(rows) == []  # no port works anywhere: nothing says it is one port (each row stands)


def test_ipv6_broken_while_ipv4_works() -> None:
    rows = [
        connect(n, 443, "tcp.partial", ("198.18.50.10", "open", None), ("2001:db8:50::10", "filtered", None))
        for n in NAMES
    ]
    [cause] = diagnose(rows)
    assert cause.code == "cause.ipv6_broken" and cause.status == Status.WARN and "DisabledComponents" in cause.fix


def test_a_healthy_host_has_no_cause() -> None:
    rows = [dns(n, "dns.ok") for n in NAMES] + [
        connect(n, 443, "tcp.open", ("198.18.50.10", "open", None)) for n in NAMES
    ]
    assert diagnose(rows) == [] and unexplained(rows, []) == []


def test_every_cause_is_documented_and_serialises() -> None:
    cause = diagnose(dead_resolver())[0]
    assert isinstance(cause, Cause) and cause.code in CAUSE_CODES
    assert set(cause.to_json()) == {"code", "status", "confidence", "summary", "fix", "explains", "evidence"}
    for doc in CAUSE_CODES.values():
        assert doc.meaning and doc.detection and doc.remediation


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (3 * 365.25 * 86400, "3.0 years"),
        (-2.5 * 86400, "2.5 days"),
        (7200, "2.0 hours"),
        (900, "15 minutes"),
        (5, "5 seconds"),
    ],
)
def test_amounts_of_time_read_as_a_person_says_them(seconds: float, text: str) -> None:
    assert amount_of_time(seconds) == text


def _blocked_with_wpad(tunnel_code: str | None) -> list[CheckResult]:
    wpad = {"url": "http://wpad.corp.example/wpad.dat", "used": False}
    routes = {f"{n}:443": {"by_source": {"tested": "direct", "wpad": "http://proxy.corp.example:3128"}} for n in NAMES}
    rows = [connect(n, 443, "tcp.filtered", ("198.18.50.10", "filtered", None)) for n in NAMES]
    rows.append(_effective(wpad=wpad, routes=routes))
    if tunnel_code is not None:
        status = "pass" if tunnel_code == "proxy.ok" else "fail"
        rows.append(result("proxy.discovered", "proxy.corp.example", 3128, status, tunnel_code))
    return rows


def test_a_tunnel_through_the_discovered_proxy_confirms_the_cause() -> None:
    [cause] = diagnose(_blocked_with_wpad("proxy.ok"))
    assert "confirmed: proxy.corp.example: proxy.ok" in cause.summary
    assert "proxy.discovered/proxy.corp.example:3128" in cause.explains


def test_a_discovered_proxy_that_fails_too_changes_the_fix_and_the_confidence() -> None:
    [cause] = diagnose(_blocked_with_wpad("proxy.auth_required"))
    assert cause.confidence == "partial" and "the proxy fails too" in cause.summary
    assert cause.fix.startswith("The proxy http://proxy.corp.example:3128") and "fix proxy.auth_required" in cause.fix


def _clock(code: str, status: str, *outcomes: str) -> CheckResult:
    ntp = [{"server": f"ntp{i}.example", "address": f"198.18.0.{i + 1}", "outcome": o} for i, o in enumerate(outcomes)]
    return result("clock.skew", "system clock", None, status, code, ntp=ntp)


@pytest.mark.parametrize(
    ("code", "status", "outcomes", "found"),
    [
        ("clock.unavailable", "skip", ("timeout", "timeout"), "the clock was not checked"),
        ("clock.ntp_blocked", "warn", ("timeout", "unreachable"), "clock is 0.2 s"),
        ("clock.unavailable", "skip", ("timeout", "unresolved"), None),  # a name that did not resolve: DNS's cause
        ("clock.unavailable", "skip", ("timeout", "rejected"), None),  # a server that answered: no block
        ("clock.ok", "pass", ("ok",), None),
    ],
)
def test_ntp_blocked_is_a_cause_even_when_the_clock_check_is_a_skip(
    code: str, status: str, outcomes: tuple[str, ...], found: str | None
) -> None:
    clock = _clock(code, status, *outcomes)
    if code == "clock.ntp_blocked":
        clock = dataclasses.replace(clock, summary="clock is 0.2 s ahead, but no NTP server answered (...)")
    causes = [c for c in diagnose([clock]) if c.code == "cause.ntp_blocked"]
    if found is None:
        assert causes == []
        return
    [cause] = causes
    assert found in cause.summary and cause.explains == (clock.id,) and cause.status == Status.WARN
    assert "Allow UDP 123 from this host to ntp0.example, ntp1.example" in cause.fix
    assert unexplained([clock], causes) == []
