"""The CLI end to end, as a subprocess under the network guard, against loopback DNS and TCP servers."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dnsserver import Behaviour, DnsServer
from helpers import cli_env, free_port, run_cli, validate_report
from ntpserver import NtpServer


@pytest.fixture
def world(listener: Any, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A DNS zone of .test names, a listening port, a closed port, and a profile over them."""
    open_port, closed_port = listener(), free_port()
    zone = {
        "ok.test": Behaviour(a=("127.0.0.1",)),
        "dual.test": Behaviour(a=("127.0.0.1",), aaaa=("::1",)),
        "nx.test": Behaviour(rcode="NXDOMAIN"),
        "sink.test": Behaviour(a=("0.0.0.0",)),
        "servfail.test": Behaviour(rcode="SERVFAIL"),
        "refused.test": Behaviour(rcode="REFUSED"),
        "nodata.test": Behaviour(),
        "silent.test": Behaviour(silent=True),
        f"{TENANT}.boot.svc.test": Behaviour(a=("127.0.0.1",)),
    }
    with DnsServer(zone) as dns, NtpServer() as ntp:
        NTP_SERVERS[:] = [f"127.0.0.1:{ntp.port}"]
        yield {"dns": dns, "open": open_port, "closed": closed_port, "tmp": tmp_path, "ntp": ntp}
        NTP_SERVERS[:] = []


NTP_SERVERS: list[str] = []  # the world's SNTP responder, written into every profile the tests make


def write_profile(path: Path, rows: list[tuple[str, list[int]]] | list[tuple[str, list[int], str]]) -> str:
    """A profile over `rows`: (host, ports) or (host, ports, role)."""
    text = 'name = "cli-test"\ndescription = "loopback"\n'
    text += f"[clock]\nntp_servers = {NTP_SERVERS!r}\n".replace("'", '"')
    for host, ports, *role in rows:
        text += f'\n[[endpoint]]\nhost = "{host}"\nports = {ports}\npurpose = "test"\nsource = "tests"\n'
        text += f'role = "{role[0]}"\n' if role else ""
    path.write_text(text)
    return str(path)


def run_world(world: dict[str, Any], rows: list[tuple[str, list[int]]], *extra: str, **kw: Any) -> Any:
    profile = write_profile(world["tmp"] / "profile.toml", rows)
    return run_cli(
        "run", "--profile", profile, "--dns-server", world["dns"].address, "--timeout", "1", "--format", "json",
        *extra, **kw,
    )  # fmt: skip


def test_all_clear_exits_0_with_a_valid_report(world: dict[str, Any], report_schema: dict[str, Any]) -> None:
    run = run_world(world, [("ok.test", [world["open"]])])
    assert run.code == 0, run.stderr
    validate_report(run.report, report_schema)
    assert run.report["summary"]["verdict"] == "pass"
    assert run.report["summary"]["counts"] == {"pass": 4, "warn": 0, "fail": 0, "skip": 4, "error": 0}
    skipped = {(r["check"], r["code"]) for r in run.report["results"] if r["status"] == "skip"}
    assert skipped == {("host.tls", "host.not_windows"), ("host.dotnet", "host.not_windows"),
                       ("host.os", "host.not_windows"), ("host.connector", "host.not_windows")}  # fmt: skip
    assert run.result("proxy.effective", "proxy settings")["code"] == "proxy.direct"
    clock = run.result("clock.skew", "system clock")
    assert (clock["status"], clock["code"]) == ("pass", "clock.ok")
    assert run.result("dns.resolve", "ok.test")["code"] == "dns.ok"
    assert run.stderr == ""  # not a terminal: no progress line


def test_ipv6_broken_ipv4_fine_is_a_warning_naming_the_address(world: dict[str, Any]) -> None:
    run = run_world(world, [("dual.test", [world["open"]])])  # listening on 127.0.0.1 only; ::1 refuses
    result = run.result("tcp.connect", f"dual.test:{world['open']}")
    assert (result["status"], result["code"]) == ("warn", "tcp.partial")
    outcomes = {a["address"]: a["outcome"] for a in result["evidence"]["attempts"]}
    assert outcomes == {"127.0.0.1": "open", "::1": "refused"}
    assert "::1 refused" in result["summary"]
    assert run.code == 0


