"""Hosts broken as a whole, in the lab, on the default profile's endpoints: the run's first lines and the first
"What to fix" item name the one cause with its specifics, and no line tells the admin to do what they already did
or what cannot help. A healthy host still says PASS with nothing to fix."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from lab.world import (
    BLACKHOLE_RESOLVER,
    LAB_DNS_SUFFIX,
    PROXY_URL,
    TENANT,
    TENANT_DOMAIN,
    LabSpec,
    SquidSpec,
    default_profile_names,
    lab_pki,
    lab_world,
)

pytestmark = pytest.mark.netns

CRL_HOSTS = (
    "crl3.digicert.com",
    "crl4.digicert.com",
    "ocsp.digicert.com",
    "crl.microsoft.com",
    "oneocsp.microsoft.com",
    "ocsp.msocsp.com",
)
WPAD_SCRIPT = 'function FindProxyForURL(url, host) { return "PROXY 198.18.1.1:3128"; }\n'


def diagnosed(lab: Any, tmp_path: Path, *extra: str, tenant: str = TENANT) -> tuple[dict[str, Any], str]:
    """One run, as JSON and as the table a person reads."""
    table = tmp_path / "table.txt"
    profile = str(lab_pki()[1] / "lab-profile.toml")
    run = lab.run(
        "run",
        "--profile",
        profile,
        "--tenant-id",
        tenant,
        "--format",
        "json",
        "--format",
        f"table={table}",
        "--timeout",
        "1.5",
        *extra,
    )
    return run.report, table.read_text(encoding="utf-8")


def first_fix(table: str) -> str:
    lines = table.split("What to fix:\n", 1)[1].splitlines()
    return lines[0]


def assert_leads_with(report: dict[str, Any], table: str, code: str, *words: str) -> dict[str, Any]:
    causes = report["diagnosis"]
    assert causes and causes[0]["code"] == code, [c["code"] for c in causes]
    cause = causes[0]
    text = cause["summary"] + " " + cause["fix"]
    for word in words:
        assert word in text, (word, text)
    assert table.startswith(f"CAUSE 1 [{cause['status'].upper()}] {code}: "), table[:300]
    assert first_fix(table).lstrip().startswith(f"1. [{cause['status'].upper()}] {code}:"), first_fix(table)
    assert " more" not in table.split("What to fix:")[1].split(" · verdict", maxsplit=1)[0].replace("more than", "")
    return cause


def test_a_healthy_host_has_nothing_to_diagnose(tmp_path: Path) -> None:
    with lab_world() as lab:
        report, table = diagnosed(lab, tmp_path)
    assert report["diagnosis"] == [] and report["summary"]["verdict"] == "pass"
    assert "CAUSE" not in table and "What to fix" not in table


def test_a_dead_resolver_is_one_cause_naming_the_server(tmp_path: Path) -> None:
    with lab_world(LabSpec(resolver=BLACKHOLE_RESOLVER)) as lab:
        report, table = diagnosed(lab, tmp_path)
        looked_up, looked_up_table = diagnosed(lab, tmp_path, tenant=TENANT_DOMAIN)
    cause = assert_leads_with(report, table, "cause.resolver_unreachable", BLACKHOLE_RESOLVER, "UDP and TCP 53")
    assert cause["confidence"] == "confirmed"
    dns_ids = {r["id"] for r in report["results"] if r["check"] == "dns.resolve" and r["status"] == "fail"}
    assert dns_ids <= set(cause["explains"])
    assert "check the host's resolver configuration" not in first_fix(table)
    # the tenant was given as a domain and its lookup failed because nothing resolves: never "run again with it"
    assert "run again with --tenant-id" not in looked_up_table and "needs --tenant-id" not in looked_up_table
    assert f"the tenant {TENANT_DOMAIN} was given, but its lookup failed" in looked_up_table
    assert looked_up["diagnosis"][0]["code"] == "cause.resolver_unreachable"


def test_a_dead_resolver_says_what_tcp_53_showed(tmp_path: Path) -> None:
    """The lab's blackhole drops TCP too: down, or DNS dropped both ways; this host's own firewall refusing UDP 53
    (TCP still answers) is named as that; a resolver address where nothing listens is 'no DNS server there'."""
    with lab_world(LabSpec(resolver=BLACKHOLE_RESOLVER)) as lab:
        report, table = diagnosed(lab, tmp_path)
    cause = assert_leads_with(report, table, "cause.resolver_unreachable", "answers neither UDP nor TCP 53")
    assert [p["connect"] for p in cause["evidence"]["over_tcp"]] == ["filtered"]
    with lab_world(LabSpec(host_rules="udp dport 53 drop")) as lab:  # this host's own firewall, UDP only
        report, table = diagnosed(lab, tmp_path)
    cause = assert_leads_with(
        report,
        table,
        "cause.resolver_unreachable",
        "this host's own firewall blocks DNS to 127.0.0.1",
        "TCP 53 gets through",
        "Allow outbound UDP 53",
    )
    assert cause["confidence"] == "confirmed"
    assert [(p["connect"], p["answered"]) for p in cause["evidence"]["over_tcp"]] == [("open", True)]
    with lab_world(LabSpec(resolver="198.18.1.2")) as lab:  # the host's own address: nothing listens on 53
        report, table = diagnosed(lab, tmp_path)
    assert_leads_with(report, table, "cause.resolver_unreachable", "198.18.1.2", "no DNS server listens there")


def test_a_resolver_refusing_every_internet_name_is_one_cause(tmp_path: Path) -> None:
    """The host's resolver answers, but recurses for nobody: dnsmasq with no upstream refuses every name it does
    not hold itself (here: every name of the profile)."""
    with lab_world(LabSpec(unrecorded=default_profile_names())) as lab:
        report, table = diagnosed(lab, tmp_path)
    cause = assert_leads_with(report, table, "cause.resolver_failing", "127.0.0.1", "REFUSED", "resolve public names")
    assert cause["confidence"] == "confirmed"
    failing = {r["id"] for r in report["results"] if r["check"] == "dns.resolve" and r["status"] == "fail"}
    assert failing and failing <= set(cause["explains"])
    assert "over_tcp" not in cause["evidence"]  # the server answers: nothing to confirm over TCP


def test_no_default_route(tmp_path: Path) -> None:
    with lab_world() as lab:
        for family in ("-4", "-6"):
            subprocess.run([*lab.topo.prefix(lab.topo.host), "ip", family, "route", "del", "default"], check=True)
        report, table = diagnosed(lab, tmp_path)
    assert_leads_with(report, table, "cause.no_route", "ENETUNREACH", "default gateway")
    assert "router named in the evidence" not in table.split("What to fix:")[1].splitlines()[0]


def test_direct_egress_blocked_with_a_wpad_proxy_the_connector_does_not_use(tmp_path: Path) -> None:
    spec = LabSpec(squid=SquidSpec(), wpad_script=WPAD_SCRIPT, dns_search=(LAB_DNS_SUFFIX,))
    with lab_world(spec) as lab:
        report, table = diagnosed(lab, tmp_path)
    cause = assert_leads_with(report, table, "cause.proxy_not_configured", PROXY_URL, "WPAD", "<defaultProxy>")
    assert f"--proxy {PROXY_URL}" in cause["fix"]
    assert "; confirmed: " in cause["summary"] and "via http://198.18.1.1:3128: tunnel open" in cause["summary"]
    assert not first_fix(table).split(":", 1)[1].lstrip().startswith("A firewall")


def test_a_clock_three_years_ahead_says_how_far_and_to_set_it_by_hand(tmp_path: Path) -> None:
    with lab_world(LabSpec(clock_offset_s=-3 * 365.25 * 86400)) as lab:
        report, table = diagnosed(lab, tmp_path)
    cause = next(c for c in report["diagnosis"] if c["code"] == "cause.clock_far_off")
    assert "3.0 years ahead" in cause["summary"] and "by hand" in cause["fix"] and "w32tm /resync" in cause["fix"]
    assert "3.0 years ahead" in table.split("What to fix:")[0]


def test_one_interceptor_on_every_tls_path_is_named_with_every_name(tmp_path: Path) -> None:
    spec = LabSpec(mitmproxy=True, router_nat="tcp dport 443 redirect to :8080\ntcp dport 8398 redirect to :8080")
    with lab_world(spec) as lab:
        report, table = diagnosed(lab, tmp_path)
    cause = next(c for c in report["diagnosis"] if c["code"] == "cause.one_interceptor")
    intercepted = {
        r["target"]["host"]
        for r in report["results"]
        if r["check"] == "tls.interception" and r["code"].startswith("tls.intercepted")
    }
    assert intercepted and set(cause["evidence"]["names"]) == intercepted
    assert "mitmproxy" in cause["summary"] and all(name in cause["fix"] for name in intercepted)
    assert "CAUSE" in table.splitlines()[0]


def test_port_80_blocked_everywhere_lists_every_crl_host(tmp_path: Path) -> None:
    with lab_world(LabSpec(router_rules="tcp dport 80 drop")) as lab:
        report, table = diagnosed(lab, tmp_path)
    cause = assert_leads_with(report, table, "cause.port_blocked", "TCP 80 (CRL/OCSP)")
    assert all(host in cause["fix"] for host in CRL_HOSTS)


def test_ipv6_broken_everywhere_while_ipv4_works(tmp_path: Path) -> None:
    with lab_world(LabSpec(router_rules="meta nfproto ipv6 drop")) as lab:
        report, table = diagnosed(lab, tmp_path)
    assert_leads_with(report, table, "cause.ipv6_broken", "IPv4", "DisabledComponents")


def test_proxy_authentication_on_every_path(tmp_path: Path) -> None:
    with lab_world(LabSpec(squid=SquidSpec(require_auth=True))) as lab:
        report, table = diagnosed(lab, tmp_path, "--proxy", PROXY_URL)
    assert_leads_with(report, table, "cause.proxy_auth_everywhere", "198.18.1.1:3128", "Basic")


def test_ntp_blocked_on_the_way_is_a_cause_with_the_servers_to_allow(tmp_path: Path) -> None:
    with lab_world(LabSpec(router_rules="udp dport 123 drop")) as lab:
        report, table = diagnosed(lab, tmp_path)
    cause = assert_leads_with(report, table, "cause.ntp_blocked", "time.windows.com", "Allow UDP 123")
    [clock] = [r for r in report["results"] if r["check"] == "clock.skew"]
    assert clock["code"] == "clock.ntp_blocked" and cause["explains"] == [clock["id"]]
    assert report["summary"]["verdict"] == "warn"  # the clock itself was measured (a trusted HTTPS Date)
