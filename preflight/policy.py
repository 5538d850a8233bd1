"""From results to a verdict and an exit code automation can trust. Pure functions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from preflight.model import CheckResult, Status

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3
EXIT_SIGNAL = {"SIGINT": 130, "SIGTERM": 143}


def counts(results: Iterable[CheckResult]) -> dict[str, int]:
    tally = Counter(r.status for r in results)
    return {status.value: tally.get(status, 0) for status in Status}


def verdict(results: list[CheckResult], ended_by: str | None = None) -> str:
    """pass | warn | fail | error | incomplete | inconclusive. A skip never counts as a pass."""
    statuses = {r.status for r in results}
    if Status.FAIL in statuses:
        return "fail"
    if Status.ERROR in statuses:
        return "error"
    if ended_by is not None:
        return "incomplete"
    if not any(s.evaluated for s in statuses):
        return "inconclusive"
    if Status.WARN in statuses:
        return "warn"
    return "pass"


def exit_code(results: list[CheckResult], ended_by: str | None = None, *, strict: bool = False) -> int:
    if ended_by in EXIT_SIGNAL:
        return EXIT_SIGNAL[ended_by]
    outcome = verdict(results, ended_by)
    if outcome == "fail" or (strict and outcome == "warn"):
        return EXIT_FAIL
    if outcome in ("error", "incomplete", "inconclusive"):
        return EXIT_INCOMPLETE
    return EXIT_OK


def root_cause(result: CheckResult) -> str:
    """The id a downstream skip should point at: the upstream result's own root cause, or itself."""
    if result.status == Status.SKIP and result.caused_by:
        return result.caused_by
    return result.id
