"""`preflight diff` categories on every transition (pass/warn/fail/skip/error x new/gone/changed), as a table, and
golden text and JSON outputs of a diff covering all of them. Regenerate the golden files with UPDATE_GOLDEN=1
after checking a change is intended."""

from __future__ import annotations

import json
import os

import pytest
from helpers import GOLDEN

from preflight.model import CheckResult, Status, Target
from preflight.reporting.diff import diff, kind_of, render_text
from preflight.reporting.report import Report

P, W, F, S, E = Status.PASS, Status.WARN, Status.FAIL, Status.SKIP, Status.ERROR

# (before, after) → kind, the same code on both sides; None = no result on that side, or nothing to report
SAME_CODE: dict[tuple[Status | None, Status | None], str | None] = {
    (None, P): "new", (None, W): "new", (None, S): "new", (None, F): "broke", (None, E): "broke",
    (P, None): "gone", (W, None): "gone", (F, None): "gone", (S, None): "gone", (E, None): "gone",
    (P, P): None, (S, S): None, (W, W): "still_failing", (F, F): "still_failing", (E, E): "still_failing",
    (P, W): "broke", (P, F): "broke", (P, E): "broke", (S, W): "broke", (S, F): "broke", (S, E): "broke",
    (W, F): "broke", (W, E): "broke", (E, F): "broke",
    (W, P): "fixed", (F, P): "fixed", (E, P): "fixed",
    (F, W): "changed", (F, E): "changed", (E, W): "changed",
    (F, S): "changed", (W, S): "changed", (E, S): "changed", (P, S): "changed", (S, P): "changed",
}  # fmt: skip


def result(status: Status | None, code: str = "x.code", host: str = "h.test") -> CheckResult | None:
    if status is None:
        return None
    return CheckResult("tcp.connect", Target(host, 443), status, code, f"{status.value} {code}")


def test_the_table_covers_every_transition() -> None:
    every = [None, *Status]
    assert set(SAME_CODE) == {(a, b) for a in every for b in every} - {(None, None)}


@pytest.mark.parametrize(("before", "after"), sorted(SAME_CODE, key=str))
def test_every_transition_with_the_same_code(before: Status | None, after: Status | None) -> None:
    assert kind_of(result(before), result(after)) == SAME_CODE[(before, after)]


@pytest.mark.parametrize(
    ("before", "after", "kind"),
    [(F, F, "changed"), (W, W, "changed"), (E, E, "changed"), (P, P, "changed"), (S, S, "changed")],
)
def test_a_different_code_with_the_same_status_is_a_change(before: Status, after: Status, kind: str) -> None:
    assert kind_of(result(before, "a.one"), result(after, "a.two")) == kind


def reports() -> tuple[Report, Report]:
    """Two runs with one result per transition, each on its own host so every line of the diff is one case."""
    before: list[CheckResult] = []
    after: list[CheckResult] = []
    for (a, b), _kind in sorted(SAME_CODE.items(), key=lambda kv: str(kv[0])):
        host = f"{a.value if a else 'none'}-to-{b.value if b else 'none'}.test"
        code = {P: "tcp.open", W: "tcp.partial", F: "tcp.filtered", S: "run.upstream", E: "check.crashed"}
        if (one := result(a, code.get(a, ""), host)) is not None:
            before.append(one)
        if (two := result(b, code.get(b, ""), host)) is not None:
            after.append(two)
    before.append(CheckResult("dns.resolve", Target("code.test"), F, "dns.timeout", "timeout"))
    after.append(CheckResult("dns.resolve", Target("code.test"), W, "dns.timeout", "timeout, proxied"))
    make = lambda results: Report("0.1.0", {"name": "p"}, {"hostname": "vm"}, {}, 0.0, 0, results)  # noqa: E731
    return make(before), make(after)


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"diff output changed: compare with {path.name}"


def test_diff_golden_text_and_json() -> None:
    before, after = reports()
    changes = diff(before, after)
    golden("diff.txt", render_text(before, after, changes, "before.json", "after.json"))
    golden("diff.json", json.dumps([c.to_json() for c in changes], indent=2) + "\n")
    kinds = {c.id: c.kind for c in changes}
    assert kinds["dns.resolve/code.test"] == "changed"  # fail dns.timeout -> warn dns.timeout
    assert kinds["tcp.connect/none-to-fail.test:443"] == "broke"  # new and failing
