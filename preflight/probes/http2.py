"""HTTP/2 over TLS on one path: does ALPN select `h2`, and does the connection preface and SETTINGS exchange get
through? The Private Access connector's tunnel is gRPC, and gRPC runs over HTTP/2 only (gRPC over HTTP2,
grpc/grpc doc/PROTOCOL-HTTP2.md): a path that negotiates http/1.1 or mangles frames breaks it while the TLS
handshake itself looks fine.

Frames are read with the h2 library (python-hyper), which checks them as a client must (RFC 9113); nothing past
SETTINGS is sent, so no request reaches the service.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from preflight import lazy
from preflight.netutil import is_ip_literal

if TYPE_CHECKING:
    import asyncio

    import h2.config as h2_config
    import h2.connection as h2_connection
    import h2.errors as h2_errors
    import h2.events as h2_events
    import h2.exceptions as h2_exceptions

    from preflight.probes.tls import Opener
else:
    asyncio = lazy.module("asyncio")
    h2_config = lazy.module("h2.config")
    h2_connection = lazy.module("h2.connection")
    h2_errors = lazy.module("h2.errors")
    h2_events = lazy.module("h2.events")
    h2_exceptions = lazy.module("h2.exceptions")

Http2Outcome = Literal["ok", "no_h2", "goaway", "garbage", "silent", "closed", "tls_failed", "connect_failed"]
MAX_READ = 64 * 1024  # bytes read while waiting for the server's SETTINGS


@dataclasses.dataclass(frozen=True)
class Http2Exchange:
    path: str  # an address, or "via <proxy>"
    port: int
    sni: str
    outcome: Http2Outcome
    alpn: str | None = None  # what ALPN selected (None: the server selected nothing)
    settings: dict[str, int] | None = None  # the server's SETTINGS, by name
    goaway_error: str | None = None
    error: str | None = None
    elapsed_ms: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


async def exchange(path: str, port: int, sni: str, timeout: float, *, opener: Opener | None = None) -> Http2Exchange:
    """TLS with ALPN h2 and http/1.1 to `path` (an address) or through `opener` (a proxy tunnel), then the client
    preface and SETTINGS, waiting `timeout` for the server's SETTINGS."""
    import ssl

    from preflight.probes.tls import modern_context

    start = time.monotonic()
    server_hostname = None if is_ip_literal(sni) else sni

    def done(outcome: Http2Outcome, **fields: Any) -> Http2Exchange:
        return Http2Exchange(path, port, sni, outcome, elapsed_ms=round((time.monotonic() - start) * 1000, 2), **fields)

    try:
        async with asyncio.timeout(timeout):
            if opener is None:
                reader, writer = await asyncio.open_connection(path, port)
            else:
                reader, writer = await opener()
    except (TimeoutError, OSError) as exc:
        return done("connect_failed", error=str(exc) or type(exc).__name__)
    try:
        try:
            await writer.start_tls(modern_context(), server_hostname=server_hostname, ssl_handshake_timeout=timeout)
        except (TimeoutError, ssl.SSLError, OSError, EOFError) as exc:
            return done("tls_failed", error=f"{type(exc).__name__}: {exc}")
        alpn = writer.get_extra_info("ssl_object").selected_alpn_protocol()
        if alpn != "h2":
            return done("no_h2", alpn=alpn)
        return await _settings(reader, writer, timeout, done)
    finally:
        writer.transport.abort()


async def _settings(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float, done: Callable[..., Http2Exchange]
) -> Http2Exchange:
    conn = h2_connection.H2Connection(config=h2_config.H2Configuration(client_side=True))
    conn.initiate_connection()
    writer.write(conn.data_to_send())
    read = 0
    head = b""  # the server's first frame header, checked before h2 sees it
    try:
        async with asyncio.timeout(timeout):
            while read < MAX_READ:
                data = await reader.read(16384)
                if not data:
                    return done("closed", alpn="h2", error="the peer closed the connection before its SETTINGS")
                read += len(data)
                if len(head) < 9:
                    head += data[: 9 - len(head)]
                    if len(head) < 9:
                        continue
                    wrong = _first_frame_problem(head, data)
                    if wrong is not None:
                        return done(wrong[0], alpn="h2", **wrong[1])
                for event in conn.receive_data(data):
                    if isinstance(event, h2_events.RemoteSettingsChanged):
                        settings = {_name(k): v.new_value for k, v in event.changed_settings.items()}
                        writer.write(conn.data_to_send())  # the SETTINGS ACK, as a client owes
                        return done("ok", alpn="h2", settings=settings)
                    if isinstance(event, h2_events.ConnectionTerminated):
                        return done("goaway", alpn="h2", goaway_error=_name(event.error_code))
            return done("garbage", alpn="h2", error=f"{read} bytes without a SETTINGS frame")
    except TimeoutError:
        return done("silent", alpn="h2", error=f"no SETTINGS within {timeout:g}s")
    except h2_exceptions.ProtocolError as exc:
        return done("garbage", alpn="h2", error=f"{type(exc).__name__}: {exc}")
    except (OSError, EOFError) as exc:
        return done("closed", alpn="h2", error=f"{type(exc).__name__}: {exc}")


_SETTINGS, _GOAWAY = 0x4, 0x7


def _first_frame_problem(head: bytes, data: bytes) -> tuple[Http2Outcome, dict[str, Any]] | None:
    """RFC 9113 3.4: the server's connection preface is a SETTINGS frame, and it must be the first frame it sends.
    A GOAWAY there ends the connection (its error code is kept); anything else is not HTTP/2. Pure."""
    frame_type, stream = head[3], int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
    if frame_type == _SETTINGS and stream == 0:
        return None
    if frame_type == _GOAWAY and stream == 0:
        code = int.from_bytes(data[13:17], "big") if len(data) >= 17 and data[:9] == head else None
        return "goaway", {"goaway_error": _error_name(code) if code is not None else "unknown"}
    shown = head.decode("latin-1").encode("unicode_escape").decode("ascii")
    return "garbage", {"error": f"the first frame is not SETTINGS (type {frame_type:#x}): {shown!r}"}


def _error_name(code: int) -> str:
    try:
        return str(h2_errors.ErrorCodes(code).name)
    except ValueError:
        return hex(code)


def _name(value: Any) -> str:
    return str(getattr(value, "name", value))
