"""`--format table`: results grouped by endpoint, skips folded under their root cause, then what to fix."""

from __future__ import annotations

from collections import defaultdict

from tabulate import tabulate

from preflight.model import CheckResult, Status
from preflight.report import Report

_MARK = {Status.PASS: "pass", Status.WARN: "WARN", Status.FAIL: "FAIL", Status.SKIP: "skip", Status.ERROR: "ERROR"}


class TableReporter:
    name = "table"
    description = "human-readable table grouped by endpoint (default)"

    def render(self, report: Report) -> str:
        results = report.results
        by_id = {r.id: r for r in results}
        folded: dict[str, list[CheckResult]] = defaultdict(list)
        shown: list[CheckResult] = []
        for result in results:
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
            where = _where(result)
            rows.append(["", f"  {result.check}", where, _MARK[result.status], f"{result.code}: {result.summary}"])
            for skipped in folded.get(result.id, []):
                label = f"{skipped.check} {_where(skipped)}".strip()
                rows.append(["", f"    └ {label}", "", "skip", f"not run (caused by {result.code})"])

        lines = [
            f"connector-preflight {report.tool_version} · profile {report.profile.get('name')} · "
            f"host {report.host.get('hostname')}",
            "",
            tabulate(rows, headers=["endpoint", "check", "port/addr", "status", "finding"], tablefmt="simple"),
            "",
        ]
        fixes = _fixes(results)
        if fixes:
            lines.append("What to fix:")
            lines.extend(fixes)
            lines.append("")
        lines.append(_summary_line(report))
        return "\n".join(lines) + "\n"


def _where(result: CheckResult) -> str:
    target = result.target
    parts = []
    if target.port is not None:
        parts.append(f":{target.port}")
    if target.address is not None:
        parts.append(target.address)
    return " ".join(parts)


def _fixes(results: list[CheckResult]) -> list[str]:
    seen: set[tuple[str, str]] = set()
    lines: list[str] = []
    for result in sorted(results, key=lambda r: -r.status.severity):
        if result.status not in (Status.FAIL, Status.WARN, Status.ERROR) or not result.remediation:
            continue
        key = (result.code, result.target.host)
        if key in seen:
            continue
        seen.add(key)
        lines.append(f"  - [{_MARK[result.status]}] {result.target.key} {result.code}: {result.remediation}")
    return lines


def _summary_line(report: Report) -> str:
    counts = report.counts
    tally = ", ".join(f"{counts[s.value]} {s.value}" for s in Status)
    ended = {"deadline": " (deadline reached)", "SIGINT": " (interrupted)", "SIGTERM": " (terminated)"}.get(
        report.ended_by or "", ""
    )
    return f"{tally} · verdict: {report.verdict.upper()}{ended} · exit {report.exit_code}"
