"""Durations as a user types them (`90`, `30s`, `5m`, `1h30m`, `1d`) and when each round of a watch starts."""

from __future__ import annotations

import dataclasses
import re

from preflight.errors import UsageError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
MAX_WATCH_S = 7 * 86400  # a week: the summary stays bounded, but a longer watch is a monitoring system's job
MIN_INTERVAL_S = 1.0


def parse_duration(text: str, *, option: str) -> float:
    """Seconds, from `90`, `90s`, `5m`, `1h30m`, `1d` or `2.5m`; anything else is one UsageError naming the option."""
    value = text.strip().lower()
    if not value:
        raise UsageError(f"{option}: empty duration (examples: 30s, 5m, 1h30m)")
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        seconds = float(value)
    else:
        position, seconds = 0, 0.0
        for match in _PART.finditer(value):
            if match.start() != position:
                break
            seconds += float(match.group(1)) * _UNITS[match.group(2)]
            position = match.end()
        if position != len(value):
            raise UsageError(f"{option}: {text[:40]!r} is not a duration (examples: 30s, 5m, 1h30m, 1d)")
    if seconds <= 0:
        raise UsageError(f"{option}: {text[:40]!r} is not a positive duration")
    return seconds


def format_duration(seconds: float) -> str:
    """`1h 30m`, `4m`, `45s`, `2.5s`: how reports and progress lines write a duration."""
    if seconds < 10 and seconds != int(seconds):
        return f"{seconds:.1f}s"
    whole = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole >= size:
            parts.append(f"{whole // size}{unit}")
            whole %= size
    if whole or not parts:
        parts.append(f"{whole}s")
    return " ".join(parts)


@dataclasses.dataclass(frozen=True)
class Schedule:
    """Rounds start every `interval_s` from the first, for `duration_s`: a round that overruns its slot is followed
    at once by the next (the missed slots are counted, never run twice); none starts after the watch's end."""

    duration_s: float
    interval_s: float

    def __post_init__(self) -> None:
        if self.duration_s > MAX_WATCH_S:
            raise UsageError(f"--for: at most {format_duration(MAX_WATCH_S)} (run it again for longer)")
        if self.interval_s < MIN_INTERVAL_S:
            raise UsageError(f"--every: at least {MIN_INTERVAL_S:g}s between rounds")
        if self.interval_s > self.duration_s:
            raise UsageError(
                f"--every {format_duration(self.interval_s)} is longer than --for {format_duration(self.duration_s)}: "
                "a watch needs at least two rounds"
            )

    @property
    def planned_rounds(self) -> int:
        return int(self.duration_s // self.interval_s) + 1

    def next_start(self, started: float, round_started: float, now: float) -> tuple[float | None, int]:
        """When the round after the one begun at `round_started` starts (None: the watch is over), and how many
        slots went by while that round ran (they are skipped: the next round starts at once)."""
        slot = int((round_started - started) // self.interval_s + 1e-9) + 1
        at = started + slot * self.interval_s
        if at - started > self.duration_s + 1e-9:
            return None, 0
        if now <= at:
            return at, 0
        last_slot = min(int((now - started) // self.interval_s), int(self.duration_s // self.interval_s))
        if now - started > self.duration_s:
            return None, last_slot - slot + 1
        return now, last_slot - slot
