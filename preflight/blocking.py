"""A blocking call (getaddrinfo, a Windows API) awaited with a timeout, in a daemon thread: a call that never
returns is abandoned, and neither the run nor the interpreter's exit waits for it (asyncio.to_thread's executor
threads are joined at exit)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def in_daemon_thread(work: Callable[[], T], timeout: float, name: str = "preflight-blocking") -> T:
    """`work()` in a daemon thread, awaited at most `timeout` (TimeoutError after it); what `work` raises is raised
    here. Its result is dropped when nobody waits any more (the timeout passed, or the run's loop is closed)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def deliver(setter: Callable[[Any], None], value: Any) -> None:
        if not future.done():
            setter(value)

    def hand_over(setter: Callable[[Any], None], value: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the run is over and its loop closed: nobody waits any more
            loop.call_soon_threadsafe(deliver, setter, value)

    def body() -> None:
        try:
            value = work()
        except Exception as exc:  # handed to the awaiting side
            hand_over(future.set_exception, exc)
        else:
            hand_over(future.set_result, value)

    threading.Thread(target=body, name=name, daemon=True).start()
    return await asyncio.wait_for(future, timeout)
