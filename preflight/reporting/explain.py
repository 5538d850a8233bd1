"""`preflight explain`: what a reason code means, how it is detected and how to fix it, from the codes every
loaded check declares (plugins' included)."""

from __future__ import annotations

from collections.abc import Mapping

from preflight.errors import UsageError
from preflight.model import CodeDoc

CodeIndex = Mapping[str, tuple[str, CodeDoc]]  # code → (the check that owns it, its documentation)


def index(codes: CodeIndex) -> str:
    """One line per code: name, status, owner, and the first sentence of its meaning."""
    return "".join(
        f"{name:28} {doc.status.value:5} {owner:12} {doc.meaning.split('. ')[0].rstrip('.')}\n"
        for name, (owner, doc) in sorted(codes.items())
    )


def describe(code: str, codes: CodeIndex) -> str:
    """One code's whole documentation; an unknown code is a UsageError naming the codes of its family."""
    if code not in codes:
        family = code.partition(".")[0]
        close = [c for c in codes if c.partition(".")[0] == family]
        hint = f"; codes in that family: {', '.join(sorted(close))}" if close else "; 'preflight explain' lists all"
        raise UsageError(f"unknown reason code {code!r}{hint}")
    owner, doc = codes[code]
    return (
        f"{code}  (from {owner}; status {doc.status.value})\n\n"
        f"What it means:\n  {doc.meaning}\n\n"
        f"How it is detected:\n  {doc.detection}\n\n"
        f"How to fix it:\n  {doc.remediation}\n"
    )


def markdown(codes: CodeIndex) -> str:
    """Every code as Markdown, grouped by who gives it (the diagnosis, the engine, each check in turn): the
    reference docs/reason-codes.md is this output (`preflight explain --markdown`), kept in step by a test."""

    def cell(text: str) -> str:  # our own text, not the network's: only what would break the table or render
        return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")

    groups: dict[str, list[tuple[str, CodeDoc]]] = {}
    for name, (owner, doc) in codes.items():
        groups.setdefault(owner, []).append((name, doc))
    order = sorted(groups, key=lambda owner: (owner != "diagnosis", owner != "engine", owner))
    out: list[str] = []
    for owner in order:
        title = {
            "diagnosis": "The diagnosis: one cause behind many results (a report's first lines)",
            "engine": "The engine: results no check gave (not run, cut short, a broken plugin)",
        }.get(owner, f"`{owner}`")
        out += [f"## {title}", "", "| code | status | what it means | how it is detected | what to do |"]
        out.append("|---|---|---|---|---|")
        for name, doc in sorted(groups[owner]):
            row = (cell(doc.meaning), cell(doc.detection), cell(doc.remediation))
            out.append(f"| `{name}` | {doc.status.value} | {row[0]} | {row[1]} | {row[2]} |")
        out.append("")
    return "\n".join(out)
