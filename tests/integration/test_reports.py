"""Reports people use: JUnit, Markdown, the firewall request, and `show` rendering any of them from a saved run."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from dnsserver import Behaviour, DnsServer
from helpers import free_port, run_cli


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One real run with a pass, a DNS failure, a refused port and a wildcard row, saved as JSON and as a table."""
    import socket

    folder = tmp_path_factory.mktemp("reports")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    open_port, closed = server.getsockname()[1], free_port()
    profile = folder / "p.toml"
    profile.write_text(
        'name = "reports"\n[clock]\nntp_servers = []\n'
        f'[[endpoint]]\nhost = "ok.test"\nports = [{open_port}, {closed}]\npurpose = "Sign-in"\n'
        'source = "https://learn.example/connectors"\n'
        '[[endpoint]]\nhost = "nx.test"\nports = [443]\npurpose = "Bootstrap"\nsource = "seed.txt"\n'
        '[[endpoint]]\nhost = "*.wild.test"\nports = [443]\npurpose = "Relay"\nsource = "seed.txt"\n'
    )
    report = folder / "report.json"
    with DnsServer({"ok.test": Behaviour(a=("127.0.0.1",)), "nx.test": Behaviour(rcode="NXDOMAIN")}) as dns:
        run = run_cli("run", "--profile", str(profile), "--dns-server", dns.address, "--timeout", "1",
                      "--format", f"json={report}", "--format", "table")  # fmt: skip
    server.close()
    yield {"report": report, "table": run.stdout, "code": run.code, "open": open_port, "closed": closed}


def test_show_renders_the_same_table_and_json(saved: dict[str, Any]) -> None:
    assert saved["code"] == 1
    table = run_cli("show", str(saved["report"]))
    assert table.code == 0 and table.stdout == saved["table"]
    again = run_cli("show", str(saved["report"]), "--format", "json")
    assert json.loads(again.stdout) == json.loads(saved["report"].read_text())


def test_junit(saved: dict[str, Any]) -> None:
    run = run_cli("show", str(saved["report"]), "--format", "junit")
    root = ElementTree.fromstring(run.stdout)
    report = json.loads(saved["report"].read_text())
    cases = root.findall("./testsuite/testcase")
    assert root.tag == "testsuites" and len(cases) == len(report["results"])
    counts = report["summary"]["counts"]
    assert len(root.findall(".//failure")) == counts["fail"] == int(root.get("failures", "-1"))
    assert len(root.findall(".//skipped")) == counts["skip"]
    assert len(root.findall(".//error")) == counts["error"]
    failure = next(c for c in cases if c.find("failure") is not None and c.get("classname") == "dns.resolve")
    assert failure.get("name") == "nx.test" and failure.find("failure").get("type") == "dns.nxdomain"  # type: ignore[union-attr]


def test_markdown(saved: dict[str, Any]) -> None:
    text = run_cli("show", str(saved["report"]), "--format", "markdown").stdout
    assert text.startswith("# Connector network pre-check: FAIL")
    assert "## What to fix" in text and "`dns.nxdomain`" in text and "`tcp.refused`" in text


def test_firewall_request(saved: dict[str, Any]) -> None:
    text = run_cli("show", str(saved["report"]), "--format", "firewall").stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    by_host = {(r["fqdn"], r["port"]): r for r in rows}
    refused = by_host[("ok.test", str(saved["closed"]))]
    assert refused["request"] == "allow outbound TCP from this host" and refused["code"] == "tcp.refused"
    assert refused["purpose"] == "Sign-in" and refused["source"] == "https://learn.example/connectors"
    assert by_host[("*.wild.test", "443")]["request"].startswith("allow (not testable")
    assert ("ok.test", str(saved["open"])) not in by_host  # reachable: nothing to ask for
    markdown = run_cli("show", str(saved["report"]), "--format", "firewall-md").stdout
    assert "[link](https://learn.example/connectors)" in markdown


@pytest.mark.parametrize(
    ("content", "words"),
    [("not json at all", "not JSON"), ('{"schema_version": "9"}', "unsupported schema_version"),
     ("[1, 2]", "not a connector-preflight report"), ('{"schema_version": "1.0"}', "tool: expected dict, got missing")],
)  # fmt: skip
def test_show_refuses_bad_input_in_one_line(tmp_path: Path, content: str, words: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    run = run_cli("show", str(path))
    assert run.code == 2 and len(run.stderr.strip().splitlines()) == 1 and words in run.stderr


def test_show_of_a_missing_file(tmp_path: Path) -> None:
    run = run_cli("show", str(tmp_path / "nope.json"))
    assert run.code == 2 and "cannot read" in run.stderr


def test_firewall_request_never_shows_a_raw_placeholder() -> None:
    from preflight.model import CheckResult, Status, Target
    from preflight.reporting.report import Report
    from reports.firewall import FirewallMarkdownReporter, rows

    seed = "https://github.com/MicrosoftDocs/azure-docs/blob/main/articles/global-secure-access/how-to-configure-connectors.md"
    template = "{tenant_id}.bootstrap.msappproxy.net"
    guid = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    unfilled = Target(template, 8398, purposes=("GSA",), sources=(seed,), template=template, roles=("service",))
    filled = Target(f"{guid}.bootstrap.msappproxy.net", 443, sources=(seed,), template=template, roles=("service",))
    results = [
        CheckResult("tcp.connect", unfilled, Status.SKIP, "target.needs_tenant_id", "needs --tenant-id"),
        CheckResult("tcp.connect", filled, Status.FAIL, "tcp.filtered", "no answer"),
    ]
    report = Report("0", {"name": "p"}, {"hostname": "h"}, {}, 0.0, 0, results)
    found = {r["fqdn"]: r for r in rows(report)}
    assert set(found) == {"<your-tenant-id>.bootstrap.msappproxy.net", f"{guid}.bootstrap.msappproxy.net"}
    assert "<your-tenant-id> is your tenant's ID" in found["<your-tenant-id>.bootstrap.msappproxy.net"]["request"]
    assert found[f"{guid}.bootstrap.msappproxy.net"]["source"] == seed
    markdown = FirewallMarkdownReporter().render(report)
    assert "{tenant_id}" not in markdown and f"[link]({seed})" in markdown
