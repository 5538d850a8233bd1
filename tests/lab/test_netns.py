"""TCP and system-resolver conditions that only a real network can produce, built in network namespaces.

host ↔ router ↔ internet; the router's routes make a prefix filtered (blackhole), prohibited (ICMP 3/13,
ICMPv6 1/1) or unreachable (ICMP 3/1). `preflight` runs unmodified in the host namespace, resolving through
/etc/netns/<host>/resolv.conf and hosts, the way it would on a real machine.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import ROOT, cli_env, run_cli, validate_report

pytestmark = pytest.mark.netns

SERVERS = ROOT / "tests" / "support" / "lab" / "servers.py"
SERVICE, SERVICE6 = "198.18.50.10", "2001:db8:50::10"
FILTERED, PROHIBITED, UNREACHABLE = "198.18.100.5", "198.18.101.5", "198.18.102.5"
PROHIBITED6 = "2001:db8:101::5"

ZONE = {
    "login.microsoftonline.com": {"a": [SERVICE], "aaaa": [SERVICE6]},
    "dual-broken.test": {"a": [SERVICE], "aaaa": [PROHIBITED6]},
    "filtered.test": {"a": [FILTERED]},
    "prohibited.test": {"a": [PROHIBITED]},
    "unreachable.test": {"a": [UNREACHABLE]},
    "prohibited6.test": {"aaaa": [PROHIBITED6]},
    "local-block.test": {"a": ["198.18.103.5"]},
}
HOSTS = f"127.0.0.1 localhost\n{SERVICE} hosts-only.test\n"

# The unmodified default profile, resolved to the lab: every concrete name it holds points at one lab service.
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
DEFAULT_SERVICE, DEFAULT_SERVICE6 = "198.18.60.10", "2001:db8:60::10"


def _default_profile_names() -> list[str]:
    from preflight import profile
    from preflight.engine import plan

    built = plan.build(profile.load(profile.DEFAULT_PROFILE), tenant_id=TENANT)
    return [t.host for t in built.host_targets() if not t.wildcard]


for _name in _default_profile_names():
    ZONE.setdefault(_name, {"a": [DEFAULT_SERVICE], "aaaa": [DEFAULT_SERVICE6]})


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from lab.topology import Topology, clean_leftovers

    clean_leftovers()
    folder = tmp_path_factory.mktemp("netns")
    zone_file = folder / "zone.json"
    zone_file.write_text(json.dumps(ZONE))
    with Topology() as topo:
        topo.add_service_address(SERVICE)
        topo.add_service_address(SERVICE6)
        topo.add_service_address(DEFAULT_SERVICE)
        topo.add_service_address(DEFAULT_SERVICE6)
        topo.router_route("blackhole", "198.18.100.0/24")
        topo.router_route("prohibit", "198.18.101.0/24")
        topo.router_route("unreachable", "198.18.102.0/24")
        topo.router_route("prohibit", "2001:db8:101::/48")
        topo.host_route("prohibit", "198.18.103.0/24")  # this host's own policy refuses it
        topo.host_etc(resolv_conf="nameserver 127.0.0.1\noptions timeout:1 attempts:1\n", hosts=HOSTS)
        topo.start_python(topo.host, SERVERS, "dns", str(zone_file), "127.0.0.1:53")
        topo.start_python(
            topo.internet,
            SERVERS,
            "tcp",
            f"{SERVICE}:443",
            f"[{SERVICE6}]:443",
            f"{SERVICE}:8398",
            *(f"{a}:{p}" for a in (DEFAULT_SERVICE, f"[{DEFAULT_SERVICE6}]") for p in (443, 8398, 80)),
        )
        yield topo


def lab_env() -> dict[str, str]:
    return cli_env(PREFLIGHT_GUARD_ALLOW="198.18.0.0/15,2001:db8::/32", PREFLIGHT_GUARD_ALLOW_NAMES="1")


def run_in_host(lab: Any, tmp_path: Path, rows: list[tuple[str, list[int]]], *extra: str) -> Any:
    profile = tmp_path / "lab.toml"
    text = 'name = "netns"\n'
    for host, ports in rows:
        text += f'[[endpoint]]\nhost = "{host}"\nports = {ports}\npurpose = "p"\nsource = "s"\n'
    profile.write_text(text)
    return run_cli("run", "--profile", str(profile), "--timeout", "1.5", "--format", "json", *extra,
                   env=lab_env(), prefix=lab.prefix(lab.host))  # fmt: skip


def test_tcp_conditions_through_a_router(lab: Any, tmp_path: Path, report_schema: dict[str, Any]) -> None:
    rows = [("login.microsoftonline.com", [443, 8398, 80]), ("filtered.test", [443]), ("prohibited.test", [443]),
            ("unreachable.test", [443]), ("prohibited6.test", [443]), ("dual-broken.test", [443]),
            ("local-block.test", [443])]  # fmt: skip
    run = run_in_host(lab, tmp_path, rows)
    validate_report(run.report, report_schema)
    expect = {
        "login.microsoftonline.com:443": ("pass", "tcp.open"),
        "login.microsoftonline.com:80": ("fail", "tcp.refused"),
        "filtered.test:443": ("fail", "tcp.filtered"),
        "prohibited.test:443": ("fail", "tcp.unreachable"),
        "unreachable.test:443": ("fail", "tcp.unreachable"),
        "prohibited6.test:443": ("fail", "tcp.unreachable"),
        "dual-broken.test:443": ("warn", "tcp.partial"),
        "local-block.test:443": ("fail", "tcp.local_block"),
    }
    for key, (status, code) in expect.items():
        result = run.result("tcp.connect", key)
        assert (result["status"], result["code"]) == (status, code), result["summary"]
    # 8398 is open on IPv4 only
    assert run.result("tcp.connect", "login.microsoftonline.com:8398")["code"] == "tcp.partial"

    prohibited = run.result("tcp.connect", "prohibited.test:443")["evidence"]["attempts"][0]["icmp"]
    assert prohibited == {"type": 3, "code": 13, "meaning": "communication administratively prohibited",
                          "offender": "198.18.1.1", "prohibited": True, "local": False}  # fmt: skip
    unreachable = run.result("tcp.connect", "unreachable.test:443")["evidence"]["attempts"][0]["icmp"]
    assert (unreachable["type"], unreachable["code"], unreachable["offender"]) == (3, 1, "198.18.1.1")
    v6 = run.result("tcp.connect", "prohibited6.test:443")["evidence"]["attempts"][0]["icmp"]
    assert (v6["type"], v6["code"], v6["offender"]) == (1, 1, "2001:db8:1::1")
    assert "from 198.18.1.1" in run.result("tcp.connect", "prohibited.test:443")["summary"]
    filtered = run.result("tcp.connect", "filtered.test:443")
    assert filtered["duration_ms"] < 4000  # bounded by --timeout 1.5
    assert run.code == 1


def test_system_resolver_path_sees_hosts_file_and_resolv_conf(lab: Any, tmp_path: Path) -> None:
    rows = [("login.microsoftonline.com", [443]), ("hosts-only.test", [443]), ("missing.test", [443])]
    run = run_in_host(lab, tmp_path, rows)
    login = run.result("dns.resolve", "login.microsoftonline.com")
    assert login["code"] == "dns.ok"
    assert login["evidence"]["source"] == "system"
    assert set(login["evidence"]["addresses"]) == {SERVICE, SERVICE6}
    assert login["evidence"]["nameservers"] == ["127.0.0.1"]

    hosts_only = run.result("dns.resolve", "hosts-only.test")
    assert (hosts_only["status"], hosts_only["code"]) == ("warn", "dns.local_override")
    assert hosts_only["evidence"]["addresses"] == [SERVICE]
    assert run.result("tcp.connect", "hosts-only.test:443")["code"] == "tcp.open"

    missing = run.result("dns.resolve", "missing.test")
    assert (missing["status"], missing["code"]) == ("fail", "dns.nxdomain")
    assert missing["evidence"]["system"]["error"] == "noname"
    assert run.result("tcp.connect", "missing.test:443")["caused_by"] == "dns.resolve/missing.test"


def test_namespaces_are_gone_after_teardown(tmp_path: Path) -> None:
    from lab.topology import Topology, sh

    with Topology() as topo:
        names = (topo.host, topo.router, topo.internet)
        topo.host_etc(resolv_conf="nameserver 127.0.0.1\n")
        assert all(n in sh("ip", "netns", "list").stdout for n in names)
    listing = sh("ip", "netns", "list").stdout
    assert not any(n in listing for n in names)
    assert not Path(f"/etc/netns/{names[0]}").exists()


def test_the_unmodified_default_profile_in_the_lab(lab: Any) -> None:
    """README's main job, `preflight run --tenant-id ...`, with no profile or DNS flags, inside the lab."""
    run = run_cli("run", "--tenant-id", TENANT, "--format", "json", "--timeout", "2", "--only", "dns.*",
                  "--only", "tcp.*", env=lab_env(),
                  prefix=lab.prefix(lab.host))  # fmt: skip
    report = run.report
    assert report["profile"]["name"] == "entra-private-access"
    statuses = {(r["check"], r["status"], r["code"]) for r in report["results"]}
    assert ("dns.resolve", "pass", "dns.ok") in statuses and ("tcp.connect", "pass", "tcp.open") in statuses
    for result in report["results"]:
        if result["status"] == "skip":
            assert result["code"] in ("target.wildcard", "run.upstream", "host.not_windows"), result["summary"]
        else:
            assert result["status"] == "pass", result["summary"]
    boot = f"{TENANT}.bootstrap.msappproxy.net"
    for port in (443, 8398):
        assert run.result("tcp.connect", f"{boot}:{port}")["code"] == "tcp.open"
    assert run.result("tcp.connect", "crl3.digicert.com:80")["code"] == "tcp.open"
    assert report["summary"]["verdict"] == "pass"
    assert run.code == 0
