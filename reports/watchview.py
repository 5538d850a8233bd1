"""A watch report's summary as the renderers draw it: the series in reading order (those that failed or changed
first), each with its pass rate, latency percentiles and timeline, and the columns' times. Reads the "watch"
section of a report (checked on load by preflight/watch/shape.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from preflight.model import Target
from preflight.watch.series import pass_rate as series_rate

MAX_ROWS = 60  # series listed in the table; the HTML timeline draws up to MAX_TIMELINE_ROWS
MAX_TIMELINE_ROWS = 200
TABLE_LETTERS = {"p": "-", "w": "w", "f": "X", "e": "E", "s": "s", ".": " "}


@dataclasses.dataclass(frozen=True)
class SeriesView:
    check: str
    target: Target
    rounds: int
    counts: Mapping[str, int]
    timeline: str  # p w f e s . per column
    latency: Mapping[str, Any]
    latency_columns: list[list[float]]
    codes: Mapping[str, Mapping[str, Any]]
    paths: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)

    @property
    def failing_paths(self) -> list[str]:
        """ "127.0.0.2 failed 2 of 7" for each address or path that failed in some round, the worst first."""
        found = []
        for label, path in self.paths.items():
            failed, ok = int(path.get("failed") or 0), int(path.get("ok") or 0)
            if failed:
                latency = path.get("latency") or {}
                timed = f" (p50 {latency['p50_ms']:g} ms)" if latency.get("count") else ""
                found.append((failed / max(1, failed + ok), f"{label} failed {failed} of {failed + ok}{timed}"))
        return [text for _rate, text in sorted(found, key=lambda item: -item[0])]

    @property
    def notable_paths(self) -> bool:
        return bool(self.failing_paths)

    @property
    def label(self) -> str:
        return f"{self.check} {self.target.key}"

    @property
    def problems(self) -> int:
        return self.counts.get("fail", 0) + self.counts.get("error", 0)

    @property
    def changed(self) -> bool:
        return len({letter for letter in self.timeline if letter != "."}) > 1

    @property
    def pass_rate(self) -> int | None:
        return series_rate(self.counts)

    @property
    def notable(self) -> bool:
        return self.changed or self.problems > 0 or self.counts.get("warn", 0) > 0 or self.notable_paths


def series(watch: Mapping[str, Any]) -> list[SeriesView]:
    """Every series, the ones that failed or changed first (most failures first), then the rest as recorded."""
    views = [
        SeriesView(
            check=str(s["check"]),
            target=Target.from_json(s["target"]),
            rounds=int(s["rounds"]),
            counts=s["counts"],
            timeline=str(s["timeline"]),
            latency=s["latency"],
            latency_columns=s["latency_columns"],
            codes=s["codes"],
            paths=s["paths"],
        )
        for s in watch.get("series") or ()
    ]
    return sorted(views, key=lambda v: (not v.notable, -v.problems, not v.changed))


def column_times(watch: Mapping[str, Any]) -> list[str]:
    return [dt.datetime.fromtimestamp(float(c["at"]), dt.UTC).strftime("%H:%M:%S") for c in watch.get("columns") or ()]


def table_timeline(view: SeriesView) -> str:
    return "".join(TABLE_LETTERS.get(letter, "?") for letter in view.timeline)


def heading(watch: Mapping[str, Any]) -> str:
    from preflight.watch.schedule import format_duration

    rounds = int(watch.get("rounds") or 0)
    per = int(watch.get("rounds_per_column") or 1)
    column = "one column per round" if per == 1 else f"one column per {per} rounds, the worst of them"
    missed = int(watch.get("missed_slots") or 0)
    late = f"; {missed} slot(s) missed (rounds outran --every)" if missed else ""
    ended = f"; ended by {watch['ended_by']}" if watch.get("ended_by") else ""
    return (
        f"Watch: {rounds} rounds every {format_duration(float(watch['interval_s']))} over "
        f"{format_duration(float(watch['duration_s']))} ({column}){late}{ended}"
    )


def latency_text(view: SeriesView) -> str:
    latency = view.latency
    if not latency.get("count"):
        return ""
    return f"p50 {latency['p50_ms']:g} ms, p90 {latency['p90_ms']:g}, max {latency['max_ms']:g}"
