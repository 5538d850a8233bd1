"""`--format table`: results grouped by endpoint, skips folded under their root cause, then what to fix."""

from __future__ import annotations

from collections import defaultdict

from tabulate import tabulate

from preflight.model import CheckResult, Status
from preflight.policy import describe_untested
from preflight.report import Report

_MARK = {Status.PASS: "pass", Status.WARN: "WARN", Status.FAIL: "FAIL", Status.SKIP: "skip", Status.ERROR: "ERROR"}
# Rows the run could not probe at all; listed once at the end instead of filling the table.
_NOT_PROBED = {
    "target.wildcard": "wildcard: allow it on the firewall/proxy",
    "target.needs_tenant_id": "needs --tenant-id GUID|DOMAIN",
}


class TableReporter:
    name = "table"
    description = "human-readable table grouped by endpoint (default)"

    def render(self, report: Report) -> str:
        results = report.results
        by_id = {r.id: r for r in results}
        not_probed = _not_probed(results, by_id)
        folded: dict[str, list[CheckResult]] = defaultdict(list)
        shown: list[CheckResult] = []
        for result in results:
            if result.target.host in not_probed:
                continue
            if result.status == Status.SKIP and result.caused_by in by_id:
                folded[result.caused_by].append(result)
            else:
                shown.append(result)

        rows: list[list[str]] = []
        last_host = None
        for result in shown:
            host = result.target.host
            if host != last_host:
                rows.append([host, "", "", "", ""])
                last_host = host
            rows.append(
                ["", f"  {result.check}", _where(result), _MARK[result.status], f"{result.code}: {result.summary}"]
            )
            by_check: dict[str, list[str]] = defaultdict(list)
            for skipped in folded.get(result.id, []):
                by_check[skipped.check].append(_where(skipped))
            for check, places in by_check.items():
                rows.append(
                    [
                        "",
                        f"    └ {check}",
                        " ".join(p for p in places if p),
                        "skip",
                        f"not run: caused by {result.code}",
                    ]
                )

        headline = describe_untested(report.untested)
        lines = [headline, ""] if headline else []
        lines += [
            f"connector-preflight {report.tool_version} · profile {report.profile.get('name')} · "
            f"host {report.host.get('hostname')}",
            "",
        ]
        if rows:
            lines += [
                tabulate(rows, headers=["endpoint", "check", "port/addr", "status", "finding"], tablefmt="simple"),
                "",
            ]
        if not_probed:
            lines.append("Not probed (never counted as passed):")
            lines.extend(
                f"  - {host}:{','.join(map(str, ports))} ({reason})" for host, (ports, reason) in not_probed.items()
            )
            lines.append("")
        fixes = _fixes(results)
        if fixes:
            lines.append("What to fix:")
            lines.extend(fixes)
            lines.append("")
        lines.append(_summary_line(report))
        return "\n".join(lines) + "\n"


def _not_probed(results: list[CheckResult], by_id: dict[str, CheckResult]) -> dict[str, tuple[list[int], str]]:
    """Hosts whose every result is a skip rooted in a wildcard row or a missing tenant ID."""
    per_host: dict[str, list[CheckResult]] = defaultdict(list)
    for result in results:
        per_host[result.target.host].append(result)
    out: dict[str, tuple[list[int], str]] = {}
    for host, host_results in per_host.items():
        roots = {_root_code(r, by_id) for r in host_results}
        if all(r.status == Status.SKIP for r in host_results) and len(roots) == 1 and roots <= set(_NOT_PROBED):
            ports = sorted({r.target.port for r in host_results if r.target.port is not None})
            out[host] = (ports, _NOT_PROBED[roots.pop()])
    return out


def _root_code(result: CheckResult, by_id: dict[str, CheckResult]) -> str:
    root = by_id.get(result.caused_by or "")
    return root.code if root is not None else result.code


def _where(result: CheckResult) -> str:
    target = result.target
    parts = []
    if target.port is not None:
        parts.append(f":{target.port}")
    if target.address is not None:
        parts.append(target.address)
    return " ".join(parts)


def _fixes(results: list[CheckResult]) -> list[str]:
    """One line per code: where it happened, and what to do."""
    where: dict[str, list[str]] = defaultdict(list)
    first: dict[str, CheckResult] = {}
    for result in sorted(results, key=lambda r: -r.status.severity):
        if result.status not in (Status.FAIL, Status.WARN, Status.ERROR) or not result.remediation:
            continue
        first.setdefault(result.code, result)
        if result.target.key not in where[result.code]:
            where[result.code].append(result.target.key)
    lines = []
    for code, result in first.items():
        targets = where[code]
        shown = ", ".join(targets[:6]) + (f" and {len(targets) - 6} more" if len(targets) > 6 else "")
        lines.append(f"  - [{_MARK[result.status]}] {code} ({shown}): {result.remediation}")
    return lines


def _summary_line(report: Report) -> str:
    counts = report.counts
    tally = ", ".join(f"{counts[s.value]} {s.value}" for s in Status)
    ended = {"deadline": " (deadline reached)", "SIGINT": " (interrupted)", "SIGTERM": " (terminated)"}.get(
        report.ended_by or "", ""
    )
    return f"{tally} · verdict: {report.verdict.upper()}{ended} · exit {report.exit_code}"
