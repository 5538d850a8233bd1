"""Scenario suite: the unmodified CLI against real middleboxes (dnsmasq, nftables) in network namespaces.

Each scenario changes one thing from the all-clear lab and asserts the status and code of the results that
matter, and the exit code. The list, with the verdict each proves, is in tests/lab/README.md.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from helpers import ROOT, cli_env, run_cli
from lab.topology import LAB_NETWORKS, ROUTER_HOST_SIDE, ROUTER_HOST_SIDE6
from lab.world import (
    BLACKHOLE_RESOLVER,
    LAB_DNS_SUFFIX,
    MITM_PROXY_URL,
    PROXY_PASSWORD,
    PROXY_URL,
    PROXY_USER,
    TENANT,
    TENANT_DOMAIN,
    ExtraService,
    LabSpec,
    SquidSpec,
    lab_pki,
    lab_world,
)

pytestmark = pytest.mark.netns

BOOT = f"{TENANT}.bootstrap.msappproxy.net"
CRL_HOSTS = ("crl3.digicert.com", "crl4.digicert.com", "ocsp.digicert.com", "crl.microsoft.com",
             "oneocsp.microsoft.com", "ocsp.msocsp.com")  # fmt: skip


def status_code(run: Any, check: str, key: str) -> tuple[str, str]:
    result = run.result(check, key)
    return result["status"], result["code"]


def test_all_clear() -> None:
    with lab_world() as lab:
        run = lab.preflight()
    assert run.code == 0, run.stdout[-2000:]
    assert run.report["summary"]["verdict"] == "pass"
    assert status_code(run, "tcp.connect", f"{BOOT}:8398") == ("pass", "tcp.open")
    assert status_code(run, "dns.resolve", "login.microsoftonline.com") == ("pass", "dns.ok")
    for result in run.report["results"]:
        assert result["status"] in ("pass", "skip"), result["summary"]
        if result["status"] == "skip":
            assert result["code"] in ("target.wildcard", "run.upstream", "host.not_windows")


def test_all_clear_twenty_times_same_verdict() -> None:
    with lab_world() as lab:
        outcomes = set()
        for _ in range(20):
            run = lab.preflight()
            outcomes.add((run.code, run.report["summary"]["verdict"],
                          tuple(sorted((r["id"], r["status"], r["code"]) for r in run.report["results"]))))  # fmt: skip
    assert len(outcomes) == 1
    code, verdict, _results = outcomes.pop()
    assert (code, verdict) == (0, "pass")


def test_port_8398_dropped() -> None:
    with lab_world(LabSpec(router_rules="tcp dport 8398 drop")) as lab:
        run = lab.preflight()
    assert status_code(run, "tcp.connect", f"{BOOT}:8398") == ("fail", "tcp.filtered")
    assert status_code(run, "tcp.connect", f"{BOOT}:443") == ("pass", "tcp.open")
    assert run.code == 1


def test_port_443_refused_with_tcp_reset() -> None:
    with lab_world(LabSpec(router_rules="tcp dport 443 reject with tcp reset")) as lab:
        run = lab.preflight()
    assert status_code(run, "tcp.connect", "login.microsoftonline.com:443") == ("fail", "tcp.refused")
    assert status_code(run, "tcp.connect", f"{BOOT}:8398") == ("pass", "tcp.open")
    assert run.code == 1


def test_port_80_admin_prohibited_names_the_router() -> None:
    with lab_world(LabSpec(router_rules="tcp dport 80 reject with icmpx type admin-prohibited")) as lab:
        run = lab.preflight()
    for host in CRL_HOSTS:
        assert status_code(run, "tcp.connect", f"{host}:80") == ("fail", "tcp.unreachable")
    attempts = run.result("tcp.connect", "crl3.digicert.com:80")["evidence"]["attempts"]
    offenders = {a["address"]: a["icmp"]["offender"] for a in attempts}
    assert offenders == {"198.18.50.10": ROUTER_HOST_SIDE, "2001:db8:50::10": ROUTER_HOST_SIDE6}
    assert status_code(run, "tcp.connect", "login.microsoftonline.com:443") == ("pass", "tcp.open")


def test_nxdomain_for_one_fqdn_collapses_its_checks() -> None:
    spec = LabSpec(unrecorded=["crl3.digicert.com"], dns_options=["--local=/crl3.digicert.com/"])
    with lab_world(spec) as lab:
        run = lab.preflight()
    assert status_code(run, "dns.resolve", "crl3.digicert.com") == ("fail", "dns.nxdomain")
    skipped = run.result("tcp.connect", "crl3.digicert.com:80")
    assert (skipped["status"], skipped["caused_by"]) == ("skip", "dns.resolve/crl3.digicert.com")
    assert status_code(run, "dns.resolve", "crl4.digicert.com") == ("pass", "dns.ok")
    assert run.code == 1


def test_sinkhole_answer() -> None:
    spec = LabSpec(unrecorded=["ocsp.digicert.com"], dns_options=["--address=/ocsp.digicert.com/0.0.0.0",
                                                                   "--address=/ocsp.digicert.com/::"])  # fmt: skip
    with lab_world(spec) as lab:
        run = lab.preflight()
    assert status_code(run, "dns.resolve", "ocsp.digicert.com") == ("warn", "dns.sinkhole")
    assert status_code(run, "tcp.connect", "ocsp.digicert.com:80") == ("skip", "tcp.no_address")
    assert run.code == 0  # a warning only: the rest is clear


def test_public_name_answering_loopback_is_a_sinkhole() -> None:
    spec = LabSpec(unrecorded=["login.windows.net"], dns_options=["--address=/login.windows.net/127.0.0.1"])
    with lab_world(spec) as lab:
        run = lab.preflight()
    result = run.result("dns.resolve", "login.windows.net")
    assert (result["status"], result["code"]) == ("warn", "dns.sinkhole")
    assert result["evidence"]["sinkhole"] == {"127.0.0.1": "loopback"}
    assert status_code(run, "tcp.connect", "login.windows.net:443") == ("skip", "tcp.no_address")


def test_resolver_timeout() -> None:
    spec = LabSpec(unrecorded=["login.microsoftonline.com"],
                   dns_options=[f"--server=/login.microsoftonline.com/{BLACKHOLE_RESOLVER}"])  # fmt: skip
    with lab_world(spec) as lab:
        run = lab.preflight()
    assert status_code(run, "dns.resolve", "login.microsoftonline.com") == ("fail", "dns.timeout")
    assert run.result("tcp.connect", "login.microsoftonline.com:443")["code"] == "run.upstream"
    assert run.code == 1


def test_cname_chain_is_followed_and_recorded() -> None:
    spec = LabSpec(unrecorded=["management.azure.com"],
                   dns_options=["--cname=management.azure.com,arm.lab.test", "--cname=arm.lab.test,edge.lab.test",
                                "--host-record=edge.lab.test,198.18.50.10,2001:db8:50::10"])  # fmt: skip
    with lab_world(spec) as lab:
        run = lab.preflight()
    result = run.result("dns.resolve", "management.azure.com")
    assert (result["status"], result["code"]) == ("pass", "dns.ok")
    chain = next(a for a in result["evidence"]["answers"] if a["qtype"] == "A")["cnames"]
    assert [(c["name"], c["target"]) for c in chain] == [("management.azure.com", "arm.lab.test"),
                                                          ("arm.lab.test", "edge.lab.test")]  # fmt: skip
    assert status_code(run, "tcp.connect", "management.azure.com:443") == ("pass", "tcp.open")


def test_ipv6_broken_ipv4_fine() -> None:
    with lab_world(LabSpec(router_rules="meta nfproto ipv6 tcp dport 443 drop")) as lab:
        run = lab.preflight()
    result = run.result("tcp.connect", "login.microsoftonline.com:443")
    assert (result["status"], result["code"]) == ("warn", "tcp.partial")
    outcomes = {a["address"]: a["outcome"] for a in result["evidence"]["attempts"]}
    assert outcomes == {"198.18.50.10": "open", "2001:db8:50::10": "filtered"}
    assert run.code == 0


def _drop_aaaa_queries_for(name: str) -> str:
    """An nftables rule dropping UDP DNS queries of type AAAA for one name: the query type sits right after the
    question's name, at a fixed offset for a given name (UDP header 8 bytes, DNS header 12, then the name)."""
    encoded = sum(len(label) + 1 for label in name.split(".")) + 1
    return f"udp dport 53 @th,{(8 + 12 + encoded) * 8},16 0x001c drop"


