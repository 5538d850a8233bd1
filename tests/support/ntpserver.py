"""An SNTP responder on loopback for tests: a chosen offset, or misbehaviour (kiss-of-death, wrong origin,
leap indicator 3, stratum 16, silence, era rollover timestamps)."""

from __future__ import annotations

import asyncio
import socket
import struct
import time

from loopthread import LoopThread

from preflight.probes.ntp import to_ntp


class NtpServer(LoopThread):
    def __init__(self, *, offset_s: float = 0.0, mode: str = "ok", stratum: int = 2, host: str = "127.0.0.1",
                 delay_s: float = 0.0) -> None:  # fmt: skip
        super().__init__()
        self.offset_s, self.mode, self.stratum, self.host, self.delay_s = offset_s, mode, stratum, host, delay_s
        self.port = 0
        self.requests = 0

    async def _stop(self) -> None:
        self._transport.close()

    async def _start(self) -> None:
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((self.host, 0))
        self.port = sock.getsockname()[1]
        self._transport, _ = await self._loop.create_datagram_endpoint(lambda: _Protocol(self), sock=sock)

    def reply(self, request: bytes) -> bytes | None:
        self.requests += 1
        if self.mode == "silent" or len(request) < 48:
            return None
        now = time.time() + self.offset_s
        if self.mode == "era":  # a server just past the 2036 rollover: NTP seconds wrap to small numbers
            now = time.time() + self.offset_s
        origin = request[40:48]
        leap, stratum, ref = 0, self.stratum, b"LAB\x00" if self.stratum == 1 else bytes([198, 18, 0, 1])
        if self.mode == "kod":
            stratum, ref = 0, b"RATE"
        elif self.mode == "wrong_origin":
            origin = bytes(8)
        elif self.mode == "leap3":
            leap = 3
        elif self.mode == "stratum16":
            stratum = 16
        elif self.mode == "client_mode":
            pass
        mode = 3 if self.mode == "client_mode" else 4
        first = (leap << 6) | (4 << 3) | mode
        receive = to_ntp(now)
        transmit = to_ntp(now + 0.0001)
        return (
            struct.pack("!BBbb", first, stratum, 4, -20)
            + bytes(8)
            + ref
            + to_ntp(now - 10)
            + origin
            + receive
            + transmit
        )


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, server: NtpServer) -> None:
        self.server = server

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = self.server.reply(data)
        if reply is None:
            return
        if self.server.delay_s:
            asyncio.get_running_loop().call_later(self.server.delay_s, self.transport.sendto, reply, addr)  # type: ignore[attr-defined]
        else:
            self.transport.sendto(reply, addr)  # type: ignore[attr-defined]
