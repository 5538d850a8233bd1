"""SIGINT and SIGTERM from the first moment the CLI runs: recorded, never raised, so a signal that arrives while
the tool is still starting, planning or writing its report ends the run cleanly with a complete partial report
instead of a traceback or a half-written file.

While checks run, the same handler also tells the event loop (`listening`). The loop's own signal handlers are
not used: swapping handlers at the start of the run left a moment in which a signal that had already arrived,
but whose Python handler had not run yet, was handed to the new handler before the loop could hear it, and the
run went on to the end as if nothing had happened."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator
from typing import Any

HANDLED = ("SIGINT", "SIGTERM")
_pending: list[str] = []
_listeners: list[Callable[[str], object]] = []


def _record(signum: int, _frame: Any) -> None:
    name = signal.Signals(signum).name
    if name not in _pending:
        _pending.append(name)
    for listener in list(_listeners):
        listener(name)


@contextlib.contextmanager
def listening(listener: Callable[[str], object]) -> Iterator[None]:
    """Call `listener(name)` for every SIGINT/SIGTERM from here on (in the main thread, from the handler: it
    must only schedule work, e.g. with loop.call_soon_threadsafe)."""
    install()
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


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