def test_a_dropped_aaaa_query_still_resolves_and_the_tcp_checks_run() -> None:
    """The A answer comes, the AAAA query is dropped on the way to the resolver: glibc's getaddrinfo waits for it
    (resolv.conf timeout:3) past --timeout 1.5, as Windows' resolver waits through its retries. The name still
    resolves for the connector: a warning naming the silent query, and TCP tried on the answered address."""
    name = "login.microsoftonline.com"
    spec = LabSpec(host_input_rules=_drop_aaaa_queries_for(name), resolv_options="timeout:3 attempts:1")
    with lab_world(spec) as lab:
        run = lab.preflight()
    result = run.result("dns.resolve", name)
    assert (result["status"], result["code"]) == ("warn", "dns.partial"), result["summary"]
    assert "AAAA to 127.0.0.1: no answer, so the system resolver did not finish" in result["summary"]
    assert result["evidence"]["addresses"] == ["198.18.50.10"]
    assert result["evidence"]["system"]["error"] == "timeout"
    assert status_code(run, "tcp.connect", f"{name}:443") == ("pass", "tcp.open")
    assert status_code(run, "dns.resolve", BOOT)[1] == "dns.ok"  # other names are untouched


def test_host_firewall_rejects_8398() -> None:
    with lab_world(LabSpec(host_rules="tcp dport 8398 reject with icmpx type admin-prohibited")) as lab:
        run = lab.preflight()
    result = run.result("tcp.connect", f"{BOOT}:8398")
    assert (result["status"], result["code"]) == ("fail", "tcp.local_block")
    assert all(a["icmp"]["local"] for a in result["evidence"]["attempts"])
    assert status_code(run, "tcp.connect", f"{BOOT}:443") == ("pass", "tcp.open")


def test_host_firewall_drop_looks_filtered() -> None:
    """A local DROP cannot be told from a remote one on Linux (TCP just retransmits): reported as filtered."""
    with lab_world(LabSpec(host_rules="tcp dport 8398 drop")) as lab:
        run = lab.preflight()
    assert status_code(run, "tcp.connect", f"{BOOT}:8398") == ("fail", "tcp.filtered")


def test_service_down_is_refused_not_filtered() -> None:
    with lab_world(LabSpec(service_ports=(443, 80))) as lab:
        run = lab.preflight()
    assert status_code(run, "tcp.connect", f"{BOOT}:8398") == ("fail", "tcp.refused")


MITM_REDIRECT = "ip daddr 198.18.50.10 tcp dport 443 redirect to :8080"


def test_transparent_interception_untrusted_ca() -> None:
    """mitmproxy on the router re-signs IPv4 443; this host does not trust its CA."""
    with lab_world(LabSpec(mitmproxy=True, router_nat=MITM_REDIRECT)) as lab:
        run = lab.preflight()
    result = run.result("tls.interception", "login.microsoftonline.com:443")
    assert (result["status"], result["code"]) == ("fail", "tls.intercepted_untrusted"), result["summary"]
    per_address = result["evidence"]["addresses"]
    assert per_address["198.18.50.10"]["product_hint"]["product"] == "mitmproxy"
    assert per_address["2001:db8:50::10"]["code"] == "tls.clean"  # only the IPv4 path is redirected
    assert "mixed" in result["evidence"]
    assert status_code(run, "tls.interception", f"{BOOT}:8398") == ("pass", "tls.clean")  # 8398 not redirected
    assert status_code(run, "tls.handshake", "login.microsoftonline.com:443") == ("pass", "tls.ok")
    assert run.code == 1


def test_transparent_interception_ca_trusted_by_the_os_store() -> None:
    """The same, with mitmproxy's CA installed in the host's OS trust store, as enterprises deploy inspection."""
    spec = LabSpec(mitmproxy=True, router_nat=MITM_REDIRECT, host_trusts_mitmproxy=True)
    with lab_world(spec) as lab:
        run = lab.preflight()
    result = run.result("tls.interception", "login.microsoftonline.com:443")
    assert (result["status"], result["code"]) == ("fail", "tls.intercepted"), result["summary"]
    evidence = result["evidence"]["addresses"]["198.18.50.10"]
    assert evidence["matched_store"] == "os"
    assert "mitmproxy" in evidence["anchor"]
    assert "mitmproxy" in result["summary"]


