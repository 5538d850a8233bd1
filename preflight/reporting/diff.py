"""What changed between two runs: fixed, broke, still failing, changed, new, gone. Pure over loaded reports."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

from preflight.model import CheckResult, Status, Target, result_id

if TYPE_CHECKING:
    from preflight.reporting.report import Report

_FAILING = (Status.FAIL, Status.ERROR)
_PROBLEM = (Status.FAIL, Status.ERROR, Status.WARN)


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


def kind_of(before: CheckResult | None, after: CheckResult | None) -> str | None:
    """The category of one result's transition, None when nothing changed. Pure.

    broke: a problem appeared or got worse (pass/skip → warn/fail/error, warn → fail/error, error → fail), or a
    new result is failing. fixed: a problem became a pass. still_failing: the same problem (status and code).
    changed: any other status or code change (fail → warn, a problem → skip, a different failure code).
    """
    if before is None:
        return None if after is None else ("broke" if after.status in _FAILING else "new")
    if after is None:
        return "gone"
    if (before.status, before.code) == (after.status, after.code):
        return "still_failing" if before.status in _PROBLEM else None
    if after.status in _PROBLEM and after.status.severity > before.status.severity:
        return "broke"
    if before.status in _PROBLEM and after.status == Status.PASS:
        return "fixed"
    return "changed"


def diff(before: Report, after: Report) -> list[Change]:
    old = {r.id: r for r in before.results}
    new = {r.id: r for r in after.results}
    changes: list[Change] = []
    for rid in dict.fromkeys([*old, *new]):
        kind = kind_of(old.get(rid), new.get(rid))
        if kind is not None:
            changes.append(Change(kind, rid, old.get(rid), new.get(rid)))
    return sorted(changes, key=lambda c: ORDER.index(c.kind))


def render_json(changes: list[Change], before_name: str, after_name: str) -> str:
    return (
        json.dumps({"before": before_name, "after": after_name, "changes": [c.to_json() for c in changes]}, indent=2)
        + "\n"
    )


def broke(changes: list[Change]) -> bool:
    """Whether anything got worse: `preflight diff` exits 1 then."""
    return any(c.kind == "broke" for c in changes)


def render_text(before: Report, after: Report, changes: list[Change], before_name: str, after_name: str) -> str:
    lines = [
        f"before: {before_name} (host {before.host.get('hostname')}, verdict {before.verdict})",
        f"after:  {after_name} (host {after.host.get('hostname')}, verdict {after.verdict})",
        "",
    ]
    rates = rate_changes(before.watch, after.watch)
    if rates:
        lines += ["watch: share of rounds each result passed (or warned), before -> after", *rates, ""]
    if not changes:
        return "\n".join([*lines, "no differences", ""])
    for change in changes:
        a = f"{change.before.status.value} {change.before.code}" if change.before else "-"
        b = f"{change.after.status.value} {change.after.code}" if change.after else "-"
        lines.append(f"{change.kind:14} {change.id}: {a} -> {b}")
    tally = ", ".join(f"{sum(c.kind == k for c in changes)} {k.replace('_', ' ')}" for k in ORDER)
    return "\n".join([*lines, "", tally, ""])


def rate_changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[str]:
    """For two watch reports: each result whose pass rate over the rounds differs, worst after first."""
    if before is None or after is None:
        return []
    old, new = _rates(before), _rates(after)
    moved: list[tuple[str, int | None, int | None]] = [
        (key, old.get(key), rate) for key, rate in new.items() if old.get(key) != rate
    ]
    moved += [(key, rate, None) for key, rate in old.items() if key not in new]
    moved.sort(key=lambda item: (item[2] if item[2] is not None else 101, item[0]))
    return [f"  {key}: {_rate_text(a)} -> {_rate_text(b)}" for key, a, b in moved]


def _rate_text(rate: int | None) -> str:
    return "-" if rate is None else f"{rate} %"


def _rates(watch: dict[str, Any]) -> dict[str, int]:
    from preflight.watch.series import pass_rate

    rates = {}
    for series in watch.get("series") or ():
        rate = pass_rate(series.get("counts") or {})
        if rate is not None:
            rates[result_id(str(series["check"]), Target.from_json(series["target"]))] = rate
    return rates
