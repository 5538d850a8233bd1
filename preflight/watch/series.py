"""Every round of a watch folded into a summary as it comes, in bounded memory whatever the watch's length: per
result (check and target) its status counts, which codes appeared in which rounds, latency percentiles from a
log-scale histogram, per-address and per-path outcomes read from the evidence, and a timeline of at most
MAX_COLUMNS columns (when the rounds outgrow it, neighbouring columns merge: the worst status wins). Full results
are kept only for the last round and for failures (the first and the latest of each result and code). Pure: no
I/O; `to_json` is what the report carries under "watch", `WatchLog.from_json` reads it back."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from preflight.model import CheckResult, Status

MAX_COLUMNS = 240  # timeline columns: a 24-hour watch every minute folds 1,440 rounds into 240 columns of 8
MAX_CODES = 32  # distinct codes remembered per result
MAX_CODE_ROUNDS = 40  # round numbers remembered per code (the count goes on)
MAX_PATHS = 32  # addresses or proxy paths remembered per result
MAX_SAMPLES = 120  # (result, code) pairs whose failing results are kept in full
HISTOGRAM_BASE = 1.05  # latency buckets: each 5 % wider than the last, so a percentile is within 5 %
HISTOGRAM_FLOOR_MS = 0.01

_STATUS_LETTER = {Status.PASS: "p", Status.WARN: "w", Status.FAIL: "f", Status.ERROR: "e", Status.SKIP: "s"}
_LETTER_STATUS = {letter: status for status, letter in _STATUS_LETTER.items()}
PROBLEM = (Status.FAIL, Status.ERROR)


class Histogram:
    """Latencies in log-scale buckets: exact count, min and max; percentiles within HISTOGRAM_BASE."""

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.count = 0
        self.low = math.inf
        self.high = 0.0

    def add(self, ms: float) -> None:
        if not math.isfinite(ms) or ms < 0:
            return
        self.buckets[self._bucket(ms)] = self.buckets.get(self._bucket(ms), 0) + 1
        self.count += 1
        self.low = min(self.low, ms)
        self.high = max(self.high, ms)

    @staticmethod
    def _bucket(ms: float) -> int:
        return math.floor(math.log(max(ms, HISTOGRAM_FLOOR_MS) / HISTOGRAM_FLOOR_MS, HISTOGRAM_BASE))

    def percentile(self, fraction: float) -> float | None:
        """The value below which `fraction` of the latencies lie (a bucket's upper edge, clamped to min/max)."""
        if not self.count:
            return None
        rank = max(1, math.ceil(fraction * self.count))
        seen = 0
        for bucket in sorted(self.buckets):
            seen += self.buckets[bucket]
            if seen >= rank:
                edge = HISTOGRAM_FLOOR_MS * HISTOGRAM_BASE ** (bucket + 1)
                return round(min(max(edge, self.low), self.high), 2)
        return round(self.high, 2)

    def to_json(self) -> dict[str, Any]:
        if not self.count:
            return {"count": 0}
        return {
            "count": self.count,
            "min_ms": round(self.low, 2),
            "p50_ms": self.percentile(0.5),
            "p90_ms": self.percentile(0.9),
            "p99_ms": self.percentile(0.99),
            "max_ms": round(self.high, 2),
            "buckets": {str(k): v for k, v in sorted(self.buckets.items())},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Histogram:
        made = cls()
        for key, value in (data.get("buckets") or {}).items():
            made.buckets[int(key)] = int(value)
        made.count = int(data.get("count") or 0)
        if made.count:
            made.low = float(data["min_ms"])
            made.high = float(data["max_ms"])
        return made


@dataclasses.dataclass
class CodeSeen:
    """One code of one result over the watch: how often, and in which rounds (the first MAX_CODE_ROUNDS)."""

    status: str
    count: int = 0
    rounds: list[int] = dataclasses.field(default_factory=list)
    first_at: float = 0.0
    last_at: float = 0.0
    last_round: int = 0

    def add(self, round_number: int, at: float) -> None:
        if not self.count:
            self.first_at = at
        self.count += 1
        self.last_at, self.last_round = at, round_number
        if len(self.rounds) < MAX_CODE_ROUNDS:
            self.rounds.append(round_number)


@dataclasses.dataclass
class PathSeen:
    """One address (or proxy path, "via http://proxy:3128") of one result: the outcome or code each round saw."""

    outcomes: dict[str, int] = dataclasses.field(default_factory=dict)
    ok: int = 0
    failed: int = 0
    failed_rounds: list[int] = dataclasses.field(default_factory=list)
    latency: Histogram = dataclasses.field(default_factory=Histogram)

    def to_json(self) -> dict[str, Any]:
        return {
            "outcomes": dict(self.outcomes),
            "ok": self.ok,
            "failed": self.failed,
            "failed_rounds": list(self.failed_rounds),
            "latency": self.latency.to_json(),
        }

    def add(self, outcome: str, good: bool, round_number: int, latency_ms: float | None = None) -> None:
        if latency_ms is not None:
            self.latency.add(latency_ms)
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        if good:
            self.ok += 1
        else:
            self.failed += 1
            if len(self.failed_rounds) < MAX_CODE_ROUNDS:
                self.failed_rounds.append(round_number)


@dataclasses.dataclass
class Series:
    """One result (check and target) over the watch."""

    check: str
    target: dict[str, Any]
    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    codes: dict[str, CodeSeen] = dataclasses.field(default_factory=dict)
    codes_dropped: int = 0
    timeline: list[str] = dataclasses.field(default_factory=list)  # one letter per column, "." absent
    latency: Histogram = dataclasses.field(default_factory=Histogram)
    latency_columns: list[list[float]] = dataclasses.field(default_factory=list)  # per column [sum, n, max]
    paths: dict[str, PathSeen] = dataclasses.field(default_factory=dict)
    rounds: int = 0

    @property
    def evaluated(self) -> int:
        return sum(self.counts.get(s.value, 0) for s in Status if s.evaluated)

    @property
    def problems(self) -> int:
        return sum(self.counts.get(s.value, 0) for s in PROBLEM)

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "target": self.target,
            "rounds": self.rounds,
            "counts": dict(self.counts),
            "codes": {code: dataclasses.asdict(seen) for code, seen in self.codes.items()},
            "codes_dropped": self.codes_dropped,
            "timeline": "".join(self.timeline),
            "latency": self.latency.to_json(),
            "latency_columns": [[round(c[0], 2), int(c[1]), round(c[2], 2)] for c in self.latency_columns],
            "paths": {label: seen.to_json() for label, seen in self.paths.items()},
        }


@dataclasses.dataclass(frozen=True)
class Column:
    """Rounds `first`..`last` (1-based) as one timeline column, started at `at` (epoch seconds)."""

    first: int
    last: int
    at: float


class WatchLog:
    """The accumulator: `add_round` per round, `to_json` for the report."""

    def __init__(self, started_at: float, interval_s: float, duration_s: float, passing: Iterable[str] = ()) -> None:
        self.started_at, self.interval_s, self.duration_s = started_at, interval_s, duration_s
        self.passing = frozenset(passing)  # the documented pass codes: a path whose code is one of them is good
        self.rounds = 0
        self.width = 1  # rounds per timeline column
        self.columns: list[Column] = []
        self.series: dict[str, Series] = {}
        self.samples: dict[str, dict[str, Any]] = {}
        self.samples_dropped = 0
        self.missed_slots = 0
        self.round_ends: list[str] = []  # per column: how its last round ended ("" finished, "deadline", ...)
        self.last_results: list[CheckResult] = []
        self.last_round_at = started_at
        self.ended_by: str | None = None

    def add_round(
        self, at: float, results: Sequence[CheckResult], *, ended_by: str | None = None, missed: int = 0
    ) -> None:
        self.rounds += 1
        number = self.rounds
        self.missed_slots += missed
        self.last_results = list(results)
        self.last_round_at = at
        new_column = not self.columns or self.columns[-1].last - self.columns[-1].first + 1 >= self.width
        if new_column:
            self.columns.append(Column(number, number, at))
            self.round_ends.append(ended_by or "")
            for series in self.series.values():
                series.timeline.append(".")
                series.latency_columns.append([0.0, 0, 0.0])
        else:
            last = self.columns[-1]
            self.columns[-1] = Column(last.first, number, last.at)
            self.round_ends[-1] = self.round_ends[-1] or (ended_by or "")
        for result in results:
            self._add_result(result, number, at)
        if len(self.columns) > MAX_COLUMNS:
            self._fold()

    def _add_result(self, result: CheckResult, number: int, at: float) -> None:
        key = result.id
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = Series(result.check, result.target.to_json())
            series.timeline = ["."] * len(self.columns)
            series.latency_columns = [[0.0, 0, 0.0] for _ in self.columns]
        series.rounds += 1
        status = result.status.value
        series.counts[status] = series.counts.get(status, 0) + 1
        seen = series.codes.get(result.code)
        if seen is None:
            if len(series.codes) >= MAX_CODES:
                series.codes_dropped += 1
            else:
                seen = series.codes[result.code] = CodeSeen(status)
        if seen is not None:
            seen.add(number, at)
        series.timeline[-1] = worst(series.timeline[-1], _STATUS_LETTER[result.status])
        latency = result_latency(result)
        if latency is not None:
            series.latency.add(latency)
            column = series.latency_columns[-1]
            column[0] += latency
            column[1] += 1
            column[2] = max(column[2], latency)
        for label, outcome, good, latency_ms in path_outcomes(result, self.passing):
            path = series.paths.get(label)
            if path is None:
                if len(series.paths) >= MAX_PATHS:
                    continue
                path = series.paths[label] = PathSeen()
            path.add(outcome, good, number, latency_ms)
        if result.status in (Status.FAIL, Status.ERROR, Status.WARN):
            self._sample(result, number, at)

    def _sample(self, result: CheckResult, number: int, at: float) -> None:
        key = f"{result.id}#{result.code}"
        kept = self.samples.get(key)
        if kept is None:
            if len(self.samples) >= MAX_SAMPLES:
                self.samples_dropped += 1
                return
            self.samples[key] = {"first_round": number, "first": result.to_json(), "first_at": at}
            return
        kept.update(latest_round=number, latest=result.to_json(), latest_at=at)

    def _fold(self) -> None:
        """Halve the timeline: columns 2i and 2i+1 become one (the worst status, latencies summed)."""
        columns, ends = [], []
        for i in range(0, len(self.columns), 2):
            pair = self.columns[i : i + 2]
            columns.append(Column(pair[0].first, pair[-1].last, pair[0].at))
            ends.append(next((e for e in self.round_ends[i : i + 2] if e), ""))
        self.columns, self.round_ends = columns, ends
        self.width *= 2
        for series in self.series.values():
            letters = series.timeline
            series.timeline = [worst(*letters[i : i + 2]) for i in range(0, len(letters), 2)]
            lat = series.latency_columns
            series.latency_columns = [
                [
                    sum(c[0] for c in lat[i : i + 2]),
                    sum(c[1] for c in lat[i : i + 2]),
                    max(c[2] for c in lat[i : i + 2]),
                ]
                for i in range(0, len(lat), 2)
            ]

    def to_json(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at,
            "interval_s": self.interval_s,
            "duration_s": self.duration_s,
            "rounds": self.rounds,
            "missed_slots": self.missed_slots,
            "ended_by": self.ended_by,
            "rounds_per_column": self.width,
            "columns": [dataclasses.asdict(c) for c in self.columns],
            "column_ends": list(self.round_ends),
            "series": [s.to_json() for s in self.series.values()],
            "samples": list(self.samples.values()),
            "samples_dropped": self.samples_dropped,
        }


def _merged(columns: list[list[float]]) -> list[float]:
    return [sum(c[0] for c in columns), sum(c[1] for c in columns), max(c[2] for c in columns)]


def pass_rate(counts: Mapping[str, int]) -> int | None:
    """The share (%) of judged rounds a result passed or warned in; None when it was never judged (skip, error)."""
    judged = sum(int(counts.get(s, 0)) for s in ("pass", "warn", "fail"))
    return round(100 * (int(counts.get("pass", 0)) + int(counts.get("warn", 0))) / judged) if judged else None


def worst(*letters: str) -> str:
    """The most severe of timeline letters ("." is absent: anything beats it)."""
    best, rank = ".", -1
    for letter in letters:
        status = _LETTER_STATUS.get(letter)
        if status is not None and status.severity > rank:
            best, rank = letter, status.severity
    return best


def letter_status(letter: str) -> Status | None:
    return _LETTER_STATUS.get(letter)


def result_latency(result: CheckResult) -> float | None:
    """The latency a result measured, read from its evidence: the fastest open TCP connect, the fastest TLS
    handshake, the slowest DNS answer; None for results that time nothing."""
    evidence = result.evidence
    if result.check == "tcp.connect":
        return _smallest(a.get("latency_ms") for a in _dicts(evidence.get("attempts")) if a.get("outcome") == "open")
    if result.check == "tls.handshake":
        addresses = evidence.get("addresses")
        values = addresses.values() if isinstance(addresses, Mapping) else ()
        return _smallest(a.get("handshake_ms") for a in _dicts(values) if a.get("outcome") == "ok")
    if result.check == "dns.resolve":
        times = [a.get("elapsed_ms") for a in _dicts(evidence.get("answers"))]
        numbers = [float(t) for t in times if isinstance(t, int | float) and not isinstance(t, bool)]
        return max(numbers) if numbers else None
    return None


def path_outcomes(
    result: CheckResult, passing: frozenset[str] = frozenset()
) -> Iterable[tuple[str, str, bool, float | None]]:
    """(address or path, outcome, good, latency in ms) per path a result's evidence lists: TCP attempts per
    address (their connect time), and the per-address (or "via <proxy>") verdicts of the TLS checks (their
    handshake time; good: a code in `passing`, the documented pass codes)."""
    evidence = result.evidence
    for attempt in _dicts(evidence.get("attempts")):
        address, outcome = attempt.get("address"), attempt.get("outcome")
        if isinstance(address, str) and isinstance(outcome, str):
            good = outcome == "open"
            yield address, outcome, good, _smallest([attempt.get("latency_ms")]) if good else None
    addresses = evidence.get("addresses")
    if isinstance(addresses, Mapping):
        for label, seen in addresses.items():
            if isinstance(seen, Mapping) and isinstance(seen.get("code"), str):
                code = str(seen["code"])
                yield str(label), code, code in passing, _smallest([seen.get("handshake_ms")])


def _dicts(value: object) -> list[Mapping[str, Any]]:
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, Iterable) and not isinstance(value, str | bytes):
        return [v for v in value if isinstance(v, Mapping)]
    return []


def _smallest(values: Iterable[object]) -> float | None:
    numbers = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    return min(numbers) if numbers else None
