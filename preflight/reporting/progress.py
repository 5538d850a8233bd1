"""The progress line a run draws on a terminal: one line on stderr, rewritten as each result comes in."""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from preflight.model import CheckResult

WIDTH = 100


class ProgressLine:
    """Draws only when `enabled` (the CLI enables it when stderr is a terminal and --quiet is not given)."""

    def __init__(self, stream: TextIO, enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled
        self.width = 0

    def update(self, result: CheckResult, done: int, total: int) -> None:
        if not self.enabled:
            return
        text = f"[{done}/{total}] {result.check} {result.target.key}: {result.status}"[:WIDTH]
        self.stream.write("\r" + text.ljust(self.width))
        self.stream.flush()
        self.width = len(text)

    def clear(self) -> None:
        if self.enabled and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0
