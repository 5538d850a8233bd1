"""What changed between two runs: fixed, broke, still failing, changed, new, gone. Pure over loaded reports."""

from __future__ import annotations

import dataclasses
from typing import Any

from preflight.model import CheckResult, Status
from preflight.report import Report

_BAD = (Status.FAIL, Status.ERROR, Status.WARN)


@dataclasses.dataclass(frozen=True)
class Change:
    kind: str  # fixed | broke | still_failing | changed | new | gone
    id: str
    before: CheckResult | None
    after: CheckResult | None

    def to_json(self) -> dict[str, Any]:
        def side(r: CheckResult | None) -> dict[str, Any] | None:
            return None if r is None else {"status": r.status.value, "code": r.code, "summary": r.summary}

        return {"kind": self.kind, "id": self.id, "before": side(self.before), "after": side(self.after)}


ORDER = ("broke", "still_failing", "changed", "fixed", "new", "gone")


def diff(before: Report, after: Report) -> list[Change]:
    old = {r.id: r for r in before.results}
    new = {r.id: r for r in after.results}
    changes: list[Change] = []
    for rid in dict.fromkeys([*old, *new]):
        a, b = old.get(rid), new.get(rid)
        if a is None:
            changes.append(Change("new", rid, None, b))
        elif b is None:
            changes.append(Change("gone", rid, a, None))
        elif a.status in _BAD and b.status == Status.PASS:
            changes.append(Change("fixed", rid, a, b))
        elif b.status in _BAD and a.status not in _BAD:
            changes.append(Change("broke", rid, a, b))
        elif a.status in _BAD and b.status in _BAD:
            changes.append(Change("still_failing" if a.code == b.code else "changed", rid, a, b))
        elif (a.status, a.code) != (b.status, b.code):
            changes.append(Change("changed", rid, a, b))
    return sorted(changes, key=lambda c: ORDER.index(c.kind))


def render_text(before: Report, after: Report, changes: list[Change], before_name: str, after_name: str) -> str:
    lines = [
        f"before: {before_name} (host {before.host.get('hostname')}, verdict {before.verdict})",
        f"after:  {after_name} (host {after.host.get('hostname')}, verdict {after.verdict})",
        "",
    ]
    if not changes:
        return "\n".join([*lines, "no differences", ""])
    for change in changes:
        a = f"{change.before.status.value} {change.before.code}" if change.before else "-"
        b = f"{change.after.status.value} {change.after.code}" if change.after else "-"
        lines.append(f"{change.kind:14} {change.id}: {a} -> {b}")
    tally = ", ".join(f"{sum(c.kind == k for c in changes)} {k.replace('_', ' ')}" for k in ORDER)
    return "\n".join([*lines, "", tally, ""])
