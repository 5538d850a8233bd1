"""SNTPv4 (RFC 4330 / RFC 5905) client over asyncio, and the HTTPS Date reading used as a fallback.

The request carries a random transmit timestamp (nothing about this host's clock leaks, and a reply is only
accepted if it echoes that value as its origin timestamp). Replies are accepted only in mode 4, with stratum
1-15, a leap indicator other than 3 and a non-zero transmit timestamp; stratum 0 is a kiss-of-death and is
reported with its code. Several samples are taken and the one with the lowest round-trip delay is kept.
"""

from __future__ import annotations

import dataclasses
import os
import struct
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from preflight import lazy
from preflight.netutil import udp_port_unreachable

if TYPE_CHECKING:
    import asyncio
else:
    asyncio = lazy.module("asyncio")


DateOutcome = Literal["ok", "no_date", "error"]
NtpOutcome = Literal["ok", "timeout", "kiss_of_death", "rejected", "unreachable", "unresolved", "error"]

NTP_UNIX_DELTA = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01
ERA = 2**32
PACKET = struct.Struct("!BBbb4s4s4s8s8s8s8s")  # 48 bytes


@dataclasses.dataclass(frozen=True)
class NtpSample:
    offset_s: float
    delay_s: float
    stratum: int
    leap: int
    reference_id: str
    precision_s: float


@dataclasses.dataclass(frozen=True)
class NtpReading:
    server: str
    address: str | None
    port: int
    outcome: NtpOutcome
    sample: NtpSample | None = None
    samples: int = 0
    kiss_code: str | None = None
    reason: str | None = None

    @property
    def uncertainty_s(self) -> float | None:
        if self.sample is None:
            return None
        return self.sample.delay_s / 2 + self.sample.precision_s

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["uncertainty_s"] = self.uncertainty_s
        return data


def to_ntp(unix_seconds: float) -> bytes:
    seconds = unix_seconds + NTP_UNIX_DELTA
    whole = int(seconds)
    fraction = int((seconds - whole) * 2**32) & 0xFFFFFFFF
    return struct.pack("!II", whole % ERA, fraction)


def from_ntp(raw: bytes, near_unix: float) -> float:
    """An NTP timestamp as Unix time, in the 2^32-second era closest to `near_unix` (handles the 2036 rollover)."""
    whole, fraction = struct.unpack("!II", raw)
    base = whole + fraction / 2**32 - NTP_UNIX_DELTA
    era = round((near_unix - base) / ERA)
    return float(base + era * ERA)


def build_request(transmit: bytes) -> bytes:
    return bytes([0x23]) + bytes(39) + transmit  # LI 0, version 4, mode 3 (client)


def parse_reply(data: bytes, transmit: bytes, t1: float, t4: float) -> tuple[NtpOutcome, NtpSample | None, str | None]:
    """(outcome, sample, detail) for one reply. Pure: t1/t4 are this host's send/receive times (Unix)."""
    if len(data) < PACKET.size:
        return "rejected", None, f"short reply ({len(data)} bytes)"
    fields = PACKET.unpack(data[: PACKET.size])
    first, stratum, _poll, precision, _delay, _dispersion, ref_id, _ref, origin, receive, transmit_ts = fields
    leap, mode = first >> 6, first & 0x7
    if mode != 4:
        return "rejected", None, f"mode {mode}, not a server reply"
    if origin != transmit:
        return "rejected", None, "origin timestamp does not echo ours (spoofed or stale reply)"
    if stratum == 0:
        code = ref_id.decode("ascii", "replace").strip("\x00 ")
        return "kiss_of_death", None, code or "?"
    if stratum > 15:
        return "rejected", None, f"stratum {stratum}: server not synchronised"
    if leap == 3:
        return "rejected", None, "leap indicator 3: server clock not synchronised"
    if transmit_ts == bytes(8):
        return "rejected", None, "zero transmit timestamp"
    t2 = from_ntp(receive, t1)
    t3 = from_ntp(transmit_ts, t4)
    offset = ((t2 - t1) + (t3 - t4)) / 2
    delay = max(0.0, (t4 - t1) - (t3 - t2))
    reference = ref_id.decode("ascii", "replace").strip("\x00") if stratum == 1 else ".".join(str(b) for b in ref_id)
    return "ok", NtpSample(offset, delay, stratum, leap, reference, 2.0**precision), None


