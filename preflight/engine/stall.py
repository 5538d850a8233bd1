"""A guard against a check that blocks the event loop (a synchronous sleep or socket call inside `async def
run`): no asyncio timeout can fire while the loop is stuck, so a thread watches a heartbeat and, when the loop
has not turned for `limit` seconds, interrupts the main thread with SIGALRM. The handler raises LoopStalled in
the blocking frame, which the runner reports as that check's `check.blocked` error; the run goes on.

POSIX only (signal.pthread_kill); elsewhere the overall deadline is the bound."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

BEAT_S = 0.1


class LoopStalled(Exception):
    pass


# Looked up, not imported: Windows has neither, and the module must type-check there too.
_ALARM: Any = getattr(signal, "SIGALRM", None)
_PTHREAD_KILL: Any = getattr(signal, "pthread_kill", None)


def available() -> bool:
    return _ALARM is not None and _PTHREAD_KILL is not None and threading.current_thread() is threading.main_thread()


@contextlib.asynccontextmanager
async def guard(limit: float) -> AsyncIterator[None]:
    if not available():
        yield
        return
    beat = [time.monotonic()]
    done = threading.Event()
    main = threading.main_thread().ident

    async def heartbeat() -> None:
        while True:
            beat[0] = time.monotonic()
            await asyncio.sleep(BEAT_S)

    def watch() -> None:
        while not done.wait(BEAT_S):
            if time.monotonic() - beat[0] > limit and main is not None:
                beat[0] = time.monotonic()  # one interrupt per stall
                _PTHREAD_KILL(main, _ALARM)

    def on_alarm(_signum: int, _frame: Any) -> None:
        raise LoopStalled(f"blocked the event loop for more than {limit:g}s")

    previous = signal.signal(_ALARM, on_alarm)
    pulse = asyncio.ensure_future(heartbeat())
    watcher = threading.Thread(target=watch, name="preflight-stall-guard", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        pulse.cancel()
        watcher.join(timeout=1.0)
        signal.signal(_ALARM, previous)
