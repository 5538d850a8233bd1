"""`--format table`: results grouped by endpoint, skips folded under their root cause, then what to fix."""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
from collections import defaultdict

from preflight.model import CheckResult, Status
from preflight.reporting.diagnosis import unexplained
from preflight.reporting.report import Report, fold_by_cause
from reports.escape import terminal, visible

_MARK = {Status.PASS: "pass", Status.WARN: "WARN", Status.FAIL: "FAIL", Status.SKIP: "skip", Status.ERROR: "ERROR"}
# Rows the run could not probe at all; listed once at the end instead of filling the table.
_NOT_PROBED = {
    "target.wildcard": "wildcard: allow it on the firewall/proxy",
    "target.needs_tenant_id": "needs --tenant-id GUID|DOMAIN",
}


DEFAULT_WIDTH = 120  # a file or a pipe: readable in an editor, a ticket or a CI log
MIN_FINDING = 24  # below this the table overflows a very narrow terminal rather than wrap per word
HEADERS = ("check", "port/addr", "status", "finding")


def output_width() -> int:
    """COLUMNS when set (the shell's width, or the user's choice), the terminal's width on a terminal, else 120."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isascii() and columns.isdigit() and int(columns) >= 40:
        return int(columns)
    if sys.stdout.isatty():
        return max(40, shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns)
    return DEFAULT_WIDTH


class TableReporter:
    name = "table"
    description = "human-readable table grouped by endpoint (default)"

    def __init__(self, width: int | None = None) -> None:
        self.width = width

    def render(self, report: Report) -> str:
        width = self.width or output_width()
        results = report.results
        by_id = {r.id: r for r in results}
        not_probed = _not_probed(results, by_id, tenant_failed=_tenant_failed(report))
        shown, folded = fold_by_cause(r for r in results if r.target.host not in not_probed)

        # (host line | None, [check, where, status, finding]) in display order
        rows: list[tuple[str | None, list[str]]] = []
        last_host = None
        for result in shown:
            host = result.target.host
            if host != last_host:
                rows.append((visible(host), []))
                last_host = host
            finding = visible(f"{result.code}: {result.summary}")
            rows.append((None, [visible(f"  {result.check}"), visible(_where(result)), _MARK[result.status], finding]))
            by_check: dict[str, list[str]] = defaultdict(list)
            for skipped in folded.get(result.id, []):
                by_check[skipped.check].append(_where(skipped))
            for check, places in by_check.items():
                where = visible(" ".join(p for p in places if p))
                rows.append((None, [visible(f"    └ {check}"), where, "skip", f"not run: caused by {result.code}"]))

        causes = report.diagnosis
        lines: list[str] = []
        for number, cause in enumerate(causes, start=1):
            sure = "" if cause.confidence == "confirmed" else " (partly: see the rows below)"
            lines += _wrap(
                visible(f"CAUSE {number} [{_MARK[cause.status]}] {cause.code}: {cause.summary}{sure}"), width, "  "
            )
            lines += _wrap(visible(f"  fix: {cause.fix}"), width, "       ")
        if causes:
            lines.append("")
        headline = report.headline
        lines += [visible(headline), ""] if headline else []
        lines += [
            visible(
                f"connector-preflight {report.tool_version} · profile {report.profile.get('name')} · "
                f"host {report.host.get('hostname')}"
            ),
            "",
        ]
        if rows:
            lines += [*_layout(rows, width), ""]
        if report.watch is not None:
            lines += [*_watch_lines(report.watch, width), ""]
        if not_probed:
            lines.append("Not probed (never counted as passed):")
            for host, (ports, reason) in not_probed.items():
                lines += _wrap(visible(f"  - {host}:{','.join(map(str, ports))} ({reason})"), width, "      ")
            lines.append("")
        fixes = [f"  {n}. [{_MARK[c.status]}] {c.code}: {c.fix}" for n, c in enumerate(causes, start=1)]
        fixes += _fixes(unexplained(results, causes))
        if fixes:
            lines.append("What to fix:")
            for fix in fixes:
                lines += _wrap(visible(fix), width, "      ")
            lines.append("")
        lines.append(_summary_line(report))
        # what came from the network was made visible above, before the layout measured it; this pass is the
        # guarantee that no control sequence reaches the terminal whatever a line was built from
        return terminal("\n".join(lines)) + "\n"


def _watch_lines(watch: dict[str, object], width: int) -> list[str]:
    """The watch's rows that failed, warned or changed: pass rate, timeline (- pass, w warn, X fail, E error,
    s skip), latency; the steady rest counted."""
    from reports import watchview

    views = watchview.series(watch)
    notable = [v for v in views if v.notable]
    lines = _wrap(visible(watchview.heading(watch)), width, "  ")
    lines.append("  timeline: - pass, w warn, X fail, E error, s skip")
    for view in notable[: watchview.MAX_ROWS]:
        rate = view.pass_rate
        rate_text = f"{rate:>3} % ok" if rate is not None else "  not run"
        latency = watchview.latency_text(view)
        lines += _wrap(visible(f"  {view.label}: {rate_text} |{watchview.table_timeline(view)}|"), width, "      ")
        if latency:
            lines.append(visible(f"      {latency}"))
        for path in view.failing_paths[:8]:
            lines += _wrap(visible(f"      {path}"), width, "        ")
    hidden = len(notable) - watchview.MAX_ROWS
    if hidden > 0:
        lines.append(f"  ... and {hidden} more that changed (every series is in the JSON report)")
    steady = len(views) - len(notable)
    lines.append(f"  {steady} more result(s) passed or skipped the same way in every round")
    return lines


def _layout(rows: list[tuple[str | None, list[str]]], width: int) -> list[str]:
    """Columns sized to their content, the finding column wrapped to what is left of `width`; a host is a line of
    its own above its checks, so a long name does not widen every row."""
    cells = [HEADERS, *(r for host, r in rows if host is None)]
    widths = [max(len(c[i]) for c in cells) for i in range(3)]
    finding_width = max(MIN_FINDING, width - sum(widths) - 2 * 3)
    out = [
        "  ".join(h.ljust(w) for h, w in zip(HEADERS, [*widths, 0], strict=True)).rstrip(),
        "  ".join("-" * w for w in [*widths, min(finding_width, max(len(c[3]) for c in cells))]),
    ]
    for host, row in rows:
        if host is not None:
            out.append(host)
            continue
        wrapped = textwrap.wrap(row[3], finding_width, break_on_hyphens=False) or [""]
        lead = "  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True))
        out.append(f"{lead}  {wrapped[0]}".rstrip())
        out.extend(f"{' ' * len(lead)}  {more}" for more in wrapped[1:])
    return out


def _wrap(text: str, width: int, indent: str) -> list[str]:
    return textwrap.wrap(text, width, subsequent_indent=indent, break_on_hyphens=False) or [text]


def _tenant_failed(report: Report) -> str | None:
    """The failed tenant.resolve result's code when the tenant was given and its lookup failed."""
    found = next((r for r in report.results if r.check == "tenant.resolve" and r.status == Status.FAIL), None)
    return found.code if found is not None else None


