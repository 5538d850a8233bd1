"""The firewall request (`--format firewall`): what to ask the network team for, per code observed."""

from __future__ import annotations

import pytest

from preflight.model import CheckResult, Status, Target
from preflight.reporting.report import Report
from reports.firewall import rows

CASES = [
    ("tls.handshake", "tls.sni_filtered", "allow this FQDN (SNI) on the TLS/SNI filter"),
    ("tls.handshake", "tls.block_page", "through the web filter"),
    ("tls.interception", "tls.incomplete_chain", "AIA (caIssuers) host"),
    ("tls.http2", "http2.not_negotiated", "HTTP/2 (ALPN h2) through end to end"),
    ("watch.idle", "idle.dropped", "raise the TCP idle timeout"),
    ("watch.idle", "idle.reset", "raise the TCP idle timeout"),
    ("watch.stability", "watch.address_intermittent", "on every path"),
    ("watch.stability", "watch.intercepted_sometimes", "every member of the proxy/firewall pool"),
]


@pytest.mark.parametrize(("check", "code", "wanted"), CASES, ids=[c[1] for c in CASES])
def test_each_path_failure_becomes_a_request_for_the_network_team(check: str, code: str, wanted: str) -> None:
    result = CheckResult(check, Target("svc.contoso.test", 443), Status.FAIL, code, "what was seen")
    report = Report("0", {"name": "p"}, {}, {}, 0.0, 0, [result])
    (row,) = rows(report)
    assert row["fqdn"] == "svc.contoso.test" and row["port"] == "443" and wanted in row["request"]