def test_captive_portal_serves_a_certificate_for_another_name() -> None:
    portal = ExtraService("198.18.51.10", ["portal.lab-hotel.test"])
    spec = LabSpec(unrecorded=["login.microsoftonline.com"], extra_services=[portal],
                   dns_options=["--host-record=login.microsoftonline.com,198.18.51.10"])  # fmt: skip
    with lab_world(spec) as lab:
        run = lab.preflight()
    result = run.result("tls.handshake", "login.microsoftonline.com:443")
    assert (result["status"], result["code"]) == ("fail", "tls.wrong_host")
    assert "portal.lab-hotel.test" in result["summary"]
    assert run.result("tls.interception", "login.microsoftonline.com:443")["code"] == "run.upstream"


def test_a_stale_hosts_file_entry_is_reported_although_tls_passes() -> None:
    """The hosts file pins login.microsoftonline.com to an old front door that still serves a valid certificate:
    only comparing with DNS shows the connector is not using the service's current addresses."""
    old_front_door = ExtraService("198.18.51.10", ["login.microsoftonline.com"])
    spec = LabSpec(extra_services=[old_front_door], hosts_lines=["198.18.51.10  login.microsoftonline.com  # 2024"])
    with lab_world(spec) as lab:
        run = lab.preflight()
    result = run.result("dns.resolve", "login.microsoftonline.com")
    assert (result["status"], result["code"]) == ("warn", "dns.hosts_override"), result["summary"]
    assert "/etc/hosts:2" in result["summary"]
    assert result["evidence"]["hosts_override"] == {"hosts": ["198.18.51.10"], "dns": ["198.18.50.10",
                                                                                     "2001:db8:50::10"]}  # fmt: skip
    assert result["evidence"]["hosts_file"]["entries"][0]["line"] == 2
    assert status_code(run, "tls.handshake", "login.microsoftonline.com:443") == ("pass", "tls.ok")
    assert status_code(run, "dns.resolve", "login.windows.net") == ("pass", "dns.ok")


def test_tls_1_0_only_endpoint() -> None:
    old = ExtraService("198.18.52.10", ["enterpriseregistration.windows.net"], legacy=True)
    spec = LabSpec(unrecorded=["enterpriseregistration.windows.net"], extra_services=[old],
                   dns_options=["--host-record=enterpriseregistration.windows.net,198.18.52.10"])  # fmt: skip
    with lab_world(spec) as lab:
        run = lab.preflight()
    result = run.result("tls.handshake", "enterpriseregistration.windows.net:443")
    assert (result["status"], result["code"]) == ("fail", "tls.protocol_too_old")
    assert result["evidence"]["addresses"]["198.18.52.10"]["legacy_version"] in ("TLSv1", "TLSv1.1")


def test_crl_and_ocsp_fetched_and_parsed_in_the_all_clear_lab() -> None:
    with lab_world() as lab:
        run = lab.preflight()
    crl = run.result("crl.fetch", "crl3.digicert.com:80")
    assert (crl["status"], crl["code"]) == ("pass", "crl.ok"), crl["summary"]
    assert {f["kind"] for f in crl["evidence"]["fetches"]} == {"crl"}
    ocsp = run.result("crl.fetch", "ocsp.digicert.com:80")
    assert (ocsp["status"], ocsp["code"]) == ("pass", "crl.ok"), ocsp["summary"]
    assert {f["kind"] for f in ocsp["evidence"]["fetches"]} == {"ocsp"}
    assert {f["ocsp_status"] for f in ocsp["evidence"]["fetches"]} == {"SUCCESSFUL"}
    # No chain names a URL on crl.microsoft.com: an OCSP request for a served certificate is sent to it instead.
    unnamed = run.result("crl.fetch", "crl.microsoft.com:80")
    assert (unnamed["status"], unnamed["code"]) == ("pass", "crl.ok"), unnamed["summary"]
    assert {f["kind"] for f in unnamed["evidence"]["fetches"]} == {"ocsp_probe"}
    assert "a responder answers on this path" in unnamed["summary"]
    assert run.code == 0


def test_an_ocsp_responder_answering_unauthorized_is_a_warning_not_a_pass() -> None:
    with lab_world(LabSpec(ocsp_unauthorized=True)) as lab:
        run = lab.preflight()
    result = run.result("crl.fetch", "ocsp.digicert.com:80")
    assert (result["status"], result["code"]) == ("warn", "crl.ocsp_refused"), result["summary"]
    assert {f["ocsp_status"] for f in result["evidence"]["fetches"]} == {"UNAUTHORIZED"}
    assert "UNAUTHORIZED" in result["summary"]
    assert status_code(run, "crl.fetch", "crl3.digicert.com:80") == ("pass", "crl.ok")


def test_a_captive_portal_on_port_80_fails_the_hosts_no_chain_names_too() -> None:
    """Every port-80 request is redirected to a login page on another host. Before, a host no served chain named
    a URL on passed (a bare GET / got an HTTP answer); the OCSP request it now gets is redirected, and no
    revocation server redirects an OCSP POST to another host."""
    portal = "http://portal.guest-wifi.test/login?next=1"
    spec = LabSpec(block_page=True, portal=portal, router_nat="tcp dport 80 redirect to :8081")
    with lab_world(spec) as lab:
        run = lab.preflight()
    for host in ("crl.microsoft.com", "crl4.digicert.com", "ocsp.msocsp.com"):
        result = run.result("crl.fetch", f"{host}:80")
        assert (result["status"], result["code"]) == ("fail", "crl.http_error"), (host, result["summary"])
        assert portal in result["summary"] and "portal" in result["summary"]
    named = run.result("crl.fetch", "crl3.digicert.com:80")
    assert (named["status"], named["code"]) == ("fail", "crl.http_error")
    assert run.code == 1


def test_crl_endpoint_returns_an_html_block_page() -> None:
    spec = LabSpec(block_page=True, router_nat="tcp dport 80 redirect to :8081")
    with lab_world(spec) as lab:
        run = lab.preflight()
    result = run.result("crl.fetch", "crl3.digicert.com:80")
    assert (result["status"], result["code"]) == ("fail", "crl.blocked_page")
    assert "Access Denied - Lab Web Filter" in result["summary"]
    assert run.result("crl.fetch", "ocsp.digicert.com:80")["code"] == "crl.blocked_page"
    assert status_code(run, "tcp.connect", "crl3.digicert.com:80") == ("pass", "tcp.open")  # TCP alone looks fine
    assert run.code == 1


def test_crl_port_dropped_collapses_the_fetch() -> None:
    with lab_world(LabSpec(router_rules="tcp dport 80 drop")) as lab:
        run = lab.preflight()
    result = run.result("crl.fetch", "crl3.digicert.com:80")
    assert (result["status"], result["caused_by"]) == ("skip", "tcp.connect/crl3.digicert.com:80")


