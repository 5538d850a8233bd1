"""SIGINT and SIGTERM from the first moment the CLI runs: recorded, never raised, so a signal that arrives while
the tool is still starting, planning or writing its report ends the run cleanly with a complete partial report
instead of a traceback or a half-written file.

While checks run, the same handler also tells the event loop (`listening`). The loop's own signal handlers are
not used: swapping handlers at the start of the run left a moment in which a signal that had already arrived,
but whose Python handler had not run yet, was handed to the new handler before the loop could hear it, and the
run went on to the end as if nothing had happened."""

from __future__ import annotations

import contextlib
import ctypes
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

# SIGBREAK is Windows' Ctrl-Break; getattr below skips it where it does not exist.
HANDLED = ("SIGINT", "SIGTERM", "SIGBREAK")
# Console control events that are no signal in Python: closing the console window, logging off, shutting down
# (also how a service manager ends a console program). Windows ends the process when the handler returns, or 5 s
# after the event at the latest: the handler asks the run to stop and waits for the report to be written.
CTRL_CLOSE_EVENT, CTRL_LOGOFF_EVENT, CTRL_SHUTDOWN_EVENT = 2, 5, 6
CONSOLE_EVENTS = {CTRL_CLOSE_EVENT: "SIGTERM", CTRL_LOGOFF_EVENT: "SIGTERM", CTRL_SHUTDOWN_EVENT: "SIGTERM"}
CONSOLE_GRACE_S = 4.5
_pending: list[str] = []
_listeners: list[Callable[[str], object]] = []
_outputs_written = threading.Event()
_console_handler: Any = None  # the ctypes callback, kept alive while it is registered


def _notify(name: str) -> None:
    if name not in _pending:
        _pending.append(name)
    for listener in list(_listeners):
        listener(name)


def _record(signum: int, _frame: Any) -> None:
    _notify(signal.Signals(signum).name)


def console_event(event: int) -> bool:
    """The console control handler (Windows calls it on a thread of its own): a close, logoff or shutdown stops
    the run like SIGTERM, then waits, within Windows' grace period, for the report to be written. Ctrl-C and
    Ctrl-Break are left to Python's signal handling (False: not handled here)."""
    name = CONSOLE_EVENTS.get(event)
    if name is None:
        return False
    _notify(name)
    _outputs_written.wait(CONSOLE_GRACE_S)
    return True


def install_console_handler(kernel32: Any = None) -> bool:
    """Register console_event with SetConsoleCtrlHandler (Windows; `kernel32` is for tests). True if registered."""
    global _console_handler
    if kernel32 is None:
        if sys.platform == "win32":
            kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        else:
            return False
    prototype = getattr(ctypes, "WINFUNCTYPE", ctypes.CFUNCTYPE)(ctypes.c_int, ctypes.c_uint)
    handler = prototype(lambda event: 1 if console_event(int(event)) else 0)
    if not kernel32.SetConsoleCtrlHandler(handler, True):
        return False
    _console_handler = handler
    return True


def outputs_written() -> None:
    """Everything the run writes is written: a console close waiting in console_event may let Windows end us."""
    _outputs_written.set()


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
    with contextlib.suppress(ValueError, OSError, AttributeError):
        signal.signal(getattr(signal, "SIGBREAK"), signal.SIG_DFL)  # noqa: B009 (absent off Windows)


def hold_at_exit() -> None:
    """Everything is written and the exit code decided: from here a SIGINT or SIGTERM must not end the exiting
    process. Interpreter shutdown puts the default handlers back before the process is gone, and a signal in that
    window killed it (exit -2 instead of the verdict's code; seen once in 50 interrupted runs under load). Blocked,
    the signal stays pending and dies with the process. POSIX only: Windows has no signal mask."""
    if sys.platform != "win32":
        with contextlib.suppress(ValueError, OSError):
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


def pending() -> str | None:
    return _pending[0] if _pending else None


def clear() -> None:
    _pending.clear()
