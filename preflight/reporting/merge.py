"""A fleet matrix: candidate hosts x checks, the worst status in each cell, for validating many hosts at once.

Hosts come from saved reports, or from a fleet folder written by the Ansible role (`status/HOST.json` per
host: its connector group, and either the path of its fetched report or why there is none: unreachable, install
failed, run failed). A host without a report is a row with that status and reason, never a silent gap."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import json
from collections import Counter
from pathlib import Path
from typing import Any

from preflight.model import Status
from preflight.reporting.report import Report, ReportError
from preflight.reporting.report import load as load_report

NO_GROUP = "(all)"
RUN_STATUSES = ("unreachable", "install_failed", "run_failed", "bad_report", "no_result")


@dataclasses.dataclass(frozen=True)
class FleetHost:
    name: str
    group: str | None
    report: Report | None
    status: str | None = None  # one of RUN_STATUSES when there is no report
    reason: str | None = None
    origin: str | None = None  # the report file it came from

    @property
    def ready(self) -> bool:
        """Ready for a connector: the run completed with no fail and no error (warnings allowed)."""
        return self.report is not None and self.report.exit_code == 0

    @property
    def verdict(self) -> str:
        return self.report.verdict if self.report is not None else str(self.status)


def from_reports(paths: list[str]) -> list[FleetHost]:
    hosts = []
    for path in paths:
        report = load_report(path)
        hosts.append(FleetHost(str(report.host.get("hostname") or path), None, report, origin=path))
    return hosts


def from_fleet_folder(folder: str) -> list[FleetHost]:
    """Every `status/*.json` in the folder the Ansible role fills; report paths are relative to the folder."""
    base = Path(folder)
    files = sorted((base / "status").glob("*.json")) if (base / "status").is_dir() else []
    if not files:
        raise ReportError(f"{folder}: no status/*.json: not a fleet folder written by the connector_preflight role")
    hosts = []
    for file in files:
        try:
            entry = json.loads(file.read_text(encoding="utf-8"))
            name, group = str(entry["host"]), entry.get("group") or None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ReportError(f"{file}: not a fleet status file ({type(exc).__name__}: {exc})") from None
        reason = entry.get("reason")
        if entry.get("report"):
            try:
                path = str(base / entry["report"])
                hosts.append(FleetHost(name, group, load_report(path), reason=reason, origin=path))
            except ReportError as exc:
                hosts.append(FleetHost(name, group, None, "bad_report", str(exc)))
            continue
        status = entry.get("status") if entry.get("status") in RUN_STATUSES else "no_result"
        hosts.append(FleetHost(name, group, None, status, str(reason or "no report and no reason recorded")))
    return hosts


def groups(hosts: list[FleetHost], names: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Per connector group: how many candidates, which are ready (by `names`, the row labels, when given)."""
    out: dict[str, dict[str, Any]] = {}
    for host, name in zip(hosts, names or [h.name for h in hosts], strict=True):
        group = out.setdefault(host.group or NO_GROUP, {"candidates": 0, "ready": []})
        group["candidates"] += 1
        if host.ready:
            group["ready"].append(name)
    return out


def exit_code(hosts: list[FleetHost]) -> int:
    """0 when every connector group has at least one ready candidate, 1 otherwise."""
    return 0 if all(g["ready"] for g in groups(hosts).values()) else 1


def labels(hosts: list[FleetHost]) -> list[str]:
    """A row name per host that tells repeated hosts apart: the host name, then its run's start time, then the
    report file, as far as needed."""
    names = [h.name for h in hosts]
    repeated = {n for n, count in Counter(names).items() if count > 1}
    timed = [f"{h.name} @ {_when(h)}" if h.name in repeated else h.name for h in hosts]
    still = {n for n, count in Counter(timed).items() if count > 1}
    return [f"{label} ({h.origin or '?'})" if label in still else label for label, h in zip(timed, hosts, strict=True)]


