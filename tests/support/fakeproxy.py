"""A scriptable HTTP proxy on loopback for CONNECT tests: answers every CONNECT with a chosen status (and page),
stalls, or answers garbage."""

from __future__ import annotations

import asyncio

from loopthread import LoopThread


class FakeProxy(LoopThread):
    def __init__(self, mode: str = "status", status: int = 502, title: str = "Bad Gateway (lab proxy)") -> None:
        super().__init__()
        self.mode, self.status, self.title = mode, status, title
        self.port = 0
        self.requests: list[bytes] = []

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = self.track()
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
            self.discard(task)
            writer.close()
