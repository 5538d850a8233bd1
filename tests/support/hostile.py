"""Hostile peers on loopback: each connection gets a scripted misbehaviour (silence, slow drips, garbage,
floods, protocol switches). Each mode is the smallest server that shows one way a middlebox can attack a client."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket

from loopthread import LoopThread

MODES = ("silent", "drip_tls", "garbage", "endless_headers", "endless_body", "huge_body", "connect_then_http",
         "connect_then_drip")  # fmt: skip


GARBAGE = random.Random(20261201).randbytes(4096)  # OpenSSL: WRONG_VERSION_NUMBER


class HostileServer(LoopThread):
    def __init__(self, mode: str, host: str = "127.0.0.1", port: int = 0, body_bytes: int = 10 * 1024 * 1024) -> None:
        super().__init__()
        assert mode in MODES, mode
        self.mode, self.host, self.port, self.body_bytes = mode, host, port, body_bytes
        self.sent = 0  # bytes written, to show the client stopped reading

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = self.track()
        try:
            await getattr(self, f"_{self.mode}")(reader, writer)
        except (ConnectionError, asyncio.CancelledError, asyncio.IncompleteReadError, OSError):
            pass
        finally:
            self.discard(task)
            writer.close()

    async def _send(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        await writer.drain()
        self.sent += len(data)

    async def _silent(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(3600)

    async def _drip_tls(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Reads the ClientHello, then sends a plausible ServerHello one byte per second, forever."""
        await reader.read(16384)
        record = b"\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03" + b"\x11" * 4000
        for byte in record:
            await self._send(writer, bytes([byte]))
            await asyncio.sleep(1.0)

    async def _garbage(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(16384)
        # Random-looking but the same every run: fresh random bytes now and then start like a TLS record (about 1
        # in 256 begins with a record type), and the verdict then depends on which bytes came, not on the tool.
        await self._send(writer, GARBAGE)
        await asyncio.sleep(3600)

    async def _endless_headers(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(16384)
        await self._send(writer, b"HTTP/1.1 200 OK\r\n")
        number = 0
        while True:
            await self._send(writer, f"X-Pad-{number}: {'a' * 64}\r\n".encode())
            number += 1
            await asyncio.sleep(0.01)

    async def _endless_body(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """A steady trickle that never ends: each read succeeds well within any per-read timeout."""
        await reader.read(16384)
        await self._send(writer, b"HTTP/1.1 200 OK\r\nContent-Type: application/pkix-crl\r\n\r\n")
        while True:
            await self._send(writer, b"0" * 512)
            await asyncio.sleep(0.05)

    async def _huge_body(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(16384)
        await self._send(writer, b"HTTP/1.1 200 OK\r\nContent-Type: application/pkix-crl\r\n"
                                 b"Content-Length: %d\r\n\r\n" % self.body_bytes)  # fmt: skip
        chunk = b"\x30" * 65536
        remaining = self.body_bytes
        while remaining > 0:
            await self._send(writer, chunk[:remaining])
            remaining -= len(chunk)

    async def _connect_then_http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """An explicit proxy that says yes to CONNECT, then answers the TLS ClientHello with plain HTTP."""
        await reader.readuntil(b"\r\n\r\n")
        await self._send(writer, b"HTTP/1.1 200 Connection established\r\n\r\n")
        await reader.read(16384)
        page = b"<html><head><title>Access denied by policy</title></head></html>"
        await self._send(writer, b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n"
                                 % len(page) + page)  # fmt: skip
        await asyncio.sleep(3600)

    async def _connect_then_drip(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await self._send(writer, b"HTTP/1.1 200 Connection established\r\n\r\n")
        await self._drip_tls(reader, writer)


class FullBacklog:
    """A listener whose accept queue is full and never drained: new SYNs go unanswered, like a dead server."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind((host, 0))
        self.listener.listen(0)
        self.port = self.listener.getsockname()[1]
        self.fillers: list[socket.socket] = []

    def __enter__(self) -> FullBacklog:
        for _ in range(8):  # fill the accept queue (and the SYN queue behind it)
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", self.port))
            self.fillers.append(filler)
        return self

    def __exit__(self, *exc: object) -> None:
        for filler in self.fillers:
            filler.close()
        self.listener.close()
