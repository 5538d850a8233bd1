"""A TLS server on loopback for the idle-timeout probe: it answers each HTTP request with a short response, and
with `close_idle_after` closes (TLS close_notify, then FIN) every connection that stays idle that long, as a
proxy or service with an idle timeout does."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from pathlib import Path

from loopthread import LoopThread


class IdleServer(LoopThread):
    def __init__(self, chain: Path, key: Path, host: str = "127.0.0.1", close_idle_after: float | None = None) -> None:
        super().__init__()
        self.chain, self.key, self.host = chain, key, host
        self.close_idle_after = close_idle_after
        self.port = 0
        self.answered = 0
        self.closed_idle = 0

    async def _start(self) -> None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.chain, self.key)
        self._server = await asyncio.start_server(self._handle, self.host, 0, ssl=ctx)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = self.track()
        try:
            with contextlib.suppress(ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
                try:
                    async with asyncio.timeout(self.close_idle_after):
                        await reader.readuntil(b"\r\n\r\n")
                except TimeoutError:
                    self.closed_idle += 1
                    return
                self.answered += 1
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                await writer.drain()
        finally:
            writer.close()
            self.discard(task)
