"""The shape of a report's "watch" section (a WatchLog's to_json), checked when a saved report is read back:
show, diff, merge and the renderers may then trust every field they draw."""

from __future__ import annotations

from typing import Any

_STATUS_LETTERS = set("pwfes.")


def check_watch(watch: Any) -> str | None:
    """None when `watch` has the shape a watch writes; else the first problem, as "field: what is wrong"."""
    if not isinstance(watch, dict):
        return "not an object"
    for key in ("rounds", "rounds_per_column", "missed_slots"):
        if type(watch.get(key)) is not int or watch[key] < 0:
            return f"{key}: expected a non-negative integer"
    for key in ("started_at", "interval_s", "duration_s"):
        if not isinstance(watch.get(key), int | float) or isinstance(watch.get(key), bool):
            return f"{key}: expected a number"
    columns = watch.get("columns")
    if not isinstance(columns, list) or not all(
        isinstance(c, dict)
        and type(c.get("first")) is int
        and type(c.get("last")) is int
        and isinstance(c.get("at"), int | float)
        for c in columns
    ):  # fmt: skip (one condition)
        return "columns: expected a list of {first, last, at}"
    series = watch.get("series")
    if not isinstance(series, list):
        return "series: expected a list"
    for i, item in enumerate(series):
        problem = _series(item, len(columns))
        if problem is not None:
            return f"series[{i}].{problem}"
    if not isinstance(watch.get("samples", []), list):
        return "samples: expected a list"
    return None


def _series(item: Any, columns: int) -> str | None:
    if not isinstance(item, dict):
        return "not an object"
    if not isinstance(item.get("check"), str):
        return "check: expected a string"
    target = item.get("target")
    if not isinstance(target, dict) or not isinstance(target.get("host"), str):
        return "target: expected an object with a host"
    if type(item.get("rounds")) is not int:
        return "rounds: expected an integer"
    timeline = item.get("timeline")
    if not isinstance(timeline, str) or len(timeline) != columns or not set(timeline) <= _STATUS_LETTERS:
        return "timeline: expected one status letter per column"
    counts = item.get("counts")
    if not isinstance(counts, dict) or not all(isinstance(v, int) and not isinstance(v, bool) for v in counts.values()):
        return "counts: expected status counts"
    if not _objects_with(item.get("codes"), {"status": str, "count": int, "rounds": list}):
        return "codes: expected {code: {status, count, rounds}}"
    lat = item.get("latency_columns")
    if (
        not isinstance(lat, list)
        or len(lat) != columns
        or not all(
            isinstance(c, list)
            and len(c) == 3
            and all(isinstance(x, int | float) and not isinstance(x, bool) for x in c)
            for c in lat
        )
    ):
        return "latency_columns: expected [sum, n, max] per column"
    if not _objects_with(item.get("paths"), {"ok": int, "failed": int, "outcomes": dict}):
        return "paths: expected {label: {ok, failed, outcomes}}"
    latency = item.get("latency")
    if not isinstance(latency, dict) or type(latency.get("count")) is not int:
        return "latency: expected a histogram summary"
    return None


def _objects_with(value: Any, fields: dict[str, type]) -> bool:
    """A JSON object whose every value is an object holding `fields`, each of its type."""
    return isinstance(value, dict) and all(
        isinstance(entry, dict) and all(isinstance(entry.get(name), kind) for name, kind in fields.items())
        for entry in value.values()
    )