def _when(host: FleetHost) -> str:
    if host.report is None:
        return "no report"
    return dt.datetime.fromtimestamp(host.report.started_at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


MAX_PLACES = 2  # endpoints named per code in a cell; the rest are counted


def matrix(hosts: list[FleetHost]) -> tuple[list[str], list[dict[str, dict[str, Any]]]]:
    """(check ids in first-seen order, per host and check the worst evaluated status, its codes and where each
    code was seen). A cell is `skip` only when nothing in it was evaluated: a wildcard row that cannot be probed
    does not hide the passes of the names that were, and a collapsed skip is shown once, at its root cause."""
    checks: list[str] = []
    rows: list[dict[str, dict[str, Any]]] = []
    for host in hosts:
        results: dict[str, list[Any]] = {}
        for result in host.report.results if host.report is not None else []:
            if result.check not in checks:
                checks.append(result.check)
            results.setdefault(result.check, []).append(result)
        cells: dict[str, dict[str, Any]] = {}
        for check, items in results.items():
            evaluated = [r for r in items if r.status.evaluated] or items
            worst = max(evaluated, key=lambda r: r.status.severity).status
            where: dict[str, list[str]] = {}
            for r in evaluated:
                if r.status == worst and worst != Status.PASS:
                    places = where.setdefault(r.code, [])
                    if _is_endpoint(r.target.key):  # not "system clock", "proxy settings", "tenant"
                        places.append(r.target.key)
            cells[check] = {"status": worst, "codes": set(where), "where": where}
        rows.append(cells)
    return checks, rows


def _is_endpoint(key: str) -> bool:
    return "." in key or ":" in key


def problems(host: FleetHost) -> list[list[str]]:
    """The drill-down for one host: every warn, fail and error result (check, endpoint, code, finding)."""
    if host.report is None:
        return []
    found = [r for r in host.report.results if r.status in (Status.FAIL, Status.ERROR, Status.WARN)]
    found.sort(key=lambda r: -r.status.severity)
    return [[r.status.value, r.check, r.target.key, r.code, _short(r.summary, 140)] for r in found]


def render(hosts: list[FleetHost], output_format: str) -> str:
    checks, rows = matrix(hosts)
    names = labels(hosts)
    summary = groups(hosts, names)
    grouped = any(h.group for h in hosts)
    if output_format == "json":
        data = [
            {
                "host": h.name,
                "label": label,
                "report": h.origin,
                "group": h.group,
                "ready": h.ready,
                "verdict": h.verdict,
                "status": h.status,
                "reason": h.reason,
                "checks": {
                    c: {"status": v["status"].value, "codes": sorted(v["codes"]), "where": v["where"]}
                    for c, v in cells.items()
                },
                "problems": [
                    dict(zip(("status", "check", "endpoint", "code", "summary"), p, strict=True)) for p in problems(h)
                ],
            }
            for h, label, cells in zip(hosts, names, rows, strict=True)
        ]
        ready = {
            g: {"candidates": v["candidates"], "ready": v["ready"], "ok": bool(v["ready"])} for g, v in summary.items()
        }
        return (
            json.dumps({"checks": checks, "hosts": data, "groups": ready, "exit_code": exit_code(hosts)}, indent=2)
            + "\n"
        )
    lead = ["host", *(["group"] if grouped else []), "ready", "verdict"]
    table = [
        [
            label,
            *([h.group or "-"] if grouped else []),
            "yes" if h.ready else "NO",
            h.verdict + (f": {_short(h.reason)}" if h.report is None and h.reason else ""),
            *(_cell(cells.get(c)) for c in checks),
        ]
        for h, label, cells in zip(hosts, names, rows, strict=True)
    ]
    group_rows = [
        [g, f"{len(v['ready'])} of {v['candidates']}", ", ".join(v["ready"]) or "NONE"] for g, v in summary.items()
    ]
    drill = [(label, problems(h)) for h, label in zip(hosts, names, strict=True) if problems(h)]
    if output_format == "html":
        return _html(lead + checks, table, group_rows, hosts, drill)
    from tabulate import tabulate

    style = "github" if output_format == "markdown" else "simple"
    text = tabulate(table, headers=lead + checks, tablefmt=style)
    text += "\n\n" + tabulate(group_rows, headers=["connector group", "ready", "ready hosts"], tablefmt=style)
    verdict = (
        "every connector group has a ready candidate"
        if exit_code(hosts) == 0
        else ("NOT READY: " + ", ".join(g for g, v in summary.items() if not v["ready"]) + " has no ready candidate")
    )
    text += f"\n\n{verdict}\n"
    if output_format == "markdown":
        for label, found in drill:
            text += f"\n### {label}\n\n" + tabulate(found, headers=_PROBLEM_HEADERS, tablefmt=style) + "\n"
    return text


def _short(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


_PROBLEM_HEADERS = ["status", "check", "endpoint", "code", "finding"]


def _cell(cell: dict[str, Any] | None) -> str:
    """`fail (tcp.filtered: host:8398, other:8398 +2)`: the worst status, each code and where it was seen."""
    if cell is None:
        return "-"
    status: Status = cell["status"]
    if status == Status.PASS or not cell["where"]:
        return status.value
    parts = []
    for code, places in sorted(cell["where"].items()):
        shown = ", ".join(places[:MAX_PLACES]) + (f" +{len(places) - MAX_PLACES}" if len(places) > MAX_PLACES else "")
        parts.append(f"{code}: {shown}" if shown else code)
    return f"{status.value} ({'; '.join(parts)})"


def _html(
    header: list[str],
    table: list[list[str]],
    group_rows: list[list[str]],
    hosts: list[FleetHost],
    drill: list[tuple[str, list[list[str]]]],
) -> str:
    def row(cells: list[str], tag: str = "td") -> str:
        out = ""
        for text in cells:
            status = text.split(" ", 1)[0].split(":", 1)[0]
            css = f" class='{status}'" if status in ("pass", "warn", "fail", "error", "skip", "NO", "yes") else ""
            out += f"<{tag}{css}>{html.escape(text)}</{tag}>"
        return f"<tr>{out}</tr>"

    body = "".join(row(r) for r in table)
    summary = "".join(row(r) for r in group_rows)
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>connector-preflight fleet</title>"
        "<style>td,th{border:1px solid #ccc;padding:4px 8px;font:13px sans-serif}table{border-collapse:collapse;"
        "margin-bottom:16px}.fail,.error,.NO{background:#ffd7d5}.warn{background:#fff1c2}"
        ".pass,.yes{background:#dafbe1}.skip{color:#666}</style></head><body>"
        f"<h1>Connector candidates: {sum(h.ready for h in hosts)} of {len(hosts)} ready</h1>"
        f"<table>{row(['connector group', 'ready', 'ready hosts'], 'th')}{summary}</table>"
        f"<table>{row(header, 'th')}{body}</table>"
        + "".join(
            f"<h2>{html.escape(label)}</h2><table>{row(_PROBLEM_HEADERS, 'th')}"
            + "".join(row(p) for p in found)
            + "</table>"
            for label, found in drill
        )
        + "</body></html>\n"
    )
