"""A fleet matrix: candidate hosts x checks, the worst status in each cell, for validating many hosts at once."""

from __future__ import annotations

import html
import json
from typing import Any

from preflight.model import Status
from preflight.report import Report


def matrix(reports: list[tuple[str, Report]]) -> tuple[list[str], list[dict[str, Any]]]:
    """(check ids in first-seen order, one row per report with the worst status and its codes per check)."""
    checks: list[str] = []
    rows: list[dict[str, Any]] = []
    for name, report in reports:
        cells: dict[str, dict[str, Any]] = {}
        for result in report.results:
            if result.check not in checks:
                checks.append(result.check)
            cell = cells.setdefault(result.check, {"status": Status.PASS, "codes": set(), "evaluated": False})
            if result.status.evaluated:
                cell["evaluated"] = True
            if result.status.severity > cell["status"].severity:
                cell["status"] = result.status
            if result.status != Status.PASS:
                cell["codes"].add(result.code)
        for cell in cells.values():
            if not cell["evaluated"] and cell["status"] == Status.PASS:
                cell["status"] = Status.SKIP  # nothing was evaluated: never shown as a pass
        rows.append({"name": name, "host": report.host.get("hostname"), "verdict": report.verdict, "cells": cells})
    return checks, rows


def render(reports: list[tuple[str, Report]], output_format: str) -> str:
    checks, rows = matrix(reports)
    if output_format == "json":
        data = [{"report": r["name"], "host": r["host"], "verdict": r["verdict"],
                 "checks": {c: {"status": v["status"].value, "codes": sorted(v["codes"])}
                            for c, v in r["cells"].items()}} for r in rows]  # fmt: skip
        return json.dumps({"checks": checks, "hosts": data}, indent=2) + "\n"
    if output_format == "html":
        head = "".join(f"<th>{html.escape(c)}</th>" for c in checks)
        body = "".join(
            f"<tr><td>{html.escape(str(r['host']))}</td><td>{html.escape(r['verdict'])}</td>"
            + "".join(_html_cell(r["cells"].get(c)) for c in checks)
            + "</tr>"
            for r in rows
        )
        return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>connector-preflight fleet</title>"
                "<style>td,th{border:1px solid #ccc;padding:4px 8px;font:13px sans-serif}"
                ".fail,.error{background:#ffd7d5}.warn{background:#fff1c2}.pass{background:#dafbe1}.skip{color:#666}</style></head><body>"
                f"<table><tr><th>host</th><th>verdict</th>{head}</tr>{body}</table></body></html>\n")  # fmt: skip
    sep = " | "
    header = ["host", "verdict", *checks]
    lines = [sep.join(header)] if output_format == "table" else ["| " + sep.join(header) + " |",
                                                                  "|" + "---|" * len(header)]  # fmt: skip
    for row in rows:
        cells = [str(row["host"]), row["verdict"], *(_cell(row["cells"].get(c)) for c in checks)]
        lines.append(sep.join(cells) if output_format == "table" else "| " + sep.join(cells) + " |")
    return "\n".join(lines) + "\n"


def _cell(cell: dict[str, Any] | None) -> str:
    if cell is None:
        return "-"
    codes = ",".join(sorted(cell["codes"]))
    status: Status = cell["status"]
    return status.value + (f" ({codes})" if codes and status != Status.PASS else "")


def _html_cell(cell: dict[str, Any] | None) -> str:
    if cell is None:
        return "<td>-</td>"
    return f"<td class='{cell['status'].value}'>{html.escape(_cell(cell))}</td>"