async def query(
    server: str, address: str, port: int, timeout: float, *, samples: int = 4, clock: Callable[[], float] = time.time
) -> NtpReading:
    """Up to `samples` exchanges; the lowest-delay valid sample wins. Gives up after two silent tries."""

    # Defined here, not at module level: subclassing asyncio there would load it for every command that lists checks.
    class _Reply(asyncio.DatagramProtocol):
        def __init__(self) -> None:
            self.queue: asyncio.Queue[tuple[bytes, float]] = asyncio.Queue(maxsize=64)
            self.unreachable: OSError | None = None

        def datagram_received(self, data: bytes, addr: Any) -> None:
            if not self.queue.full():
                self.queue.put_nowait((data[:512], time.time()))

        def error_received(self, exc: Exception) -> None:
            """ICMP port unreachable (ECONNREFUSED; on Windows WSAECONNRESET): no NTP server there, say so at once."""
            if isinstance(exc, OSError) and udp_port_unreachable(exc) and self.unreachable is None:
                self.unreachable = exc
                if not self.queue.full():
                    self.queue.put_nowait((b"", 0.0))  # wakes the waiting query

    loop = asyncio.get_running_loop()
    try:
        transport, protocol = await loop.create_datagram_endpoint(_Reply, remote_addr=(address, port))
    except OSError as exc:
        return NtpReading(server, address, port, "error", reason=f"{type(exc).__name__}: {exc}")
    best: NtpSample | None = None
    taken = silent = 0
    last_problem: tuple[str, str | None] | None = None
    try:
        for _ in range(samples):
            transmit = os.urandom(8)
            t1 = clock()
            transport.sendto(build_request(transmit))
            deadline = loop.time() + timeout
            while True:
                try:
                    data, _ = await asyncio.wait_for(protocol.queue.get(), max(0.0, deadline - loop.time()))
                except TimeoutError:
                    silent += 1
                    break
                if protocol.unreachable is not None:
                    return NtpReading(
                        server,
                        address,
                        port,
                        "unreachable",
                        reason=f"ICMP port unreachable: no NTP server at {address}:{port} ({protocol.unreachable})",
                    )
                outcome, sample, detail = parse_reply(data, transmit, t1, clock())
                if outcome == "ok" and sample is not None:
                    taken += 1
                    if best is None or sample.delay_s < best.delay_s:
                        best = sample
                    break
                last_problem = (outcome, detail)
                if outcome == "kiss_of_death":
                    return NtpReading(
                        server, address, port, "kiss_of_death", kiss_code=detail, reason=f"kiss-of-death {detail}"
                    )
                # a rejected reply: keep listening for the genuine one until this sample's deadline
            if silent >= 2 and best is None:
                break
    finally:
        transport.close()
    if best is not None:
        return NtpReading(server, address, port, "ok", best, taken)
    if last_problem is not None:
        return NtpReading(server, address, port, "rejected", reason=last_problem[1])
    return NtpReading(server, address, port, "timeout", reason=f"no reply within {timeout:g}s ({silent} tries)")


@dataclasses.dataclass(frozen=True)
class DateReading:
    """This host's clock compared with an HTTPS server's Date header: offset within ±(RTT/2 + 0.5 s)."""

    host: str
    address: str
    port: int
    outcome: DateOutcome
    offset_s: float | None = None
    uncertainty_s: float | None = None
    date_header: str | None = None
    chain: tuple[bytes, ...] = ()
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("chain")
        return data


MAX_HEADER_BYTES = 16 * 1024


async def https_date(
    host: str, address: str, port: int, timeout: float, *, opener: Any = None, clock: Callable[[], float] = time.time
) -> DateReading:
    """HEAD / over TLS (not verified here: the caller judges the chain) and read the Date header. `address`
    labels the path; `opener`, when given, provides the connected streams (a proxy tunnel)."""
    import email.utils
    import ssl

    from preflight.probes.tls import modern_context, served_chain

    try:
        async with asyncio.timeout(timeout * 2):
            if opener is not None:
                reader, writer = await opener()
            else:
                reader, writer = await asyncio.open_connection(address, port)
            await writer.start_tls(modern_context(), server_hostname=host, ssl_handshake_timeout=timeout)
            try:
                chain, _complete = served_chain(writer.get_extra_info("ssl_object"))
                t0 = clock()
                writer.write(
                    f"HEAD / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: connector-preflight\r\n"
                    "Connection: close\r\n\r\n".encode()
                )
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                t1 = clock()
            finally:
                writer.transport.abort()
    except (TimeoutError, OSError, ssl.SSLError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        return DateReading(host, address, port, "error", error=f"{type(exc).__name__}: {exc}")
    header = None
    for line in head[:MAX_HEADER_BYTES].decode("latin-1").split("\r\n"):
        if line.lower().startswith("date:"):
            header = line.split(":", 1)[1].strip()
    if header is None:
        return DateReading(host, address, port, "no_date", chain=chain, error="no Date header")
    try:
        server_time = email.utils.parsedate_to_datetime(header).timestamp()
    except (TypeError, ValueError):
        return DateReading(
            host, address, port, "no_date", date_header=header[:100], chain=chain, error="unparseable Date header"
        )
    # Date has one-second resolution and is truncated: the true time is half a second later on average.
    offset = (server_time + 0.5) - (t0 + t1) / 2
    return DateReading(host, address, port, "ok", offset, (t1 - t0) / 2 + 0.5, header[:100], chain)
