"""`--format markdown`: the verdict and what to fix, ready to paste into a ticket."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from preflight.model import CheckResult, Status
from preflight.reporting.diagnosis import unexplained
from reports.escape import markdown, markdown_code

if TYPE_CHECKING:
    from preflight.reporting.report import Report

_ICON = {
    Status.PASS: "pass",
    Status.WARN: "**WARN**",
    Status.FAIL: "**FAIL**",
    Status.SKIP: "skip",
    Status.ERROR: "**ERROR**",
}


def cell(text: str) -> str:
    """Text from the run (names, summaries: network text among them) as a table cell: it cannot form a link,
    raw HTML, emphasis or a new cell (reports/escape.py)."""
    return markdown(text)


class MarkdownReporter:
    name = "markdown"
    description = "Markdown for a ticket: verdict, what to fix, every result"

    def render(self, report: Report) -> str:
        when = dt.datetime.fromtimestamp(report.started_at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        counts = report.counts
        lines = [
            f"# Connector network pre-check: {report.verdict.upper()}",
            "",
            f"Host {markdown_code(str(report.host.get('hostname')))} · profile "
            f"{markdown_code(str(report.profile.get('name')))} · {when} · "
            f"connector-preflight {report.tool_version} · exit code {report.exit_code}",
            "",
            " · ".join(f"{counts[s.value]} {s.value}" for s in Status),
            "",
        ]
        causes = report.diagnosis
        if causes:
            lines += ["## Diagnosis", ""]
            for number, cause in enumerate(causes, start=1):
                sure = "" if cause.confidence == "confirmed" else " (partly: the rows below disagree in places)"
                lines += [
                    f"{number}. {_ICON[cause.status]} {markdown_code(cause.code)}: {cell(cause.summary)}{sure}  ",
                    f"   **Fix:** {cell(cause.fix)}",
                ]
            lines.append("")
        headline = report.headline
        if headline:
            lines += [f"**{cell(headline)}**", ""]
        problems = sorted(unexplained(report.results, causes), key=lambda r: -r.status.severity)
        if problems:
            lines += [
                "## What to fix" if not causes else "## What to fix besides",
                "",
                "| status | endpoint | check | finding | what to do |",
                "|---|---|---|---|---|",
            ]
            lines += [
                f"| {_ICON[r.status]} | {markdown_code(r.target.key)} | {cell(r.check)} | {markdown_code(r.code)}: "
                f"{cell(r.summary)} | {cell(r.remediation)} |"
                for r in problems
            ]
            lines.append("")
        lines += ["## All results", "", "| status | endpoint | check | code | finding |", "|---|---|---|---|---|"]
        lines += [_row(r) for r in report.results]
        lines += ["", "Explain any code with `preflight explain CODE`."]
        return "\n".join(lines) + "\n"


def _row(result: CheckResult) -> str:
    where = markdown_code(result.target.key)
    code = markdown_code(result.code)
    return f"| {_ICON[result.status]} | {where} | {cell(result.check)} | {code} | {cell(result.summary)} |"
