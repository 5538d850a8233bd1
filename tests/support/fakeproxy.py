"""A scriptable HTTP proxy on loopback for CONNECT tests: answers every CONNECT with a chosen status (and page),
stalls, or answers garbage."""

from __future__ import annotations

import asyncio
import threading


class FakeProxy:
    def __init__(self, mode: str = "status", status: int = 502, title: str = "Bad Gateway (lab proxy)") -> None:
        self.mode, self.status, self.title = mode, status, title
        self.port = 0
        self.requests: list[bytes] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._handlers: set[asyncio.Task[None]] = set()

    def __enter__(self) -> FakeProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(5)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            self.requests.append(head)
            if self.mode == "stall":
                await asyncio.sleep(3600)
            elif self.mode == "garbage":
                writer.write(b"\x16\x03\x01 this is not HTTP at all\r\n\r\n")
            else:
                page = f"<html><head><title>{self.title}</title></head><body>no</body></html>".encode()
                writer.write(f"HTTP/1.1 {self.status} Lab\r\nContent-Type: text/html\r\nContent-Length: {len(page)}"
                             f"\r\nServer: lab-proxy\r\n\r\n".encode() + page)  # fmt: skip
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError, asyncio.LimitOverrunError):
            pass
        finally:
            self._handlers.discard(task)
            writer.close()
