"""A TLS endpoint for benchmarks: one asyncio server on 0.0.0.0:PORT inside the benchmark's own network namespace
(so every 127.0.0.0/8 address reaches it), SO_REUSEPORT so several processes share the load, and an optional
delay before the handshake standing for a network round trip. An HTTP request (the sequential loop's curl) gets
an empty 200. Prints READY when listening."""

from __future__ import annotations

import argparse
import asyncio
import socket
import ssl


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("chain")
    parser.add_argument("key")
    parser.add_argument("--port", type=int, default=443)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    args = parser.parse_args()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.chain, args.key)
    delay = args.delay_ms / 1000

    loop = asyncio.get_running_loop()

    class Answer(asyncio.Protocol):
        def __init__(self) -> None:
            self.head = b""
            self.transport: asyncio.Transport | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            self.head = (self.head + data)[-8192:]
            if b"\r\n\r\n" in self.head and self.transport is not None:
                self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                self.transport.close()

    async def serve(sock: socket.socket) -> None:
        try:
            if delay:  # the ClientHello waits in the kernel's buffer meanwhile, as on a slow network
                await asyncio.sleep(delay)
            await loop.connect_accepted_socket(Answer, sock, ssl=context, ssl_handshake_timeout=10)
        except (OSError, ssl.SSLError, ConnectionError):
            sock.close()

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind(("0.0.0.0", args.port))
    listener.listen(4096)
    listener.setblocking(False)
    tasks: set[asyncio.Task[None]] = set()

    async def accept_forever() -> None:
        while True:
            sock, _peer = await loop.sock_accept(listener)
            task = asyncio.ensure_future(serve(sock))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    print("READY", flush=True)
    await accept_forever()


if __name__ == "__main__":
    asyncio.run(main())
