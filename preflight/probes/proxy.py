"""HTTP CONNECT through a proxy, written on asyncio streams: httpx folds 403/407/502 into one exception, and the
status, the proxy's headers and its error page are the evidence here.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from preflight import lazy
from preflight.probes.http import page_title

if TYPE_CHECKING:
    import asyncio
else:
    asyncio = lazy.module("asyncio")


if TYPE_CHECKING:
    from preflight.proxy import ProxyConfig

TunnelOutcome = Literal["ok", "auth_required", "denied", "bad_gateway", "unreachable", "timeout", "bad_response"]

MAX_HEADER_BYTES = 16 * 1024
MAX_ERROR_BODY = 64 * 1024

Streams = tuple["asyncio.StreamReader", "asyncio.StreamWriter"]  # forward references: asyncio loads on first use


@dataclasses.dataclass(frozen=True)
class TunnelResult:
    proxy: str  # display form, credentials redacted
    proxy_address: str
    host: str
    port: int
    outcome: TunnelOutcome
    status: int | None = None
    reason: str | None = None
    proxy_authenticate: tuple[str, ...] = ()
    server: str | None = None
    title: str | None = None
    error: str | None = None
    sent_credentials: bool = False
    elapsed_ms: float | None = None

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["proxy_authenticate"] = list(self.proxy_authenticate)
        return data


@dataclasses.dataclass(frozen=True)
class Carrier:
    """What carries traffic to one host and port through a proxy list: every CONNECT tried, in the list's order,
    and the entry the connector ends up on: `proxy`, or a DIRECT entry (`direct`); neither when no entry could be
    connected to. A proxy that could not be connected to is passed over, as the connector does; one that answered,
    even with a refusal, is where the connector stays (its answer is the last of `tried`)."""

    tried: tuple[TunnelResult, ...]
    proxy: ProxyConfig | None
    direct: bool = False

    @property
    def via(self) -> str | None:
        """How reports name the carrier: the proxy's display form, "direct", or None."""
        return "direct" if self.direct else self.proxy.display if self.proxy is not None else None

    @property
    def failed_over(self) -> bool:
        return len(self.tried) > 1 or (self.direct and bool(self.tried))


def passes_over(result: TunnelResult) -> bool:
    """Whether a client moves on to the next entry of a proxy list: the proxy could not be connected to."""
    return result.outcome == "unreachable"


async def follow_list(
    entries: Sequence[ProxyConfig | None], tunnel: Callable[[ProxyConfig], Awaitable[TunnelResult]]
) -> Carrier:
    """A proxy list walked as the connector walks it: each proxy's CONNECT (`tunnel`) until one can be connected
    to, a DIRECT entry (None) ending the walk."""
    tried: list[TunnelResult] = []
    for entry in entries:
        if entry is None:
            return Carrier(tuple(tried), None, direct=True)
        tried.append(await tunnel(entry))
        if not passes_over(tried[-1]):
            return Carrier(tuple(tried), entry)
    return Carrier(tuple(tried), None)


def classify_status(status: int) -> TunnelOutcome:
    if 200 <= status < 300:
        return "ok"
    if status == 407:
        return "auth_required"
    if status in (502, 503, 504):
        return "bad_gateway"
    return "denied"


async def open_tunnel(
    proxy: ProxyConfig, proxy_address: str, host: str, port: int, timeout: float, *, send_credentials: bool = False
) -> tuple[TunnelResult, Streams | None]:
    """CONNECT host:port; on success the open streams are returned (the caller closes them)."""
    start = time.monotonic()

    def result_of(outcome: TunnelOutcome, **details: Any) -> TunnelResult:
        return TunnelResult(proxy.display, proxy_address, host, port, outcome, **details)

    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(proxy_address, proxy.port, limit=MAX_HEADER_BYTES)
    except TimeoutError:
        return result_of("unreachable", error=f"no TCP answer from the proxy within {timeout:g}s"), None
    except OSError as exc:
        return result_of("unreachable", error=f"{type(exc).__name__}: {exc.strerror or exc}"), None
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}", "User-Agent: connector-preflight"]
    credentials = send_credentials and proxy.has_credentials
    if credentials:
        token = base64.b64encode(f"{proxy.username}:{proxy.password or ''}".encode()).decode("ascii")
        lines.append(f"Proxy-Authorization: Basic {token}")
    try:
        async with asyncio.timeout(timeout):
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
    except TimeoutError:
        _close(writer)
        return result_of(
            "timeout", error=f"no answer to CONNECT within {timeout:g}s", sent_credentials=credentials
        ), None
    except (asyncio.LimitOverrunError, ValueError):
        _close(writer)
        return result_of(
            "bad_response", error=f"headers larger than {MAX_HEADER_BYTES} bytes", sent_credentials=credentials
        ), None
    except (asyncio.IncompleteReadError, OSError) as exc:
        _close(writer)
        return result_of(
            "bad_response", error=f"connection closed before a response: {exc}", sent_credentials=credentials
        ), None
    elapsed = round((time.monotonic() - start) * 1000, 2)
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not (parts[1].isascii() and parts[1].isdigit()):
        _close(writer)
        return result_of(
            "bad_response",
            error=f"not an HTTP response: {status_line[:80]!r}",
            sent_credentials=credentials,
            elapsed_ms=elapsed,
        ), None
    status = int(parts[1])
    reason = parts[2] if len(parts) > 2 else ""
    headers = [line.split(":", 1) for line in header_lines if ":" in line]
    authenticate = tuple(v.strip().split(" ")[0] for k, v in headers if k.strip().lower() == "proxy-authenticate")
    server = next((v.strip()[:100] for k, v in headers if k.strip().lower() in ("server", "via")), None)
    outcome = classify_status(status)
    result = result_of(
        outcome,
        status=status,
        reason=reason[:100],
        proxy_authenticate=authenticate,
        server=server,
        sent_credentials=credentials,
        elapsed_ms=elapsed,
    )
    if outcome == "ok":
        return result, (reader, writer)
    body = b""
    with contextlib.suppress(TimeoutError, OSError, asyncio.IncompleteReadError):
        async with asyncio.timeout(min(timeout, 2.0)):
            body = await reader.read(MAX_ERROR_BODY)
    _close(writer)
    return dataclasses.replace(result, title=page_title(body)), None


def tunnel_opener(
    proxy: ProxyConfig, proxy_address: str, host: str, port: int, timeout: float, *, send_credentials: bool
) -> Callable[[], Awaitable[Streams]]:
    """A connect function for the TLS probe: each call opens a fresh tunnel or raises ConnectionError."""

    async def connect() -> Streams:
        result, streams = await open_tunnel(
            proxy, proxy_address, host, port, timeout, send_credentials=send_credentials
        )
        if streams is None:
            raise ConnectionError(f"CONNECT through {result.proxy} failed: {result.outcome} {result.status or ''}")
        return streams

    return connect


def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.transport.abort()