def test_every_dns_and_tcp_condition(world: dict[str, Any], report_schema: dict[str, Any]) -> None:
    o, c = world["open"], world["closed"]
    rows = [("ok.test", [o, c]), ("nx.test", [443]), ("sink.test", [443]), ("servfail.test", [443]),
            ("refused.test", [443]), ("nodata.test", [443]), ("silent.test", [443])]  # fmt: skip
    run = run_world(world, rows)
    assert run.code == 1
    validate_report(run.report, report_schema)
    expect = {
        ("dns.resolve", "ok.test"): ("pass", "dns.ok"),
        ("tcp.connect", f"ok.test:{o}"): ("pass", "tcp.open"),
        ("tcp.connect", f"ok.test:{c}"): ("fail", "tcp.refused"),
        ("dns.resolve", "nx.test"): ("fail", "dns.nxdomain"),
        ("dns.resolve", "sink.test"): ("warn", "dns.sinkhole"),
        ("dns.resolve", "servfail.test"): ("fail", "dns.servfail"),
        ("dns.resolve", "refused.test"): ("fail", "dns.refused"),
        ("dns.resolve", "nodata.test"): ("fail", "dns.nodata"),
        ("dns.resolve", "silent.test"): ("fail", "dns.timeout"),
    }
    for (check, key), (status, code) in expect.items():
        result = run.result(check, key)
        assert (result["status"], result["code"]) == (status, code), result
    assert run.result("tcp.connect", f"ok.test:{o}")["evidence"]["attempts"][0]["latency_ms"] is not None


def test_dns_failure_collapses_downstream_checks(world: dict[str, Any]) -> None:
    run = run_world(world, [("nx.test", [443, 8398]), ("sink.test", [443])])
    for port in (443, 8398):
        skipped = run.result("tcp.connect", f"nx.test:{port}")
        assert (skipped["status"], skipped["code"]) == ("skip", "run.upstream")
        assert skipped["caused_by"] == "dns.resolve/nx.test"
    # a sinkhole is a warning, but 0.0.0.0 is not worth a connect: skip, pointing at the DNS result
    sink = run.result("tcp.connect", "sink.test:443")
    assert (sink["status"], sink["code"], sink["caused_by"]) == ("skip", "tcp.no_address", "dns.resolve/sink.test")
    assert not [r for r in run.report["results"] if r["status"] == "pass" and r["check"].startswith(("dns", "tcp"))]


def test_table_groups_skips_under_their_root_cause(world: dict[str, Any]) -> None:
    profile = write_profile(world["tmp"] / "p.toml", [("nx.test", [443, 8398]), ("ok.test", [world["open"]])])
    run = run_cli("run", "--profile", profile, "--dns-server", world["dns"].address, "--timeout", "1")
    assert run.code == 1
    lines = run.stdout.splitlines()
    nx = next(i for i, line in enumerate(lines) if "dns.nxdomain" in line)
    assert "└ tcp.connect" in lines[nx + 1] and ":443 :8398" in lines[nx + 1]
    assert "caused by dns.nxdomain" in lines[nx + 1]
    assert "nx.test" not in lines[nx + 2]  # one folded line per downstream check, not per port
    assert max(len(line) for line in lines) <= 120  # fits the width (COLUMNS), the finding column wrapped
    assert "What to fix:" in run.stdout
    assert "verdict: FAIL" in lines[-1] and "exit 1" in lines[-1]


