"""The runner with misbehaving checks: every way a check can go wrong ends as an error result, never a crash."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import pytest

from preflight import CodeDoc, Finding, Status, Target
from preflight import profile as profile_mod
from preflight.engine import plan as plan_mod
from preflight.engine.context import RunOptions
from preflight.engine.registry import _dependency_order, selected, validate_check
from preflight.engine.runner import RunState, execute

PROFILE = 'name = "x"\n[[endpoint]]\nhost = "a.test"\nports = [443, 80]\npurpose = "p"\nsource = "s"\n'
OK = CodeDoc(Status.PASS, "m", "d", "r")
BAD = CodeDoc(Status.FAIL, "m", "d", "r")


class FakeCheck:
    needs: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    reuses_connection = False
    requires = "nothing"

    def __init__(self, check_id: str, behaviour: Any, *, needs: tuple[str, ...] = (), per_port: bool = False) -> None:
        self.id = check_id
        self.title = check_id
        self.needs = needs
        self.behaviour = behaviour
        self.per_port = per_port
        self.codes = {"fake.ok": OK, "fake.bad": BAD}
        self.calls = 0

    def targets(self, plan: plan_mod.Plan) -> Iterable[Target]:
        return plan.port_targets() if self.per_port else plan.host_targets()

    async def run(self, target: Target, ctx: Any) -> Finding:
        self.calls += 1
        return await self.behaviour(target)  # type: ignore[no-any-return]


def run_checks(checks: list[Any], *, deadline: float = 10.0) -> dict[str, Any]:
    profile = profile_mod.parse(PROFILE, origin="test.toml", base_dir=profile_mod.Path("."))
    plan = plan_mod.build(profile)
    state = RunState()

    async def go() -> None:
        await execute(plan, checks, [], RunOptions(timeout=0.5, deadline=deadline), state, asyncio.Event())

    asyncio.run(go())
    return {r.id: r for r in state.ordered_results()}


async def passes(target: Target) -> Finding:
    return Finding(Status.PASS, "fake.ok", "fine")


async def fails(target: Target) -> Finding:
    return Finding(Status.FAIL, "fake.bad", "broken")


async def wrong_type(target: Target) -> Any:
    return {"status": "pass"}


async def undocumented(target: Target) -> Finding:
    return Finding(Status.PASS, "fake.made_up", "fine")


async def raises(target: Target) -> Finding:
    raise RuntimeError("bug")


async def hangs(target: Target) -> Finding:
    await asyncio.sleep(3600)
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    ("behaviour", "status", "code"),
    [
        (passes, Status.PASS, "fake.ok"),
        (fails, Status.FAIL, "fake.bad"),
        (wrong_type, Status.ERROR, "check.bad_result"),
        (undocumented, Status.ERROR, "check.bad_result"),
        (raises, Status.ERROR, "check.crashed"),
    ],
)
def test_results_are_validated(behaviour: Any, status: Status, code: str) -> None:
    results = run_checks([FakeCheck("fake.one", behaviour)])
    result = results["fake.one/a.test"]
    assert (result.status, result.code) == (status, code)
    if status == Status.ERROR:
        assert result.error


def test_a_hanging_check_is_bounded_by_the_watchdog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("preflight.engine.runner.WATCHDOG_MIN_S", 0.3)
    monkeypatch.setattr("preflight.engine.runner.WATCHDOG_STAGES", 0)
    results = run_checks([FakeCheck("fake.hang", hangs), FakeCheck("fake.fine", passes)])
    assert results["fake.hang/a.test"].code == "check.timeout"
    assert results["fake.fine/a.test"].code == "fake.ok"


def test_a_hanging_check_is_bounded_by_the_deadline() -> None:
    results = run_checks([FakeCheck("fake.hang", hangs), FakeCheck("fake.fine", passes)], deadline=0.5)
    assert results["fake.hang/a.test"].code == "run.deadline"
    assert results["fake.fine/a.test"].code == "fake.ok"


def test_collapse_follows_the_chain_to_the_root_cause() -> None:
    first = FakeCheck("fake.first", fails)
    second = FakeCheck("fake.second", passes, needs=("fake.first",), per_port=True)
    third = FakeCheck("fake.third", passes, needs=("fake.second",), per_port=True)
    results = run_checks([third, second, first])  # any order in, dependency order out
    for port in (443, 80):
        for check in ("fake.second", "fake.third"):
            result = results[f"{check}/a.test:{port}"]
            assert (result.status, result.code, result.caused_by) == (Status.SKIP, "run.upstream", "fake.first/a.test")
    assert second.calls == 0 and third.calls == 0


def test_a_warning_upstream_does_not_collapse() -> None:
    async def warns(target: Target) -> Finding:
        return Finding(Status.WARN, "fake.ok", "meh")

    downstream = FakeCheck("fake.down", passes, needs=("fake.up",), per_port=True)
    results = run_checks([FakeCheck("fake.up", warns), downstream])
    assert results["fake.down/a.test:443"].status == Status.PASS


def test_targets_raising_is_an_error_result() -> None:
    class Broken(FakeCheck):
        def targets(self, plan: plan_mod.Plan) -> Iterable[Target]:
            raise KeyError("oops")

    results = run_checks([Broken("fake.broken", passes), FakeCheck("fake.fine", passes)])
    assert results["fake.broken/(run)"].code == "check.crashed"
    assert results["fake.fine/a.test"].code == "fake.ok"


def test_dependency_order_and_cycles() -> None:
    a = FakeCheck("a", passes, needs=("b",))
    b = FakeCheck("b", passes)
    c = FakeCheck("c", passes, needs=("d",))
    d = FakeCheck("d", passes, needs=("c",))
    ordered, cyclic = _dependency_order([a, b, c, d])
    assert [x.id for x in ordered] == ["b", "a"]
    assert {x.id for x in cyclic} == {"c", "d"}


def test_validate_check_names_the_problem() -> None:
    assert validate_check(FakeCheck("ok", passes)) is None

    class NoRun:
        id, title, requires, needs, codes = "x", "x", "x", (), {}

        def targets(self, plan: Any) -> list[Target]:
            return []

    assert validate_check(NoRun()) == "method 'run' must be 'async def'"
    bad_after = FakeCheck("a", passes)
    bad_after.after = "clock.skew"  # type: ignore[assignment]
    assert validate_check(bad_after) == "attribute 'after' must be a tuple of check ids"
    undocumented_codes = FakeCheck("c", passes)
    undocumented_codes.codes = {"x": "y"}  # type: ignore[dict-item]
    assert "codes" in (validate_check(undocumented_codes) or "")


@pytest.mark.parametrize(
    ("name", "only", "skip", "expected"),
    [
        ("dns.resolve", [], [], True),
        ("dns.resolve", ["tcp.*"], [], False),
        ("dns.resolve", ["dns.*"], ["*.resolve"], False),
        ("tcp.connect", ["dns.*", "tcp.connect"], [], True),
    ],
)
def test_selection_patterns(name: str, only: list[str], skip: list[str], expected: bool) -> None:
    assert selected(name, only, skip) is expected


def test_optional_protocol_attributes_get_their_defaults() -> None:
    from preflight.engine.registry import with_defaults

    class Minimal:
        id, title, requires, needs, codes = "m", "m", "m", (), {}

        def targets(self, plan: Any) -> list[Target]:
            return []

        async def run(self, target: Target, ctx: Any) -> Any:
            return None

    check = with_defaults(Minimal())
    assert (check.after, check.reuses_connection) == ((), False)
