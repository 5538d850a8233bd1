"""preflight diff: before/after a firewall change, from real saved runs."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from dnsserver import Behaviour, DnsServer
from helpers import run_cli


def saved_run(tmp: Path, name: str, zone: dict[str, Behaviour], port: int) -> Path:
    profile = tmp / f"{name}.toml"
    profile.write_text('name = "diff"\n[clock]\nntp_servers = []\n'
                       f'[[endpoint]]\nhost = "a.test"\nports = [{port}]\npurpose = "p"\nsource = "s"\n'
                       f'[[endpoint]]\nhost = "b.test"\nports = [{port}]\npurpose = "p"\nsource = "s"\n')  # fmt: skip
    report = tmp / f"{name}.json"
    with DnsServer(zone) as dns:
        run_cli("run", "--profile", str(profile), "--dns-server", dns.address, "--format", f"json={report}",
                "--quiet", "--timeout", "1")  # fmt: skip
    return report


def test_diff_reports_fixed_and_broke(tmp_path: Path) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    port = server.getsockname()[1]
    try:
        before = saved_run(tmp_path, "before", {"a.test": Behaviour(rcode="NXDOMAIN"),
                                                "b.test": Behaviour(a=("127.0.0.1",))}, port)  # fmt: skip
        after = saved_run(tmp_path, "after", {"a.test": Behaviour(a=("127.0.0.1",)),
                                              "b.test": Behaviour(rcode="SERVFAIL")}, port)  # fmt: skip
    finally:
        server.close()
    run = run_cli("diff", str(before), str(after), "--format", "json")
    assert run.code == 1  # something broke
    changes: dict[str, Any] = {c["id"]: c for c in json.loads(run.stdout)["changes"]}
    assert changes["dns.resolve/a.test"]["kind"] == "fixed"
    assert changes["dns.resolve/b.test"]["kind"] == "broke"
    assert changes["dns.resolve/b.test"]["after"]["code"] == "dns.servfail"
    assert changes[f"tcp.connect/a.test:{port}"]["kind"] == "changed"  # a skip became a pass
    text = run_cli("diff", str(before), str(after))
    assert "broke" in text.stdout and "1 fixed" in text.stdout
    same = run_cli("diff", str(before), str(before))
    assert same.code == 0 and "0 broke, 1 still failing, 0 changed, 0 fixed" in same.stdout


def test_diff_refuses_a_bad_report(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    run = run_cli("diff", str(bad), str(bad))
    assert run.code == 2 and len(run.stderr.strip().splitlines()) == 1


def test_merge_builds_a_fleet_matrix(tmp_path: Path) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    port = server.getsockname()[1]
    try:
        good = saved_run(tmp_path, "good", {"a.test": Behaviour(a=("127.0.0.1",)),
                                            "b.test": Behaviour(a=("127.0.0.1",))}, port)  # fmt: skip
        bad = saved_run(tmp_path, "bad", {"a.test": Behaviour(rcode="NXDOMAIN"),
                                          "b.test": Behaviour(a=("127.0.0.1",))}, port)  # fmt: skip
    finally:
        server.close()
    run = run_cli("merge", str(good), str(bad), "--format", "json")
    assert run.code == 0  # one ready host: the (only) group has a ready candidate
    hosts = json.loads(run.stdout)["hosts"]
    assert [h["ready"] for h in hosts] == [True, False]
    assert [h["verdict"] for h in hosts] == ["pass", "fail"]
    assert hosts[0]["checks"]["dns.resolve"] == {"status": "pass", "codes": [], "where": {}}
    assert hosts[1]["checks"]["dns.resolve"] == {"status": "fail", "codes": ["dns.nxdomain"],
                                                 "where": {"dns.nxdomain": ["a.test"]}}  # fmt: skip
    assert hosts[1]["problems"][0] | {"summary": ""} == {
        "status": "fail",
        "check": "dns.resolve",
        "endpoint": "a.test",
        "code": "dns.nxdomain",
        "summary": "",
    }
    assert hosts[1]["checks"]["clock.skew"]["status"] == "skip"  # not evaluated: never shown as a pass
    markdown = run_cli("merge", str(good), str(bad), "--format", "markdown").stdout
    assert markdown.splitlines()[0].replace(" ", "").startswith("|host|ready|verdict|")
    assert "fail (dns.nxdomain: a.test)" in markdown and "1 of 2" in markdown
    assert run_cli("merge", str(bad)).code == 1  # no ready candidate at all
    assert "<table>" in run_cli("merge", str(good), str(bad), "--format", "html").stdout
