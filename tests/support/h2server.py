"""An HTTP/2 server over TLS on loopback (the h2 library's server side), in its own thread and event loop.

Modes: h2 (ALPN h2, answers the preface with SETTINGS), http1 (ALPN http/1.1 only, as a proxy that downgrades),
garbage (ALPN h2, then an HTTP/1.1 answer: no HTTP/2 frame), goaway (ALPN h2, a GOAWAY before any SETTINGS),
silent (ALPN h2, never answers).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from pathlib import Path

import h2.config
import h2.connection
import h2.errors
import hyperframe.frame
from loopthread import LoopThread


class Http2Server(LoopThread):
    def __init__(self, mode: str, chain: Path, key: Path) -> None:
        super().__init__()
        self.mode, self.chain, self.key = mode, chain, key
        self.port = 0
        self.prefaces = 0  # client prefaces received

    async def _start(self) -> None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.chain, self.key)
        ctx.set_alpn_protocols(["http/1.1"] if self.mode == "http1" else ["h2", "http/1.1"])
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=ctx)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = self.track()
        try:
            data = await reader.read(65536)
            if data.startswith(b"PRI * HTTP/2.0"):
                self.prefaces += 1
            conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False))
            if self.mode == "h2":
                conn.initiate_connection()
                conn.receive_data(data)
                writer.write(conn.data_to_send())
            elif self.mode == "goaway":  # a GOAWAY frame first: the server ends the connection before any SETTINGS
                frame = hyperframe.frame.GoAwayFrame(0)
                frame.error_code = h2.errors.ErrorCodes.ENHANCE_YOUR_CALM
                writer.write(frame.serialize())
            elif self.mode == "garbage":
                writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            await reader.read(65536)  # hold the connection until the client goes
        except (ConnectionError, ssl.SSLError, asyncio.CancelledError):
            pass
        finally:
            self.discard(task)
            with contextlib.suppress(Exception):
                writer.close()