def test_crl_port_dropped_without_tcp_check_is_crl_filtered() -> None:
    with lab_world(LabSpec(router_rules="tcp dport 80 drop")) as lab:
        run = lab.preflight("--skip", "tcp.connect")
    assert status_code(run, "crl.fetch", "crl3.digicert.com:80") == ("fail", "crl.filtered")
    assert status_code(run, "crl.fetch", "crl4.digicert.com:80") == ("fail", "crl.filtered")


def test_crl_port_refused_without_tcp_check_is_crl_unreachable() -> None:
    with lab_world(LabSpec(router_rules="tcp dport 80 reject with tcp reset")) as lab:
        run = lab.preflight("--skip", "tcp.connect")
    assert status_code(run, "crl.fetch", "crl3.digicert.com:80") == ("fail", "crl.unreachable")


def test_clock_ten_minutes_behind_fails_but_tls_is_judged_at_real_time() -> None:
    with lab_world(LabSpec(clock_offset_s=600)) as lab:
        run = lab.preflight()
    clock = run.result("clock.skew", "system clock")
    assert (clock["status"], clock["code"]) == ("fail", "clock.skew_fail"), clock["summary"]
    assert abs(clock["evidence"]["offset_s"] - 600) < 2
    assert clock["evidence"]["source"] == "NTP time.windows.com"
    assert abs(clock["evidence"]["cross_check_difference_s"]) < 2  # the HTTPS Date agrees
    assert status_code(run, "tls.handshake", "login.microsoftonline.com:443") == ("pass", "tls.ok")
    assert status_code(run, "tls.interception", "login.microsoftonline.com:443") == ("pass", "tls.clean")
    assert run.code == 1


def test_clock_two_minutes_ahead_warns() -> None:
    with lab_world(LabSpec(clock_offset_s=-120)) as lab:
        run = lab.preflight()
    clock = run.result("clock.skew", "system clock")
    assert (clock["status"], clock["code"]) == ("warn", "clock.skew_warn"), clock["summary"]
    assert "ahead" in clock["summary"]
    assert run.code == 0


def test_ntp_blocked_but_https_date_available() -> None:
    with lab_world(LabSpec(router_rules="udp dport 123 drop")) as lab:
        run = lab.preflight()
    clock = run.result("clock.skew", "system clock")
    assert (clock["status"], clock["code"]) == ("warn", "clock.ntp_blocked"), clock["summary"]
    assert clock["evidence"]["source"].startswith("HTTPS Date of ")
    assert clock["evidence"]["ntp"][0]["outcome"] == "timeout"


def test_without_dns_the_clock_is_folded_under_the_dns_failure() -> None:
    with lab_world(LabSpec(resolver=BLACKHOLE_RESOLVER)) as lab:
        run = lab.preflight()
        table = lab.run("run", "--profile", str(lab_pki()[1] / "lab-profile.toml"), "--tenant-id", TENANT,
                        "--timeout", "1.5")  # fmt: skip
    clock = run.result("clock.skew", "system clock")
    assert (clock["status"], clock["code"]) == ("skip", "clock.unavailable"), clock["summary"]
    assert "time.windows.com did not resolve" in clock["summary"] and "UDP" not in clock["remediation"]
    assert clock["caused_by"] == f"dns.resolve/{BOOT}"
    assert run.result("dns.resolve", BOOT)["code"] == "dns.timeout"
    assert "└ clock.skew" in table.stdout  # folded under the DNS failure, like the other checks


def test_443_filtered_the_clock_takes_its_date_from_8398_without_waiting() -> None:
    # The profile's first TLS endpoints are on 443: the clock's HTTPS Date cross-check must come from an endpoint
    # that opens instead of sitting out their timeout first (it did, so every TLS check waited with it).
    with lab_world(LabSpec(router_rules="tcp dport 443 drop")) as lab:
        run = lab.preflight("--timeout", "4")
    clock = run.result("clock.skew", "system clock")
    assert (clock["status"], clock["code"]) == ("pass", "clock.ok"), clock["summary"]
    assert clock["evidence"]["https_date"]["port"] == 8398
    assert clock["duration_ms"] < 4000
    assert status_code(run, "tcp.connect", "login.microsoftonline.com:443") == ("fail", "tcp.filtered")


def test_ntp_blocked_and_date_only_over_an_intercepted_path_is_unavailable() -> None:
    spec = LabSpec(router_rules="udp dport 123 drop", mitmproxy=True,
                   router_nat="tcp dport 443 redirect to :8080\ntcp dport 8398 redirect to :8080")  # fmt: skip
    with lab_world(spec) as lab:
        run = lab.preflight()
    clock = run.result("clock.skew", "system clock")
    assert (clock["status"], clock["code"]) == ("skip", "clock.unavailable"), clock["summary"]
    assert clock["evidence"]["https_date_trusted"] is False


# --- the proxy path: squid-openssl (and mitmproxy) as the corporate proxy on the router ---------------------


def verdicts(run: Any, checks: tuple[str, ...]) -> dict[tuple[str, str, Any], tuple[str, str]]:
    """(check, host, port) → (status, code) for the endpoints the run could probe (no wildcard rows)."""
    return {(r["check"], r["target"]["host"], r["target"]["port"]): (r["status"], r["code"])
            for r in run.report["results"] if r["check"] in checks and "*" not in r["target"]["host"]}  # fmt: skip


def test_proxy_required_and_reachable() -> None:
    with lab_world(LabSpec(squid=SquidSpec())) as lab:
        direct = lab.preflight("--proxy", "none")
        proxied = lab.preflight("--proxy", PROXY_URL)
    assert status_code(direct, "tcp.connect", "login.microsoftonline.com:443") == ("fail", "tcp.filtered")
    assert proxied.code == 0, proxied.stdout[-1500:]
    assert proxied.report["summary"]["verdict"] == "pass"
    assert not [r for r in proxied.report["results"] if r["check"] == "tcp.connect"]  # nothing goes direct
    assert status_code(proxied, "proxy.tunnel", "login.microsoftonline.com:443") == ("pass", "proxy.ok")
    assert status_code(proxied, "proxy.tunnel", "crl3.digicert.com:80") == ("pass", "proxy.ok")
    assert status_code(proxied, "tls.interception", f"{BOOT}:8398") == ("pass", "tls.clean")
    assert status_code(proxied, "crl.fetch", "crl3.digicert.com:80") == ("pass", "crl.ok")
    assert status_code(proxied, "proxy.effective", "proxy settings") == ("pass", "proxy.configured")


