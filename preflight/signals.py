"""SIGINT and SIGTERM from the first moment the CLI runs: recorded, never raised, so a signal that arrives while
the tool is still starting, planning or writing its report ends the run cleanly with a complete partial report
instead of a traceback or a half-written file. While checks run, the event loop's own handlers take over."""

from __future__ import annotations

import contextlib
import signal
from typing import Any

HANDLED = ("SIGINT", "SIGTERM")
_pending: list[str] = []


def _record(signum: int, _frame: Any) -> None:
    name = signal.Signals(signum).name
    if name not in _pending:
        _pending.append(name)


def install() -> None:
    """Record SIGINT/SIGTERM instead of acting on them (main thread only; elsewhere a no-op)."""
    for name in HANDLED:
        with contextlib.suppress(ValueError, OSError, AttributeError):
            signal.signal(getattr(signal, name), _record)


def restore_defaults() -> None:
    """For commands that do not run checks: Ctrl-C interrupts them the usual way."""
    with contextlib.suppress(ValueError, OSError):
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def pending() -> str | None:
    return _pending[0] if _pending else None


def clear() -> None:
    _pending.clear()
