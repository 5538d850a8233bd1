"""The clock measurement is a memoised value the checks ask for: measured once per run, only when clock.skew is
part of the run, and the TLS checks' time is corrected by it."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from checks import clocksource
from checks.clocksource import ClockObserved, corrected_now, measured_offset
from preflight import Target
from preflight import profile as profile_mod
from preflight.engine import plan as plan_mod
from preflight.engine.context import RunContext, RunOptions
from preflight.probes.ntp import DateReading

AHEAD = DateReading("login.test", "198.18.0.1", 443, "ok", offset_s=600.0, uncertainty_s=0.4)


def context(selected: dict[str, list[Target]]) -> RunContext:
    return RunContext(plan_mod.build(profile_mod.load("entra-private-access")), RunOptions(), selected=selected)


@pytest.mark.parametrize("with_clock", [True, False])
def test_corrected_now_measures_once_and_only_when_the_clock_check_runs(monkeypatch: pytest.MonkeyPatch,
                                                                        with_clock: bool) -> None:  # fmt: skip
    calls: list[int] = []

    async def fake_observe(ctx: Any) -> ClockObserved:
        calls.append(1)
        await asyncio.sleep(0.01)
        return ClockObserved((), AHEAD, True, None)

    monkeypatch.setattr(clocksource, "_observe", fake_observe)
    selected = {"clock.skew": [Target(host="system clock")]} if with_clock else {}

    async def run() -> list[dt.datetime]:
        ctx = context(selected)
        return list(await asyncio.gather(*(corrected_now(ctx) for _ in range(5))))

    before = dt.datetime.now(dt.UTC)
    times = asyncio.run(run())
    shift = min(t - before for t in times).total_seconds()
    if with_clock:
        assert len(calls) == 1 and 600 <= shift < 605  # five checks asked, one measurement
    else:
        assert calls == [] and shift < 5  # --skip clock.skew: no NTP, no HTTPS Date, this host's clock


OFFSETS = [
    ((), None, False, None),
    ((), AHEAD, True, (600.0, 0.4, "HTTPS Date of login.test")),
    ((), AHEAD, False, None),  # a Date over a path that is not clean is not used
]


@pytest.mark.parametrize(("readings", "date", "trusted", "expected"), OFFSETS)
def test_measured_offset(readings: Any, date: Any, trusted: bool, expected: Any) -> None:
    found = measured_offset(readings, date, trusted)
    assert (None if found is None else (found.seconds, found.uncertainty_s, found.source)) == expected