def test_proxied_run_gives_the_same_verdicts_as_a_direct_run() -> None:
    """The proxy is transparent to the traffic (no bump, nothing blocked): both runs must agree."""
    with lab_world(LabSpec(squid=SquidSpec(direct_blocked=False))) as lab:
        direct = lab.preflight("--proxy", "none")
        proxied = lab.preflight("--proxy", PROXY_URL)
    checks = ("dns.resolve", "tls.handshake", "tls.interception", "crl.fetch", "clock.skew")
    assert verdicts(direct, checks) == verdicts(proxied, checks)
    reachability = {k[1:]: v for k, v in verdicts(direct, ("tcp.connect",)).items()}
    tunnels = {k[1:]: v for k, v in verdicts(proxied, ("proxy.tunnel",)).items()}
    assert reachability.keys() == tunnels.keys()
    assert {v for v in reachability.values()} == {("pass", "tcp.open")}
    assert {v for v in tunnels.values()} == {("pass", "proxy.ok")}
    assert direct.code == proxied.code == 0


def test_proxy_requires_authentication() -> None:
    with lab_world(LabSpec(squid=SquidSpec(require_auth=True))) as lab:
        anonymous = lab.preflight("--proxy", PROXY_URL)
        secret_url = f"http://{PROXY_USER}:{PROXY_PASSWORD}@198.18.1.1:3128"
        with_user = lab.preflight("--proxy", secret_url, "--proxy-credentials")
        table = lab.run("run", "--profile", str(lab_pki()[1] / "lab-profile.toml"), "--tenant-id", TENANT,
                        "--proxy", secret_url, "--timeout", "1.5")  # fmt: skip
    result = anonymous.result("proxy.tunnel", "login.microsoftonline.com:443")
    assert (result["status"], result["code"]) == ("fail", "proxy.auth_required")
    assert result["evidence"]["proxy_authenticate"] == ["Basic"]
    assert anonymous.result("tls.handshake", "login.microsoftonline.com:443")["caused_by"] == \
        "proxy.tunnel/login.microsoftonline.com:443"  # fmt: skip
    assert anonymous.code == 1
    assert status_code(with_user, "proxy.tunnel", "login.microsoftonline.com:443") == ("pass", "proxy.ok")
    for output in (with_user.stdout, with_user.stderr, table.stdout, table.stderr):
        assert PROXY_PASSWORD not in output
    effective = with_user.result("proxy.effective", "proxy settings")["evidence"]
    assert effective["explicit"] == "http://198.18.1.1:3128" and effective["credentials_configured"] == ["--proxy"]
    assert PROXY_USER not in with_user.stdout


def test_proxy_denies_connect_to_port_80() -> None:
    with lab_world(LabSpec(squid=SquidSpec(connect_ports=(443, 8398)))) as lab:
        run = lab.preflight("--proxy", PROXY_URL)
    result = run.result("proxy.tunnel", "crl3.digicert.com:80")
    assert (result["status"], result["code"]) == ("fail", "proxy.denied")
    assert result["evidence"]["status"] == 403
    assert result["evidence"]["title"]  # squid's error page title, for the proxy team
    assert status_code(run, "proxy.tunnel", "login.microsoftonline.com:443") == ("pass", "proxy.ok")


def test_explicit_proxy_ssl_bump_untrusted() -> None:
    with lab_world(LabSpec(squid=SquidSpec(ssl_bump=True))) as lab:
        run = lab.preflight("--proxy", PROXY_URL)
    result = run.result("tls.interception", "login.microsoftonline.com:443")
    assert (result["status"], result["code"]) == ("fail", "tls.intercepted_untrusted"), result["summary"]
    via = next(iter(result["evidence"]["addresses"].values()))
    assert via["product_hint"]["product"] == "Squid (ssl-bump)"
    assert status_code(run, "proxy.tunnel", "login.microsoftonline.com:443") == ("pass", "proxy.ok")


def test_explicit_proxy_ssl_bump_with_the_ca_in_the_os_store() -> None:
    with lab_world(LabSpec(squid=SquidSpec(ssl_bump=True), host_trusts_bump_ca=True)) as lab:
        run = lab.preflight("--proxy", PROXY_URL)
    result = run.result("tls.interception", "login.microsoftonline.com:443")
    assert (result["status"], result["code"]) == ("fail", "tls.intercepted"), result["summary"]


def test_explicit_mitmproxy_interception() -> None:
    with lab_world(LabSpec(mitmproxy_explicit=True)) as lab:
        run = lab.preflight("--proxy", MITM_PROXY_URL)
    result = run.result("tls.interception", "login.microsoftonline.com:443")
    assert (result["status"], result["code"]) == ("fail", "tls.intercepted_untrusted"), result["summary"]
    assert "mitmproxy" in result["summary"]


def test_local_dns_fails_but_the_proxy_resolves() -> None:
    spec = LabSpec(squid=SquidSpec(), unrecorded=["login.microsoftonline.com"],
                   dns_options=["--local=/login.microsoftonline.com/"])  # fmt: skip
    with lab_world(spec) as lab:
        run = lab.preflight("--proxy", PROXY_URL)
    assert status_code(run, "dns.resolve", "login.microsoftonline.com") == ("warn", "dns.nxdomain")
    assert status_code(run, "tls.handshake", "login.microsoftonline.com:443") == ("pass", "tls.ok")
    assert run.code == 0


def test_no_proxy_environment_sends_one_name_direct() -> None:
    env = {"HTTPS_PROXY": PROXY_URL, "HTTP_PROXY": PROXY_URL, "NO_PROXY": "login.windows.net"}
    with lab_world(LabSpec(squid=SquidSpec())) as lab:
        run = lab.preflight(env=env)
    routes = run.result("proxy.effective", "proxy settings")["evidence"]["routes"]
    assert routes["login.windows.net:443"] == {"proxy": None, "source": "direct (NO_PROXY rule 'login.windows.net')"}
    assert routes["login.microsoftonline.com:443"]["source"] == "HTTPS_PROXY"
    assert status_code(run, "tcp.connect", "login.windows.net:443") == ("fail", "tcp.filtered")  # direct is blocked
    assert status_code(run, "proxy.tunnel", "login.microsoftonline.com:443") == ("pass", "proxy.ok")


def test_proxy_sources_disagree() -> None:
    env = {"HTTPS_PROXY": "http://198.18.1.1:3999"}
    with lab_world(LabSpec(squid=SquidSpec())) as lab:
        run = lab.preflight("--proxy", PROXY_URL, env=env)
    result = run.result("proxy.effective", "proxy settings")
    assert (result["status"], result["code"]) == ("warn", "proxy.divergent")
    assert "3999" in result["summary"]


