"""`--format markdown`: the verdict and what to fix, ready to paste into a ticket."""

from __future__ import annotations

import datetime as dt

from preflight.model import CheckResult, Status
from preflight.policy import describe_untested
from preflight.report import Report

_ICON = {Status.PASS: "pass", Status.WARN: "**WARN**", Status.FAIL: "**FAIL**", Status.SKIP: "skip",
         Status.ERROR: "**ERROR**"}  # fmt: skip


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


class MarkdownReporter:
    name = "markdown"
    description = "Markdown for a ticket: verdict, what to fix, every result"

    def render(self, report: Report) -> str:
        when = dt.datetime.fromtimestamp(report.started_at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        counts = report.counts
        lines = [
            f"# Connector network pre-check: {report.verdict.upper()}",
            "",
            f"Host `{report.host.get('hostname')}` · profile `{report.profile.get('name')}` · {when} · "
            f"connector-preflight {report.tool_version} · exit code {report.exit_code}",
            "",
            " · ".join(f"{counts[s.value]} {s.value}" for s in Status),
            "",
        ]
        headline = describe_untested(report.untested)
        if headline:
            lines += [f"**{cell(headline)}**", ""]
        problems = sorted((r for r in report.results if r.status in (Status.FAIL, Status.ERROR, Status.WARN)),
                          key=lambda r: -r.status.severity)  # fmt: skip
        if problems:
            lines += [
                "## What to fix",
                "",
                "| status | endpoint | check | finding | what to do |",
                "|---|---|---|---|---|",
            ]
            lines += [f"| {_ICON[r.status]} | `{cell(r.target.key)}` | {r.check} | `{r.code}`: {cell(r.summary)} | "
                      f"{cell(r.remediation)} |" for r in problems]  # fmt: skip
            lines.append("")
        lines += ["## All results", "", "| status | endpoint | check | code | finding |", "|---|---|---|---|---|"]
        lines += [_row(r) for r in report.results]
        lines += ["", "Explain any code with `preflight explain CODE`."]
        return "\n".join(lines) + "\n"


def _row(result: CheckResult) -> str:
    where = cell(result.target.key)
    return f"| {_ICON[result.status]} | `{where}` | {result.check} | `{result.code}` | {cell(result.summary)} |"
