"""A scriptable HTTP proxy on loopback for CONNECT tests: answers every CONNECT with a chosen status (and page),
stalls, answers garbage, or (mode "tunnel") opens the tunnel to 127.0.0.1 on the requested port."""

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
            elif self.mode == "tunnel":
                await self._tunnel(head, reader, writer)
                return
            elif self.mode == "tunnel_page":  # opens the tunnel, then answers the ClientHello with its block page
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await writer.drain()
                await reader.read(4096)
                page = f"<html><head><title>{self.title}</title></head><body>no</body></html>".encode()
                writer.write(f"HTTP/1.1 {self.status} Blocked\r\nContent-Type: text/html\r\n"
                             f"Content-Length: {len(page)}\r\n\r\n".encode() + page)  # fmt: skip
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

    async def _tunnel(self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Every name is this machine: the tunnel goes to 127.0.0.1 on the port the CONNECT asks for."""
        port = int(head.split(b" ", 2)[1].rsplit(b":", 1)[1])
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            finally:
                sink.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer), return_exceptions=True)