def test_only_the_proxied_path_is_intercepted() -> None:
    """squid bumps TLS; the direct path (also open here) is clean: the verdict is the connector's (proxied) path,
    and the difference is reported."""
    with lab_world(LabSpec(squid=SquidSpec(ssl_bump=True, direct_blocked=False))) as lab:
        run = lab.preflight("--proxy", PROXY_URL)
    result = run.result("tls.interception", "login.microsoftonline.com:443")
    assert result["code"] == "tls.intercepted_untrusted"
    assert result["evidence"]["paths_differ"] is True
    assert {d["code"] for d in result["evidence"]["direct_path"].values()} == {"tls.clean"}
    assert "the direct path gives tls.clean" in result["summary"]


def test_only_the_direct_path_is_intercepted() -> None:
    """A transparent interceptor sits on the direct path, the proxy path is clean: pass, with the direct path's
    interception reported in the evidence (what a shell without the proxy would see)."""
    redirect = "ip saddr 198.18.1.2 ip daddr 198.18.50.10 tcp dport 443 redirect to :8080"
    spec = LabSpec(squid=SquidSpec(direct_blocked=False), mitmproxy=True, router_nat=redirect)
    with lab_world(spec) as lab:
        run = lab.preflight("--proxy", PROXY_URL)
    result = run.result("tls.interception", "login.microsoftonline.com:443")
    assert (result["status"], result["code"]) == ("pass", "tls.clean")
    assert result["evidence"]["direct_path"]["198.18.50.10"]["code"] == "tls.intercepted_untrusted"
    assert "direct path gives" in result["summary"]


def test_connector_config_routes_through_the_proxy(tmp_path: Path) -> None:
    """The connector's own <defaultProxy> decides its route, with nothing on the command line or in the env."""
    config = tmp_path / "MicrosoftEntraPrivateNetworkConnectorService.exe.config"
    config.write_text(
        '<?xml version="1.0"?><configuration><system.net><defaultProxy enabled="true">'
        f'<proxy proxyaddress="{PROXY_URL}" usesystemdefault="false" /></defaultProxy></system.net></configuration>'
    )
    with lab_world(LabSpec(squid=SquidSpec())) as lab:
        run = lab.preflight("--connector-config", str(config))
        broken = tmp_path / "broken.exe.config"
        broken.write_text("<configuration><system.net>")
        bad = lab.preflight("--connector-config", str(broken), "--only", "proxy.*")
    assert run.code == 0, run.stdout[-1500:]
    route = run.result("proxy.effective", "proxy settings")["evidence"]["routes"]["login.microsoftonline.com:443"]
    assert route["source"].startswith("connector (") and route["proxy"] == PROXY_URL
    assert status_code(run, "proxy.tunnel", "login.microsoftonline.com:443") == ("pass", "proxy.ok")
    assert status_code(bad, "proxy.effective", "proxy settings") == ("warn", "proxy.invalid_setting")


def test_pac_file_sends_microsoft_names_to_the_proxy(tmp_path: Path) -> None:
    pac = tmp_path / "proxy.pac"
    pac.write_text(
        "function FindProxyForURL(url, host) {\n"
        f'  if (dnsDomainIs(host, ".microsoftonline.com")) return "PROXY {PROXY_URL.removeprefix("http://")}";\n'
        '  return "DIRECT";\n}\n'
    )
    with lab_world(LabSpec(squid=SquidSpec())) as lab:
        run = lab.preflight("--pac", str(pac))
    routes = run.result("proxy.effective", "proxy settings")["evidence"]["routes"]
    assert routes["login.microsoftonline.com:443"]["source"].startswith(f"PAC {pac}: PROXY")
    assert status_code(run, "proxy.tunnel", "login.microsoftonline.com:443") == ("pass", "proxy.ok")
    assert status_code(run, "tls.interception", "login.microsoftonline.com:443") == ("pass", "tls.clean")
    # everything else goes DIRECT, which this lab blocks: the PAC sends those endpoints nowhere useful
    assert status_code(run, "tcp.connect", "login.windows.net:443") == ("fail", "tcp.filtered")


def test_a_pac_list_whose_first_proxy_is_dead_fails_over_as_the_connector_does(tmp_path: Path) -> None:
    """'PROXY dead; PROXY squid': nothing listens on the first (the router refuses the connection), so the
    connector's .NET (and WinHTTP) move on to squid, which carries it. A warning naming the dead proxy, the TLS
    verdicts through squid, never a hard proxy.unreachable."""
    squid = PROXY_URL.removeprefix("http://")
    dead = squid.rsplit(":", 1)[0] + ":3129"
    pac = tmp_path / "proxy.pac"
    pac.write_text(f'function FindProxyForURL(url, host) {{ return "PROXY {dead}; PROXY {squid}"; }}\n')
    with lab_world(LabSpec(squid=SquidSpec())) as lab:
        run = lab.preflight("--pac", str(pac))
    tunnel = run.result("proxy.tunnel", "login.microsoftonline.com:443")
    assert (tunnel["status"], tunnel["code"]) == ("warn", "proxy.failover"), tunnel["summary"]
    assert [t["proxy"] for t in tunnel["evidence"]["tried"]] == [f"http://{dead}", PROXY_URL]
    assert tunnel["evidence"]["tried"][0]["outcome"] == "unreachable" and f"http://{dead}" in tunnel["summary"]
    assert status_code(run, "tls.interception", "login.microsoftonline.com:443") == ("pass", "tls.clean")
    assert status_code(run, "tls.handshake", "login.microsoftonline.com:443") == ("pass", "tls.ok")
    assert not [r for r in run.report["results"] if r["code"] == "proxy.unreachable"]
    assert run.code == 0  # warnings only


WPAD_SCRIPT = (
    "function FindProxyForURL(url, host) {\n"
    "  var direct = [/\\.contoso\\.test$/i, /^localhost$/];\n"
    "  for (var i = 0; i < direct.length; i++) { if (direct[i].test(host)) return 'DIRECT'; }\n"
    f"  return 'PROXY {PROXY_URL.removeprefix('http://')}; DIRECT';\n}}\n"
)
WPAD_URL = f"http://wpad.{LAB_DNS_SUFFIX}/wpad.dat"


