"""host.json collection: the parsers on fixture files, and each platform's collector with a scripted command
runner (the Windows one included, since these machines are Linux)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from helpers import FIXTURES

from preflight.bundle import hostinfo

HOST_FIXTURES = FIXTURES / "host"


def test_ip_addr_json() -> None:
    interfaces = hostinfo.parse_ip_addr_json((HOST_FIXTURES / "ip-addr.json").read_text())
    assert interfaces == [
        {"name": "lo", "state": "UNKNOWN", "mtu": 65536, "addresses": ["127.0.0.1/8", "::1/128"]},
        {"name": "eth0", "state": "UP", "mtu": 1500, "addresses": ["192.0.2.10/24", "fe80::5054:ff:fe12:3456/64"]},
        {"name": "dummy0", "state": "DOWN", "mtu": 1500, "addresses": []},
    ]


def test_ip_route_json() -> None:
    routes = hostinfo.parse_ip_route_json((HOST_FIXTURES / "ip-route4.json").read_text())
    assert routes == ["default via 192.0.2.1 dev eth0 metric 100", "192.0.2.0/24 dev eth0"]


def test_resolv_conf_and_hosts() -> None:
    resolver = hostinfo.parse_resolv_conf((HOST_FIXTURES / "resolv.conf").read_text())
    assert resolver == {"nameservers": ["192.0.2.2", "192.0.2.3"],
                        "search": ["corp.contoso.example", "lab.contoso.example"],
                        "options": ["edns0", "trust-ad", "timeout:2"]}  # fmt: skip
    hosts = hostinfo.parse_hosts((HOST_FIXTURES / "hosts").read_text())
    assert {"address": "203.0.113.7", "names": ["login.microsoftonline.com"]} in hosts
    assert hosts[-1]["names"] == ["proxy.corp.contoso.example", "proxy"]


def scripted(outputs: dict[str, Any]) -> Any:
    def run(argv: Sequence[str]) -> dict[str, Any]:
        key = " ".join(argv)
        if key not in outputs:
            return {"command": key, "error": f"{argv[0]} not found"}
        return {"command": key, "exit_code": 0, "stdout": outputs[key]}

    return run


def test_linux_collector_parses_and_keeps_failures_visible() -> None:
    facts = hostinfo._linux(scripted({
        "ip -j addr show": (HOST_FIXTURES / "ip-addr.json").read_text(),
        "ip -j -4 route show": (HOST_FIXTURES / "ip-route4.json").read_text(),
        "ip -j -6 route show": "not json",
    }))  # fmt: skip
    assert facts["interfaces"][1]["name"] == "eth0"
    assert "parse_error" in facts["routes"]  # a broken part says so instead of vanishing
    assert "resolver_file" in facts and "hosts_file" in facts


def test_linux_collector_without_the_ip_command() -> None:
    facts = hostinfo._linux(scripted({}))  # a minimal container: no iproute2
    assert any(i["name"] == "lo" for i in facts["interfaces"]) and "iproute2" in facts["interfaces_note"]
    assert facts["routes"]["error"] == "ip not found"  # what cannot be read says so


def test_windows_collector_keeps_command_text(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    etc = tmp_path / "System32" / "drivers" / "etc"
    etc.mkdir(parents=True)
    (etc / "hosts").write_text((HOST_FIXTURES / "hosts").read_text())
    monkeypatch.setenv("SYSTEMROOT", str(tmp_path))
    facts = hostinfo._windows(scripted({"ipconfig /all": "Windows IP Configuration\r\n", "route print": "IPv4"}))
    assert facts["interfaces_text"]["stdout"].startswith("Windows IP Configuration")
    assert facts["winhttp_proxy_text"]["error"] == "netsh not found"
    assert facts["hosts"][-1]["address"] == "192.0.2.20"


def test_commands_are_bounded_in_time_and_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hostinfo, "COMMAND_TIMEOUT_S", 0.2)
    assert "timed out" in hostinfo.run_command(["sleep", "5"])["error"]
    monkeypatch.setattr(hostinfo, "MAX_TEXT_BYTES", 10)
    out = hostinfo.run_command(["printf", "0123456789abcdef"])
    assert out["stdout"] == "0123456789\n[truncated]"


def test_collect_has_the_facts_support_asks_for() -> None:
    facts = hostinfo.collect({"name": "p", "sha256": "abc", "origin": "embedded:p"},
                             {"HTTPS_PROXY": "http://p:3128", "PATH": "/bin", "USER": "ops"})  # fmt: skip
    assert facts["proxy_environment"] == {"HTTPS_PROXY": "http://p:3128"}
    assert facts["user"] == "ops" and facts["profile"]["sha256"] == "abc"
    for key in ("os", "os_version", "python", "hostname", "interfaces", "routes", "resolver_file", "hosts_file"):
        assert key in facts


def test_windows_collector_keeps_the_schannel_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from test_schannel import POLICY_SUITES, FakeRegistry

    monkeypatch.setenv("SYSTEMROOT", str(tmp_path))
    registry = FakeRegistry({(POLICY_SUITES, "Functions"): "TLS_AES_256_GCM_SHA384"})
    facts = hostinfo._windows(scripted({}), registry)
    assert facts["schannel"]["cipher_suites"] == ["TLS_AES_256_GCM_SHA384"]
    assert "schannel" not in hostinfo._windows(scripted({}))  # no registry here: nothing invented


def test_host_checks_facts_are_kept_only_where_they_read_something() -> None:
    report = {"results": [
        {"check": "host.tls", "status": "fail", "code": "host.tls12_disabled", "summary": "off",
         "evidence": {"schannel": [{"key": "HKLM\\SYSTEM", "name": "Enabled", "value": 0}]}},
        {"check": "host.os", "status": "skip", "code": "host.not_windows", "summary": "not Windows", "evidence": {}},
        {"check": "tcp.connect", "status": "pass", "code": "tcp.open", "summary": "open", "evidence": {}},
    ]}  # fmt: skip
    facts = hostinfo.collect({"name": "p"}, {}, report)
    assert list(facts["host_checks"]) == ["host.tls"]
    assert facts["host_checks"]["host.tls"]["evidence"]["schannel"][0]["value"] == 0
