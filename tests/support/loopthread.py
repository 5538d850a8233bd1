"""The scaffolding every loopback test server shares: its own event loop in a daemon thread, started and stopped
as a context manager, with handler tasks cancelled and awaited on the way out (a pending coroutine at the end of
the session would otherwise be reported by pytest and tripped a CPython 3.11 bug)."""

from __future__ import annotations

import asyncio
import threading
from typing import Self


class LoopThread:
    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._handlers: set[asyncio.Task[None]] = set()

    def __enter__(self) -> Self:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(5)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _start(self) -> None:
        raise NotImplementedError

    async def _stop(self) -> None:
        """Close listeners (subclasses); handlers are cancelled afterwards."""

    async def _shutdown(self) -> None:
        await self._stop()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    def track(self) -> asyncio.Task[None]:
        """Register the current handler task so shutdown can cancel it; call discard() when it ends."""
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)  # type: ignore[arg-type]
        return task  # type: ignore[return-value]

    def discard(self, task: asyncio.Task[None]) -> None:
        self._handlers.discard(task)