def test_wpad_found_by_dns_routes_the_connector_through_the_proxy(tmp_path: Path) -> None:
    """The host's DNS suffix has a wpad record and the router serves wpad.dat; the connector auto-detects
    (autoDetect="true"): the run finds the script, routes through squid and reports squid's verdicts."""
    config = tmp_path / "Connector.exe.config"
    config.write_text('<configuration><system.net><defaultProxy><proxy autoDetect="true" usesystemdefault="false"/>'
                      "</defaultProxy></system.net></configuration>")  # fmt: skip
    spec = LabSpec(squid=SquidSpec(), wpad_script=WPAD_SCRIPT, dns_search=(LAB_DNS_SUFFIX,))
    with lab_world(spec) as lab:
        run = lab.preflight("--connector-config", str(config))
    effective = run.result("proxy.effective", "proxy settings")
    wpad = effective["evidence"]["wpad"]
    assert (wpad["url"], wpad["via"], wpad["used"]) == (WPAD_URL, f"wpad.{LAB_DNS_SUFFIX}", True)
    assert wpad["why"] == f"autoDetect=true in {config}"
    assert wpad["names"] == [f"wpad.{LAB_DNS_SUFFIX}", "wpad.contoso.test"]  # devolved, never below two labels
    assert wpad["script"]["fetch"]["content_type"] == "application/x-ns-proxy-autoconfig"
    route = effective["evidence"]["routes"]["login.microsoftonline.com:443"]
    assert route["proxy"] == PROXY_URL and route["source"].startswith(f"PAC {WPAD_URL} (WPAD via wpad.")
    assert (effective["status"], effective["code"]) == ("pass", "proxy.configured"), effective["summary"]
    assert f"WPAD script {WPAD_URL}" in effective["summary"]
    for key in ("login.microsoftonline.com:443", f"{BOOT}:8398"):
        assert status_code(run, "proxy.tunnel", key) == ("pass", "proxy.ok")
        assert status_code(run, "tls.interception", key) == ("pass", "tls.clean")
    assert run.code == 0, run.stdout[-3000:]


def test_wpad_nobody_configured_is_reported_not_followed() -> None:
    """No connector configuration is read (off Windows): the WPAD script is evidence, its answers are compared
    with the tested (direct) route, and the difference is the finding."""
    spec = LabSpec(squid=SquidSpec(), wpad_script=WPAD_SCRIPT, dns_search=(LAB_DNS_SUFFIX,))
    with lab_world(spec) as lab:
        run = lab.preflight("--only", "proxy.*", "--only", "tcp.*", "--only", "dns.*")
        off = lab.preflight("--only", "proxy.effective", "--wpad-domain", "none")
    effective = run.result("proxy.effective", "proxy settings")
    assert (effective["status"], effective["code"]) == ("warn", "proxy.divergent")
    assert f"a WPAD script exists at {WPAD_URL}, not followed" in effective["summary"]
    by_source = effective["evidence"]["routes"]["login.microsoftonline.com:443"]["by_source"]
    assert by_source == {"tested": "direct", "wpad": PROXY_URL}
    assert effective["evidence"]["wpad"]["used"] is False
    assert status_code(run, "tcp.connect", "login.microsoftonline.com:443") == ("fail", "tcp.filtered")
    assert "wpad" not in off.result("proxy.effective", "proxy settings")["evidence"]


# --- the tenant and the connector's service path ------------------------------------------------------------


def run_with_domain(lab: Any, domain: str = TENANT_DOMAIN, *extra: str) -> Any:
    """The lab run with the tenant given as a domain: looked up at the lab's sign-in service."""
    return lab.run("run", "--profile", str(lab_pki()[1] / "lab-profile.toml"), "--tenant-id", domain,
                   "--format", "json", "--timeout", "1.5", *extra)  # fmt: skip


def test_a_tenant_domain_is_looked_up_and_the_service_path_probed() -> None:
    with lab_world(LabSpec(host_trusts_lab_root=True)) as lab:
        run = run_with_domain(lab)
    tenant = run.result("tenant.resolve", "tenant")
    assert (tenant["status"], tenant["code"]) == ("pass", "tenant.ok"), tenant["summary"]
    assert tenant["evidence"]["tenant_id"] == TENANT
    assert tenant["evidence"]["discovery"]["document"]["cloud_instance_name"] == "microsoftonline.com"
    for port in (443, 8398):
        assert status_code(run, "tcp.connect", f"{BOOT}:{port}") == ("pass", "tcp.open")
        assert status_code(run, "tls.interception", f"{BOOT}:{port}") == ("pass", "tls.clean")
    assert run.report["summary"]["untested_service"] == []
    assert (run.code, run.report["summary"]["verdict"]) == (0, "pass")


def test_a_tenant_domain_with_8398_dropped_reports_8398_filtered() -> None:
    with lab_world(LabSpec(host_trusts_lab_root=True, router_rules="tcp dport 8398 drop")) as lab:
        run = run_with_domain(lab)
    assert status_code(run, "tenant.resolve", "tenant") == ("pass", "tenant.ok")
    assert status_code(run, "tcp.connect", f"{BOOT}:8398") == ("fail", "tcp.filtered")
    assert status_code(run, "tcp.connect", f"{BOOT}:443") == ("pass", "tcp.open")
    assert run.code == 1


def test_without_a_tenant_the_run_is_incomplete_never_pass() -> None:
    with lab_world() as lab:
        json_run = lab.run("run", "--profile", str(lab_pki()[1] / "lab-profile.toml"), "--format", "json",
                           "--timeout", "1.5")  # fmt: skip
        table = lab.run("run", "--profile", str(lab_pki()[1] / "lab-profile.toml"), "--timeout", "1.5")
    assert (json_run.code, json_run.report["summary"]["verdict"]) == (3, "incomplete")
    assert {(u["host"], u["port"]) for u in json_run.report["summary"]["untested_service"]} == {
        ("{tenant_id}.bootstrap.msappproxy.net", 443), ("{tenant_id}.bootstrap.msappproxy.net", 8398)}  # fmt: skip
    assert not [r for r in json_run.report["results"] if r["status"] in ("fail", "warn", "error")]  # all else clean
    first = table.stdout.splitlines()[0]
    assert first == ("NOT TESTED: the connector's service path ({tenant_id}.bootstrap.msappproxy.net:443,8398): run "
                     "again with --tenant-id GUID or a domain of the tenant (contoso.onmicrosoft.com).")  # fmt: skip
    assert table.code == 3