def test_table_lists_unprobed_rows_once_at_the_end(world: dict[str, Any]) -> None:
    rows = [("ok.test", [world["open"]]), ("*.wild.test", [443, 8398]), ("{tenant_id}.boot.test", [443])]
    profile = write_profile(world["tmp"] / "p.toml", rows)
    run = run_cli("run", "--profile", profile, "--dns-server", world["dns"].address)
    section = run.stdout.split("Not probed (never counted as passed):")[1]
    assert "*.wild.test:443,8398 (wildcard" in section
    assert "{tenant_id}.boot.test:443 (needs --tenant-id GUID|DOMAIN)" in section
    assert "*.wild.test" not in run.stdout.split("Not probed")[0]
    assert run.code == 0


def test_strict_turns_warnings_into_exit_1(world: dict[str, Any]) -> None:
    rows = [("sink.test", [443]), ("ok.test", [world["open"]])]
    assert run_world(world, rows).code == 0
    assert run_world(world, rows, "--strict").code == 1


def test_wildcards_and_missing_tenant_are_skips_never_passes(world: dict[str, Any]) -> None:
    rows = [("*.wild.test", [443]), ("{tenant_id}.boot.test", [443])]
    run = run_world(world, rows, "--skip", "clock.skew", "--skip", "proxy.*")
    assert run.result("dns.resolve", "*.wild.test")["code"] == "target.wildcard"
    boot = run.result("dns.resolve", "{tenant_id}.boot.test")
    assert (boot["status"], boot["code"]) == ("skip", "target.needs_tenant_id")
    assert run.report["summary"]["verdict"] == "inconclusive"
    assert run.code == 3  # nothing was evaluated: not a pass


def test_tenant_id_fills_the_placeholder(world: dict[str, Any]) -> None:
    tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    with DnsServer({f"{tenant}.boot.test": Behaviour(a=("127.0.0.1",))}) as dns:
        profile = write_profile(world["tmp"] / "p.toml", [("{tenant_id}.boot.test", [world["open"]])])
        run = run_cli("run", "--profile", profile, "--dns-server", dns.address, "--tenant-id", tenant,
                      "--format", "json")  # fmt: skip
    assert run.code == 0, run.stdout
    result = run.result("tcp.connect", f"{tenant}.boot.test:{world['open']}")
    assert result["target"]["template"] == "{tenant_id}.boot.test"


def test_endpoint_option_adds_to_the_profile(world: dict[str, Any]) -> None:
    run = run_world(world, [("ok.test", [world["open"]])], "--endpoint", f"dual.test:{world['closed']}")
    assert run.result("tcp.connect", f"dual.test:{world['closed']}")["code"] == "tcp.refused"


def test_only_and_skip_select_checks(world: dict[str, Any]) -> None:
    rows = [("ok.test", [world["open"]])]
    only_dns = run_world(world, rows, "--only", "dns.*")
    assert {r["check"] for r in only_dns.report["results"]} == {"dns.resolve"}
    no_dns = run_world(world, rows, "--skip", "dns.resolve")
    assert {r["check"] for r in no_dns.report["results"]} == {"tcp.connect", "clock.skew", "proxy.effective",
                                                             "host.tls", "host.dotnet", "host.os",
                                                             "host.connector"}  # fmt: skip
    assert no_dns.code == 0


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["run", "--bogus"], ["No such option", "--bogus"]),
        (["run", "--timeout", "abc"], ["--timeout"]),
        (["run", "--profile", "no-such-profile"], ["no-such-profile"]),
        (["run", "--endpoint", "nope:x"], ["--endpoint"]),
        (["run", "--tenant-id", "contoso"], ["--tenant-id"]),
        (["run", "--format", "pdf"], ["unknown format"]),
        (["run", "--only", "nothing.matches"], ["no check matches"]),
        (["run", "--format", "json", "--format", "table"], ["only one format"]),
        (["explain", "dns.bogus"], ["unknown reason code", "dns.nxdomain"]),
        (["frobnicate"], ["No such command"]),
    ],
)
def test_usage_errors_exit_2_with_one_line(args: list[str], words: list[str]) -> None:
    run = run_cli(*args)
    assert run.code == 2, (run.stdout, run.stderr)
    assert run.stdout == ""
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert run.stderr.startswith("preflight: error: ")
    for word in words:
        assert word in run.stderr


