"""TLS (and not-quite-TLS) servers on loopback for tests, each in its own thread and event loop.

Modes: ok (serves a chain, TLS 1.2+), legacy (TLS 1.0/1.1 only), reset (RST after the ClientHello), close (FIN
after the ClientHello), alert (a fatal handshake_failure alert), stall (reads, never answers), http (answers
plaintext HTTP).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
import warnings
from pathlib import Path

from loopthread import LoopThread

ALERT_HANDSHAKE_FAILURE = b"\x15\x03\x03\x00\x02\x02\x28"


class TlsServer(LoopThread):
    def __init__(self, mode: str, chain: Path | None = None, key: Path | None = None, host: str = "127.0.0.1") -> None:
        super().__init__()
        self.mode = mode
        self.chain, self.key = chain, key
        self.host = host
        self.port = 0
        self.accepted = 0

    def _context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        assert self.chain and self.key
        if self.mode == "legacy":
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
            with warnings.catch_warnings():  # deprecated on purpose: this server plays an outdated endpoint
                warnings.simplefilter("ignore", DeprecationWarning)
                ctx.minimum_version = ssl.TLSVersion.TLSv1
                ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        ctx.load_cert_chain(self.chain, self.key)
        return ctx

    async def _start(self) -> None:
        tls = self._context() if self.mode in ("ok", "legacy") else None
        self._server = await asyncio.start_server(self._handle, self.host, 0, ssl=tls)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        task = self.track()
        try:
            if self.mode in ("ok", "legacy"):
                await reader.read(1)  # hold the session open until the client goes
                return
            hello = await reader.read(4096)  # the ClientHello (its first segment)
            if self.mode.startswith("sni_reset:"):  # an SNI filter: resets a hello naming it, lets others reach
                blocked = self.mode.split(":", 1)[1].encode()  # a server that refuses them with an alert
                if blocked in hello:
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                else:
                    writer.write(ALERT_HANDSHAKE_FAILURE)
                    await writer.drain()
            elif self.mode == "reset":
                sock = writer.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif self.mode == "alert":
                writer.write(ALERT_HANDSHAKE_FAILURE)
                await writer.drain()
            elif self.mode == "http":
                writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                await writer.drain()
            elif self.mode == "stall":
                await asyncio.sleep(3600)
        except (ConnectionError, ssl.SSLError, asyncio.CancelledError):
            pass
        finally:
            self.discard(task)
            writer.close()
