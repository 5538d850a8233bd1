"""`--format html`: one self-contained page (no external fetch): the verdict at the top, failures first, grouped
by root cause, evidence (including PEM chains) in collapsible sections."""

from __future__ import annotations

import datetime as dt
import html
import json
from collections import defaultdict

from preflight.model import CheckResult, Status
from preflight.reporting.report import Report, fold_by_cause

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1b1f24;background:#f6f8fa}
header{padding:20px 28px;color:#fff}header h1{margin:0;font-size:24px}header p{margin:4px 0 0;opacity:.9}
.v-pass{background:#1a7f37}.v-warn{background:#9a6700}.v-fail,.v-error{background:#cf222e}
.v-incomplete,.v-inconclusive{background:#57606a}main{padding:16px 28px}
.counts span{display:inline-block;margin-right:14px}section{background:#fff;border:1px solid #d0d7de;
border-radius:6px;margin:12px 0;padding:10px 14px}h2{font-size:17px;margin:18px 0 6px}
.r{border-left:4px solid #d0d7de;padding:4px 10px;margin:6px 0}.r.fail,.r.error{border-color:#cf222e}
.r.warn{border-color:#bf8700}.r.pass{border-color:#1a7f37}.r.skip{border-color:#8c959f;color:#57606a}
.scroll{overflow-x:auto}.rates td,.rates th{text-align:left;padding:2px 12px 2px 0}
.legend{list-style:none;padding:0;font-size:12px}
.tag{font:12px ui-monospace,monospace;padding:1px 6px;border-radius:4px;background:#eaeef2}
.fix{color:#57606a;margin:2px 0}details pre{white-space:pre-wrap;word-break:break-all;font-size:12px;
background:#f6f8fa;padding:8px;border-radius:4px;max-height:420px;overflow:auto}.folded{margin-left:18px}
"""
_ORDER = {Status.FAIL: 0, Status.ERROR: 1, Status.WARN: 2, Status.PASS: 3, Status.SKIP: 4}


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


class HtmlReporter:
    name = "html"
    description = "one self-contained HTML page: verdict first, failures first, collapsible evidence"

    def render(self, report: Report) -> str:
        shown, folded = fold_by_cause(report.results)
        groups: dict[str, list[CheckResult]] = defaultdict(list)
        for result in shown:
            groups[result.target.host].append(result)
        ordered = sorted(groups.items(), key=lambda kv: min(_ORDER[r.status] for r in kv[1]))
        when = dt.datetime.fromtimestamp(report.started_at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        counts = report.counts
        parts = [
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
            "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'\">",
            f"<title>connector-preflight: {_e(report.verdict.upper())}</title><style>{_CSS}</style></head><body>",
            f"<header class='v-{_e(report.verdict)}'><h1>Verdict: {_e(report.verdict.upper())}</h1>",
            f"<p>host {_e(report.host.get('hostname'))} · profile {_e(report.profile.get('name'))} · {_e(when)} · "
            f"connector-preflight {_e(report.tool_version)} · exit code {report.exit_code}</p></header><main>",
            "<p class='counts'>" + "".join(f"<span>{counts[s.value]} {s.value}</span>" for s in Status) + "</p>",
        ]
        if report.diagnosis:
            parts.append("<section class='diagnosis'><h2>Diagnosis</h2><ol>")
            for cause in report.diagnosis:
                sure = "" if cause.confidence == "confirmed" else " (partly: the results below disagree in places)"
                parts.append(
                    f"<li class='r {_e(cause.status.value)}'><b>{_e(cause.status.value.upper())}</b> "
                    f"<span class='tag'>{_e(cause.code)}</span> {_e(cause.summary)}{_e(sure)}"
                    f"<p class='fix'>Fix: {_e(cause.fix)}</p></li>"
                )
            parts.append("</ol></section>")
        headline = report.headline
        if headline:
            parts.append(f"<p class='untested'><b>{_e(headline)}</b></p>")
        if report.watch is not None:
            parts.append(self._watch(report.watch))
        for host, results in ordered:
            parts.append(f"<section><h2>{_e(host)}</h2>")
            for result in sorted(results, key=lambda r: _ORDER[r.status]):
                parts.append(self._result(result, folded.get(result.id, [])))
            parts.append("</section>")
        parts.append("<p>Explain any code with <code>preflight explain CODE</code>.</p></main></body></html>")
        return "\n".join(parts) + "\n"

    def _watch(self, watch: dict[str, object]) -> str:
        from reports import watch_svg, watchview

        rows = "".join(
            f"<tr><td>{_e(v.label)}</td><td>{_e('' if v.pass_rate is None else f'{v.pass_rate} %')}</td>"
            f"<td>{v.problems}</td><td>{_e('; '.join(v.failing_paths[:8]))}</td>"
            f"<td>{_e(watchview.latency_text(v))}</td></tr>"
            for v in watchview.series(watch)
            if v.notable
        )
        table = (
            "<table class='rates'><tr><th>result</th><th>ok</th><th>failed rounds</th><th>addresses and paths</th>"
            "<th>latency</th></tr>"
            f"{rows}</table>"
            if rows
            else "<p>Every result was the same in every round.</p>"
        )
        return (
            f"<section class='watch'><h2>{_e(watchview.heading(watch))}</h2>{table}<h3>Timeline</h3>"
            f"{watch_svg.timeline(watch)}<h3>Latency</h3>{watch_svg.latency_chart(watch)}</section>"
        )

    def _result(self, result: CheckResult, skipped: list[CheckResult]) -> str:
        status = result.status.value
        where = result.target.key
        body = [
            f"<div class='r {status}'><b>{_e(status.upper())}</b> <span class='tag'>{_e(result.check)}</span> "
            f"<span class='tag'>{_e(result.code)}</span> {_e(where)} — {_e(result.summary)}"
        ]
        if result.status in (Status.FAIL, Status.WARN, Status.ERROR) and result.remediation:
            body.append(f"<p class='fix'>What to do: {_e(result.remediation)}</p>")
        if skipped:
            names = ", ".join(f"{s.check} {s.target.key}" for s in skipped)
            body.append(f"<p class='folded'>Not run because of this: {_e(names)}</p>")
        pems = _pems(result.evidence)
        if pems:
            body.append(
                f"<details><summary>Certificate chain ({len(pems)} PEM)</summary><pre>"
                f"{_e(''.join(pems))}</pre></details>"
            )
        evidence = json.dumps(result.evidence, indent=2, default=str, ensure_ascii=False)
        body.append(f"<details><summary>Evidence</summary><pre>{_e(evidence)}</pre></details>")
        if result.error:
            body.append(f"<details><summary>Error trace</summary><pre>{_e(result.error)}</pre></details>")
        body.append("</div>")
        return "".join(body)


def _pems(evidence: object) -> list[str]:
    found: list[str] = []
    if isinstance(evidence, dict):
        for key, value in evidence.items():
            if key == "chain_pem" and isinstance(value, list):
                found.extend(str(v) for v in value)
            else:
                found.extend(_pems(value))
    elif isinstance(evidence, list):
        for value in evidence:
            found.extend(_pems(value))
    return found
