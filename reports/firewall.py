"""`--format firewall` (CSV) and `firewall-md`: the request a network team can act on — every destination this
host could not use as the connector needs, with what was observed and what to ask for. Wildcard rows that could
not be probed are listed too: they must be allowed all the same."""

from __future__ import annotations

import csv
import io
import re
from typing import TYPE_CHECKING

from preflight.model import CheckResult, Status
from reports.escape import csv_cell, markdown, markdown_code, markdown_link

if TYPE_CHECKING:
    from preflight.reporting.report import Report

COLUMNS = ("fqdn", "port", "protocol", "purpose", "source", "observed", "code", "request")

# What to ask the network team for, by the code that was observed.
_REQUESTS = {
    "tcp": "allow outbound TCP from this host",
    "proxy.auth_required": "allow this host through the proxy without authentication",
    "proxy.denied": "allow CONNECT to this host and port on the proxy",
    "proxy.bad_gateway": "let the proxy itself reach this host and port",
    "tls.intercepted": "exempt from TLS inspection",
    "tls.intercepted_untrusted": "exempt from TLS inspection",
    "tls.reset": "allow this FQDN (SNI) on the filtering device",
    "tls.sni_filtered": "allow this FQDN (SNI) on the TLS/SNI filter, not only its addresses",
    "tls.block_page": "allow this FQDN through the web filter (it answers TLS with a block page)",
    "tls.incomplete_chain": "allow plain HTTP to the certificate's AIA (caIssuers) host, as for CRL/OCSP",
    "http2.not_negotiated": "let HTTP/2 (ALPN h2) through end to end: no TLS inspection or downgrade",
    "http2.broken": "let HTTP/2 (ALPN h2) through end to end: no TLS inspection or downgrade",
    "idle.dropped": "raise the TCP idle timeout for these flows above the connector's need (limit in evidence)",
    "idle.reset": "raise the TCP idle timeout for these flows above the connector's need (limit in evidence)",
    "watch.address_intermittent": "allow this FQDN on every path: some of its addresses fail some of the time",
    "watch.intercepted_sometimes": "exempt from TLS inspection on every member of the proxy/firewall pool",
    "crl.blocked_page": "allow plain HTTP without filtering or authentication",
    "crl.http_error": "allow plain HTTP without filtering or authentication",
    "target.wildcard": "allow (not testable from here: wildcard)",
    "target.needs_tenant_id": "allow (not tested: <your-tenant-id> is your tenant's ID; run with --tenant-id)",
}


def rows(report: Report) -> list[dict[str, str]]:
    seen: set[tuple[str, str, str]] = set()
    out: list[dict[str, str]] = []
    for result in report.results:
        request = _request(result)
        if request is None:
            continue
        port = str(result.target.port or "")
        key = (result.target.host, port, request)
        if key in seen:
            continue
        seen.add(key)
        out.append(
            {
                "fqdn": readable_host(result.target.host),
                "port": port,
                "protocol": "TCP" if port else "",
                "purpose": "; ".join(result.target.purposes),
                "source": " ".join(result.target.sources),
                "observed": result.summary,
                "code": result.code,
                "request": request,
            }
        )
    return out


def readable_host(host: str) -> str:
    """The name to put in a request: the concrete name when the tenant is known, else a pattern a person can
    read (`<your-tenant-id>.bootstrap.msappproxy.net`), never a raw `{tenant_id}` placeholder."""
    return re.sub(r"\{([a-z_]+)\}", lambda m: f"<your-{m.group(1).replace('_', '-')}>", host)


def _request(result: CheckResult) -> str | None:
    if result.status == Status.SKIP and result.target.port is not None:
        # Rows that could not be probed are still required: a wildcard, or a name that needs the tenant ID.
        if result.target.host.startswith("*."):
            return _REQUESTS["target.wildcard"]
        if "{" in result.target.host:
            return _REQUESTS["target.needs_tenant_id"]
        return None
    if result.status not in (Status.FAIL, Status.WARN):
        return None
    if result.check == "tcp.connect" or result.code in ("proxy.unreachable", "crl.filtered", "crl.unreachable"):
        return _REQUESTS["tcp"]
    return _REQUESTS.get(result.code)


class FirewallCsvReporter:
    name = "firewall"
    description = "CSV firewall/proxy request: destinations not reachable as the connector needs, and what to ask"

    def render(self, report: Report) -> str:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows({key: csv_cell(value) for key, value in row.items()} for row in rows(report))
        return buffer.getvalue()


class FirewallMarkdownReporter:
    name = "firewall-md"
    description = "Markdown firewall/proxy request for a ticket"

    def render(self, report: Report) -> str:
        found = rows(report)
        host = markdown_code(str(report.host.get("hostname")))
        lines = [f"# Network request for the Microsoft Entra connector on {host}", ""]
        if not found:
            return "\n".join([*lines, "Nothing to request: every required destination was reachable.", ""])
        lines += ["| FQDN | port | protocol | request | observed | purpose | source |", "|---|---|---|---|---|---|---|"]
        for row in found:
            source = " ".join(markdown_link(s) for s in row["source"].split())
            observed = f"{markdown_code(row['code'])}: {_cell(row['observed'])}"
            lines.append(
                f"| {markdown_code(row['fqdn'])} | {_cell(row['port'])} | {row['protocol']} | {_cell(row['request'])} "
                f"| {observed} | {_cell(row['purpose'])} | {source} |"
            )
        return "\n".join([*lines, ""])


def _cell(text: str) -> str:
    return markdown(text)
