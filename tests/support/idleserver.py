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


class MutualTlsServer:
    """TLS 1.3 requiring a client certificate from `client_ca`, as the connector's service does. Blocking sockets
    on a thread: OpenSSL then sends its certificate_required alert, as a real server does (asyncio's server
    drops the connection without flushing it). The client learns of the refusal only after its handshake."""

    def __init__(self, chain: Path, key: Path, client_ca: Path) -> None:
        import socketserver
        import threading

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.load_cert_chain(chain, key)
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(client_ca)

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                with contextlib.suppress(OSError), ctx.wrap_socket(self.request, server_side=True) as tls:
                    tls.recv(1)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> MutualTlsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