def test_an_unknown_tenant_domain_fails_and_leaves_the_service_rows_unprobed() -> None:
    with lab_world(LabSpec(host_trusts_lab_root=True)) as lab:
        run = run_with_domain(lab, "nobody.onmicrosoft.com")
    tenant = run.result("tenant.resolve", "tenant")
    assert (tenant["status"], tenant["code"]) == ("fail", "tenant.not_found"), tenant["summary"]
    assert "AADSTS90002" in tenant["summary"]
    unprobed = run.result("dns.resolve", "{tenant_id}.bootstrap.msappproxy.net")
    assert unprobed["code"] == "target.needs_tenant_id"
    assert "the lookup of nobody.onmicrosoft.com did not give one" in unprobed["summary"]
    assert run.result("tcp.connect", "{tenant_id}.bootstrap.msappproxy.net:8398")["caused_by"] == unprobed["id"]
    assert status_code(run, "tcp.connect", "login.microsoftonline.com:443") == ("pass", "tcp.open")
    assert run.code == 1


def test_a_government_tenant_names_the_profile_to_use() -> None:
    with lab_world(LabSpec(host_trusts_lab_root=True)) as lab:
        run = run_with_domain(lab, "contoso-gov.onmicrosoft.us")
    tenant = run.result("tenant.resolve", "tenant")
    assert (tenant["status"], tenant["code"]) == ("fail", "tenant.other_cloud"), tenant["summary"]
    assert "--profile azure-government" in tenant["summary"]
    assert tenant["evidence"]["discovery"]["document"]["tenant_region_scope"] == "USGov"


def test_the_lookup_verifies_tls_against_this_host_s_trust_store() -> None:
    """Without the lab's root in the host's OS store, the sign-in service is not trusted, as on a real host."""
    with lab_world() as lab:
        run = run_with_domain(lab)
    tenant = run.result("tenant.resolve", "tenant")
    assert (tenant["status"], tenant["code"]) == ("fail", "tenant.tls_error"), tenant["summary"]
    assert tenant["evidence"]["discovery"]["trust"] == "os"


def test_the_lookup_takes_the_proxy_the_run_uses() -> None:
    with lab_world(LabSpec(squid=SquidSpec(), host_trusts_lab_root=True)) as lab:
        direct = run_with_domain(lab, TENANT_DOMAIN, "--proxy", "none")
        proxied = run_with_domain(lab, TENANT_DOMAIN, "--proxy", PROXY_URL)
    assert status_code(direct, "tenant.resolve", "tenant") == ("fail", "tenant.unreachable")
    tenant = proxied.result("tenant.resolve", "tenant")
    assert (tenant["status"], tenant["code"]) == ("pass", "tenant.ok"), tenant["summary"]
    assert tenant["evidence"]["discovery"]["route"] == f"via {PROXY_URL}"
    assert status_code(proxied, "proxy.tunnel", f"{BOOT}:8398") == ("pass", "proxy.ok")
    assert proxied.code == 0


def quick_start_command() -> list[str]:
    """The README's quick start: a virtual environment, the install into it, then the run as the admin types it
    (run here through `python -m preflight`, the same entry point, under the network guard)."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Install and run", 1)[1].split("```sh\n", 1)[1].split("\n```", 1)[0]
    venv, install, run = block.split(" && ")
    assert (venv, install) == ("python3 -m venv .venv", ".venv/bin/pip install ."), block
    assert run.startswith(".venv/bin/preflight run "), block
    return run.split()[1:]


def test_readme_quick_start() -> None:
    """The quick start, run as written in the lab, prints what the README shows. The lab's roots stand in for
    Microsoft's in the embedded profile (bind-mounted over its anchor file, in a mount namespace of this run
    only), and the host trusts the lab's root, as a real host trusts Microsoft's."""
    import os
    import socket

    anchors = ROOT / "preflight" / "profiles" / "microsoft-roots.pem"
    mount = ["unshare", "-m", "sh", "-c", 'mount --bind "$0" "$1" && shift && exec "$@"',
             str(lab_pki()[1] / "expected-roots.pem"), str(anchors)]  # fmt: skip
    with lab_world(LabSpec(host_trusts_lab_root=True)) as lab:
        env = cli_env(PREFLIGHT_GUARD_ALLOW=LAB_NETWORKS, PREFLIGHT_GUARD_ALLOW_NAMES="1")
        run = run_cli(*quick_start_command(), env=env, prefix=[*lab.topo.prefix(lab.topo.host), *mount])
    assert run.code == 0, run.stdout + run.stderr
    shown = re.sub(rf"· host {re.escape(socket.gethostname())}$", "· host connector-01", run.stdout, flags=re.M)
    readme = (ROOT / "README.md").read_text()
    start, end = "<!-- quick-start-output -->\n```text\n", "```\n<!-- /quick-start-output -->"
    before, rest = readme.split(start, 1)
    documented, after = rest.split(end, 1)
    if os.environ.get("UPDATE_README") == "1":
        (ROOT / "README.md").write_text(before + start + trimmed(shown, documented) + end + after)
        documented = trimmed(shown, documented)
    assert_sample_matches(documented, shown)


ELIDED = "..."


def trimmed(shown: str, sample: str) -> str:
    """The README's sample, with its parts (between '...' lines) taken afresh from the output: the same first lines,
    the same host's block, the same last line."""
    lines = shown.splitlines()
    parts = [part.strip("\n").splitlines() for part in sample.split(f"\n{ELIDED}\n")]
    out: list[str] = []
    for number, part in enumerate(parts):
        if number == 0:
            out += lines[: len(part)]
        elif number == len(parts) - 1:
            out += [ELIDED, *lines[-len(part) :]]
        else:
            first = lines.index(part[0]) if part[0] in lines else 0
            out += [ELIDED, *lines[first : first + len(part)]]
    return "\n".join(out) + "\n"


def assert_sample_matches(sample: str, shown: str) -> None:
    """Each part of the README's sample (between '...' lines) appears in the output, in order, word for word
    (the measured times aside)."""
    output = without_timings(shown)
    position = 0
    for part in sample.split(f"\n{ELIDED}\n"):
        words = without_timings(part)
        found = output.find(words, position)
        assert found >= 0, f"the README's quick-start sample no longer matches the output: {words[:200]!r} " \
                           "(UPDATE_README=1 rewrites it from the output; review README.md)"  # fmt: skip
        position = found + len(words)


def without_timings(text: str) -> str:
    """Measured times differ from run to run (connect latencies, the clock's offset), and with their length where
    the finding column wraps: compared as words, with the times taken out."""
    text = " ".join(text.split())
    text = re.sub(r"connect [0-9.]+ ms", "connect N ms", text)
    return re.sub(r"clock is [0-9.]+ s (ahead|behind) \(±[0-9.]+ s", "clock is N s (±N s", text)