def _not_probed(
    results: list[CheckResult], by_id: dict[str, CheckResult], *, tenant_failed: str | None = None
) -> dict[str, tuple[list[int], str]]:
    """Hosts whose every result is a skip rooted in a wildcard row or a missing tenant ID. When the tenant was
    given and its lookup failed, that is the reason given, not the option the admin already used."""
    per_host: dict[str, list[CheckResult]] = defaultdict(list)
    for result in results:
        per_host[result.target.host].append(result)
    out: dict[str, tuple[list[int], str]] = {}
    for host, host_results in per_host.items():
        roots = {_root_code(r, by_id) for r in host_results}
        if all(r.status == Status.SKIP for r in host_results) and len(roots) == 1 and roots <= set(_NOT_PROBED):
            ports = sorted({r.target.port for r in host_results if r.target.port is not None})
            root = roots.pop()
            reason = _NOT_PROBED[root]
            if root == "target.needs_tenant_id" and tenant_failed is not None:
                reason = f"the tenant's ID: its lookup failed, {tenant_failed} (tenant.resolve)"
            out[host] = (ports, reason)
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
    """One line per code: where it happened (every place: a firewall request needs them all), and what to do."""
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
        lines.append(f"  - [{_MARK[result.status]}] {code} ({', '.join(targets)}): {result.remediation}")
    return lines


def _summary_line(report: Report) -> str:
    counts = report.counts
    tally = ", ".join(f"{counts[s.value]} {s.value}" for s in Status)
    ended = {"deadline": " (deadline reached)", "SIGINT": " (interrupted)", "SIGTERM": " (terminated)"}.get(
        report.ended_by or "", ""
    )
    return f"{tally} · verdict: {report.verdict.upper()}{ended} · exit {report.exit_code}"