def test_malformed_profile_exits_2_naming_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(
        'name = "x"\n\n[[endpoint]]\nhost = "a.test"\nports = [443]\npurpose = "p"\nsource = "s"\nprot = 1\n'
    )
    run = run_cli("run", "--profile", str(path), "--format", "json")
    assert run.code == 2
    assert (
        run.stderr.strip() == f"preflight: error: {path}:8: endpoint[1].prot: unknown key "
        "(allowed: host, ports, purpose, source, tls, role)"
    )


def test_json_to_stdout_is_only_json_and_output_file_is_written(world: dict[str, Any]) -> None:
    out = world["tmp"] / "report.json"
    run = run_world(world, [("ok.test", [world["open"]])], "--output", "-")
    json.loads(run.stdout)
    profile = write_profile(world["tmp"] / "p2.toml", [("ok.test", [world["open"]])])
    run = run_cli("run", "--profile", profile, "--dns-server", world["dns"].address, "--format", f"json={out}")
    assert run.code == 0 and run.stdout.startswith("connector-preflight")  # table still on stdout
    assert json.loads(out.read_text())["summary"]["verdict"] == "pass"


def test_deadline_bounds_a_run_against_a_silent_resolver(world: dict[str, Any], report_schema: dict[str, Any]) -> None:
    profile = write_profile(world["tmp"] / "p.toml", [("silent.test", [443]), ("ok.test", [world["open"]])])
    start = time.monotonic()
    run = run_cli("run", "--profile", profile, "--dns-server", world["dns"].address, "--timeout", "30",
                  "--deadline", "1.5", "--format", "json")  # fmt: skip
    elapsed = time.monotonic() - start
    assert elapsed < 10, elapsed
    validate_report(run.report, report_schema)
    assert run.report["ended_by"] == "deadline"
    assert run.result("dns.resolve", "silent.test")["code"] == "run.deadline"
    assert run.result("dns.resolve", "ok.test")["code"] == "dns.ok"  # finished results are kept
    assert run.code == 3


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_mid_run_writes_the_partial_report(
    world: dict[str, Any], report_schema: dict[str, Any], sig: signal.Signals, code: int
) -> None:
    profile = write_profile(world["tmp"] / "p.toml", [("silent.test", [443]), ("ok.test", [world["open"]])])
    proc = subprocess.Popen(
        [sys.executable, "-m", "preflight", "run", "--profile", profile, "--dns-server", world["dns"].address,
         "--timeout", "30", "--format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(),
    )  # fmt: skip
    _wait_for_query(world["dns"], "silent.test")
    _wait_for_query(world["dns"], "ok.test")
    time.sleep(0.5)  # ok.test's answer (milliseconds away) is in; silent.test's never comes
    start = time.monotonic()
    proc.send_signal(sig)
    stdout, _stderr = proc.communicate(timeout=10)
    assert time.monotonic() - start < 2.0
    assert proc.returncode == code
    report = json.loads(stdout)
    validate_report(report, report_schema)
    assert report["ended_by"] == sig.name
    silent = next(r for r in report["results"] if r["id"] == "dns.resolve/silent.test")
    assert (silent["status"], silent["code"]) == ("skip", "run.interrupted")
    ok = next(r for r in report["results"] if r["id"] == "dns.resolve/ok.test")
    assert ok["code"] == "dns.ok"


def _wait_for_query(dns: DnsServer, name: str) -> None:
    for _ in range(200):
        if any(q[1] == name for q in dns.queries):
            return
        time.sleep(0.025)
    raise AssertionError(f"{name} was never queried")


def test_one_resolution_per_host_however_many_checks_and_ports(world: dict[str, Any]) -> None:
    run_world(world, [("ok.test", [world["open"], world["closed"], 443, 444])])
    asked = [q for q in world["dns"].queries if q[1] == "ok.test"]
    assert sorted(q[2] for q in asked) == ["A", "AAAA"]


def test_one_connect_per_address_and_port_however_many_names(world: dict[str, Any]) -> None:
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    port = server.getsockname()[1]
    try:
        with DnsServer({f"n{i}.test": Behaviour(a=("127.0.0.1",)) for i in range(5)}) as dns:
            profile = write_profile(world["tmp"] / "p.toml", [(f"n{i}.test", [port]) for i in range(5)])
            run = run_cli("run", "--profile", profile, "--dns-server", dns.address, "--format", "json")
        assert run.code == 0
        allowed = ("dns.ok", "tcp.open", "clock.ok", "proxy.direct", "host.not_windows")
        assert all(r["code"] in allowed for r in run.report["results"])
        server.settimeout(0.3)
        accepted = 0
        with contextlib.suppress(TimeoutError):
            while True:
                server.accept()[0].close()
                accepted += 1
        assert accepted == 1  # five names, one address and port: one connect, shared
    finally:
        server.close()


def test_progress_line_only_on_a_terminal(world: dict[str, Any]) -> None:
    import os
    import pty

    profile = write_profile(world["tmp"] / "p.toml", [("ok.test", [world["open"]])])
    master, slave = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "preflight", "run", "--profile", profile, "--dns-server", world["dns"].address,
             "--format", "json"],
            stdout=subprocess.PIPE, stderr=slave, env=cli_env(), timeout=60,
        )  # fmt: skip
        os.close(slave)
        seen = b""
        with contextlib.suppress(OSError):
            while chunk := os.read(master, 4096):
                seen += chunk
    finally:
        os.close(master)
    assert proc.returncode == 0
    assert b"[8/8] " in seen and b"\r" in seen  # the self-rewriting line, on the terminal (4 host.* skips here)
    json.loads(proc.stdout)  # stdout stays pure JSON


TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def test_a_run_that_did_not_probe_the_service_rows_is_incomplete_and_says_so_first(world: dict[str, Any]) -> None:
    rows = [("ok.test", [world["open"]]), ("*.svc.test", [443], "service"),
            ("{tenant_id}.boot.svc.test", [world["open"]], "service")]  # fmt: skip
    profile = write_profile(world["tmp"] / "p.toml", rows)
    base = ("run", "--profile", profile, "--dns-server", world["dns"].address, "--timeout", "1")
    table = run_cli(*base)
    assert table.code == 3, table.stdout
    first = table.stdout.splitlines()[0]
    assert first.startswith(f"NOT TESTED: the connector's service path ({{tenant_id}}.boot.svc.test:{world['open']})")
    assert "--tenant-id" in first
    assert "verdict: INCOMPLETE" in table.stdout.splitlines()[-1]
    report = run_cli(*base, "--format", "json").report
    assert report["summary"]["verdict"] == "incomplete"
    assert report["summary"]["untested_service"] == [
        {"host": "{tenant_id}.boot.svc.test", "port": world["open"], "reason": "needs_tenant", "code": None}
    ]
    assert {"host": "*.svc.test", "port": 443} in report["profile"]["service_rows"]

    with_tenant = run_cli(*base, "--tenant-id", TENANT, "--format", "json")
    assert with_tenant.code == 0, with_tenant.stdout[-1500:]
    assert with_tenant.report["summary"] | {"counts": None} == {
        "counts": None, "verdict": "pass", "exit_code": 0, "untested_service": []}  # fmt: skip
    assert with_tenant.result("tcp.connect", f"{TENANT}.boot.svc.test:{world['open']}")["status"] == "pass"

    dns_only = run_cli(*base, "--tenant-id", TENANT, "--only", "dns.*")
    assert dns_only.code == 3
    assert "without the --only/--skip" in dns_only.stdout.splitlines()[0]


def test_a_wildcard_service_family_alone_stays_informational(world: dict[str, Any]) -> None:
    rows = [("ok.test", [world["open"]]), ("*.svc.test", [443, 8398], "service")]
    run = run_world(world, rows)
    assert run.code == 0
    assert run.report["summary"]["verdict"] == "pass"
