"""TLS observation: one handshake with SNI to one address and port, never verifying, so that the served chain
is captured even when it would not validate. Verification happens offline, in the checks.

If a modern handshake (TLS >= 1.2) is refused with a protocol-version error, a second, legacy-only handshake
(TLS 1.0/1.1, @SECLEVEL=0) tells "the server only speaks old TLS" from other refusals.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import re
import time
import warnings
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

from preflight import lazy
from preflight.netutil import is_ip_literal

if TYPE_CHECKING:
    import _ssl
    import asyncio
    import socket
    import ssl
else:
    asyncio = lazy.module("asyncio")
    ssl = lazy.module("ssl")
    socket = lazy.module("socket")
    _ssl = lazy.module("_ssl")


ALPN = ["h2", "http/1.1"]
MAX_CHAIN = 20  # certificates kept from a served chain; OpenSSL itself caps the handshake message size

_PROTOCOL_REASONS = (
    "UNSUPPORTED_PROTOCOL",
    "TLSV1_ALERT_PROTOCOL_VERSION",
    "NO_PROTOCOLS_AVAILABLE",
    "WRONG_SSL_VERSION",
    "VERSION_TOO_LOW",
)
_NOT_TLS_REASONS = (
    "WRONG_VERSION_NUMBER",
    "HTTP_REQUEST",
    "HTTPS_PROXY_REQUEST",
    "PACKET_LENGTH_TOO_LONG",
    "RECORD_LAYER_FAILURE",
    "UNKNOWN_PROTOCOL",
    "RECORD_LENGTH_MISMATCH",
    "BAD_RECORD_TYPE",
)

HandshakeOutcome = Literal[
    "ok", "protocol_too_old", "reset", "closed", "alert", "timeout", "not_tls", "connect_failed", "error"
]


@dataclasses.dataclass(frozen=True)
class Handshake:
    address: str
    port: int
    sni: str
    outcome: HandshakeOutcome
    version: str | None = None
    cipher: str | None = None
    alpn: str | None = None
    chain: tuple[bytes, ...] = ()  # DER, as served (leaf first)
    chain_complete: bool = True  # False when only the leaf could be read
    alert: str | None = None
    error: str | None = None
    legacy_version: str | None = None  # what a legacy-only retry negotiated
    connect_ms: float | None = None
    handshake_ms: float | None = None
    # A failed handshake: how many bytes the peer sent before it ended (None: not known), and, when those bytes
    # were an HTTP response instead of a ServerHello, its status and page title (a middlebox's block page)
    received_bytes: int | None = None
    http_status: int | None = None
    page_title: str | None = None

    def to_json(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it would deep-copy the chain only for it to be dropped, per handshake.
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "chain"}
        data["chain_length"] = len(self.chain)
        return data


def classify_ssl_error(reason: str | None, message: str) -> HandshakeOutcome:
    """Map an OpenSSL failure to an outcome. Pure."""
    text = f"{reason or ''} {message}".upper()
    if any(r in text for r in _PROTOCOL_REASONS):
        return "protocol_too_old"
    if any(r in text for r in _NOT_TLS_REASONS):
        return "not_tls"
    if "EOF" in text or "UNEXPECTED_EOF" in text:
        return "closed"
    if "ALERT" in text:
        return "alert"
    return "error"


def alert_name(reason: str | None) -> str | None:
    if reason and "ALERT" in reason:
        return reason.split("ALERT_", 1)[-1].lower()
    return None


@functools.cache  # one per process: building a context per handshake cost time and ~50 KB that lingered
def modern_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # observe first, judge offline
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(ALPN)
    return ctx


@functools.cache
def legacy_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():  # deliberately old: this context only proves the server is outdated
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    return ctx


def served_chain(ssl_object: Any) -> tuple[tuple[bytes, ...], bool]:
    """The chain as served. Public API from Python 3.13; the private one on 3.11/3.12; else the leaf only."""
    getter = getattr(ssl_object, "get_unverified_chain", None)
    if getter is None:
        inner = getattr(ssl_object, "_sslobj", None)
        getter = getattr(inner, "get_unverified_chain", None)
    if getter is not None:
        try:
            raw = getter() or []
            chain = tuple(c if isinstance(c, bytes) else c.public_bytes(_ssl.ENCODING_DER) for c in raw[:MAX_CHAIN])
            if chain:
                return chain, True
        except (ssl.SSLError, AttributeError, TypeError, ValueError):
            pass
    leaf = ssl_object.getpeercert(binary_form=True)
    return ((leaf,) if leaf else ()), False


# Forward references: the alias is built at import, and asyncio is loaded only when a probe runs.
Opener = Callable[[], Awaitable[tuple["asyncio.StreamReader", "asyncio.StreamWriter"]]]


@dataclasses.dataclass(frozen=True)
class Connected:
    """A connection the TCP probe opened and handed over, and how long its connect took."""

    sock: socket.socket
    connect_ms: float | None


async def handshake(
    address: str,
    port: int,
    sni: str,
    timeout: float,
    *,
    legacy: bool = False,
    opener: Opener | None = None,
    connection: Connected | None = None,
) -> Handshake:
    """`address` labels the path; `opener`, when given, provides the connected streams (a proxy tunnel);
    `connection`, a direct connection already open to address:port (which the handshake then owns and closes)."""
    start = time.monotonic()
    if opener is None:
        return await _direct_handshake(address, port, sni, timeout, legacy, start, connection)
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await opener()  # through a proxy tunnel: the streams are given
    except TimeoutError:
        return Handshake(address, port, sni, "connect_failed", error=f"connect: no answer within {timeout:g}s")
    except OSError as exc:
        return Handshake(address, port, sni, "connect_failed", error=f"connect: {exc.strerror or exc}")
    connected = time.monotonic()
    connect_ms = round((connected - start) * 1000, 2)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    ctx = legacy_context() if legacy else modern_context()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname=sni if not is_ip_literal(sni) else None)
    seen = bytearray()

    async def send(data: bytes) -> None:
        writer.write(data)
        await writer.drain()

    try:
        async with asyncio.timeout(timeout):
            await _drive(tls, incoming, outgoing, send, lambda: reader.read(65536), seen)
    except _handshake_failures() as exc:
        _abort(writer)
        return _failed_handshake(address, port, sni, exc, timeout, connect_ms, bytes(seen))
    handshake_ms = round((time.monotonic() - connected) * 1000, 2)
    finished = outgoing.read()  # TLS 1.3: the client's Finished, so the server logs a completed handshake
    if finished:
        writer.write(finished)
    chain, complete = served_chain(tls)
    cipher = tls.cipher()
    result = Handshake(
        address,
        port,
        sni,
        "ok",
        version=tls.version(),
        cipher=cipher[0] if cipher else None,
        alpn=tls.selected_alpn_protocol(),
        chain=chain,
        chain_complete=complete,
        connect_ms=connect_ms,
        handshake_ms=handshake_ms,
    )
    _abort(writer)
    return result


MAX_SEEN = 8192  # bytes of what the peer sent kept to recognise an HTTP answer (a block page's status and title)


async def _drive(
    tls: Any,
    incoming: Any,
    outgoing: Any,
    send: Callable[[bytes], Awaitable[None]],
    recv: Callable[[], Awaitable[bytes]],
    seen: bytearray,
) -> None:
    """Run a client handshake through memory BIOs, whatever carries the bytes (a socket or a proxy's tunnel),
    keeping the first MAX_SEEN bytes the peer sent."""
    while True:
        try:
            tls.do_handshake()
            return
        except ssl.SSLWantReadError:
            pending = outgoing.read()
            if pending:
                await send(pending)
            data = await recv()
            if not data:
                raise EOFError from None
            if len(seen) < MAX_SEEN:
                seen += data[: MAX_SEEN - len(seen)]
            incoming.write(data)


def _handshake_failures() -> tuple[type[BaseException], ...]:
    return (TimeoutError, ssl.SSLError, OSError, EOFError, asyncio.IncompleteReadError)


def _failed_handshake(
    address: str,
    port: int,
    sni: str,
    exc: BaseException,
    timeout: float,
    connect_ms: float | None,
    received: bytes | None = None,
) -> Handshake:
    """The outcome of a handshake that raised, with what the peer sent before it ended (None: not known)."""
    http = http_answer(received or b"")

    def failed(outcome: HandshakeOutcome, error: str, alert: str | None = None) -> Handshake:
        if http is not None:  # whatever OpenSSL made of it (WRONG_VERSION_NUMBER, a length error, EOF)
            outcome, error = "not_tls", f"an HTTP answer instead of a ServerHello ({error})"
        return Handshake(
            address,
            port,
            sni,
            outcome,
            alert=alert,
            error=error,
            connect_ms=connect_ms,
            received_bytes=None if received is None else len(received),
            http_status=http[0] if http else None,
            page_title=http[1] if http else None,
        )

    if isinstance(exc, TimeoutError) or (isinstance(exc, ConnectionAbortedError) and "taking longer" in str(exc)):
        return failed("timeout", f"handshake not finished within {timeout:g}s")  # the latter: asyncio's own
    if isinstance(exc, ConnectionResetError):
        return failed("reset", str(exc) or "connection reset")
    if isinstance(exc, ConnectionAbortedError):
        return failed("closed", f"connection aborted during the handshake: {exc}")
    if isinstance(exc, ssl.SSLError):
        reason = getattr(exc, "reason", None)
        return failed(
            classify_ssl_error(reason, str(exc)), f"{reason or type(exc).__name__}: {exc}", alert_name(reason)
        )
    if isinstance(exc, (asyncio.IncompleteReadError, BrokenPipeError, EOFError)):
        return failed("closed", f"{type(exc).__name__}: connection closed during the handshake")
    windows = _WINDOWS_HANDSHAKE_ERRORS.get(getattr(exc, "winerror", None) or 0)
    if windows is not None:  # a plain OSError on Windows: its winerror says what happened
        return failed(windows, f"{type(exc).__name__}: {exc}")
    return failed("error", f"{type(exc).__name__}: {exc}")


_HTTP_STATUS_LINE = re.compile(rb"HTTP/\d(?:\.\d)? (\d{3})[ \r\n]")


def http_answer(data: bytes) -> tuple[int, str | None] | None:
    """(status, page title) when the bytes a TLS client got back are an HTTP response. Pure."""
    from preflight.probes.http import page_title

    match = _HTTP_STATUS_LINE.match(data)
    if match is None:
        return None
    return int(match.group(1)), page_title(data)


# Windows errors that can end a handshake as a plain OSError (the proactor turns most into ConnectionReset/
# AbortedError, not all): a reset, an abort by this host's stack, a timeout.
_WINDOWS_HANDSHAKE_ERRORS: dict[int, HandshakeOutcome] = {
    64: "reset",
    10054: "reset",
    1236: "closed",
    10053: "closed",
    121: "timeout",
    1460: "timeout",
    10060: "timeout",
}


async def _direct_handshake(
    address: str, port: int, sni: str, timeout: float, legacy: bool, start: float, given: Connected | None
) -> Handshake:
    """The handshake on a plain non-blocking socket through memory BIOs. Streams would work too, but their closed
    transports linger in reference cycles until a full garbage collection, holding OpenSSL's buffers: tens of
    kilobytes per endpoint at thousands of endpoints."""
    loop = asyncio.get_running_loop()
    if given is not None:
        sock, connect_ms = given.sock, given.connect_ms
    else:
        try:
            family, _type, _proto, _name, sockaddr = socket.getaddrinfo(
                address, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST
            )[0]
        except (OSError, UnicodeError) as exc:
            return Handshake(address, port, sni, "connect_failed", error=f"connect: {exc}")
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
    try:
        if given is None:
            try:
                async with asyncio.timeout(timeout):
                    await loop.sock_connect(sock, sockaddr)
            except TimeoutError:
                return Handshake(address, port, sni, "connect_failed", error=f"connect: no answer within {timeout:g}s")
            except OSError as exc:
                return Handshake(address, port, sni, "connect_failed", error=f"connect: {exc.strerror or exc}")
            connect_ms = round((time.monotonic() - start) * 1000, 2)
        connected = time.monotonic()
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        ctx = legacy_context() if legacy else modern_context()
        tls = ctx.wrap_bio(incoming, outgoing, server_hostname=sni if not is_ip_literal(sni) else None)
        seen = bytearray()

        async def send(data: bytes) -> None:
            await loop.sock_sendall(sock, data)

        async def recv() -> bytes:
            return await loop.sock_recv(sock, 65536)

        try:
            async with asyncio.timeout(timeout):
                await _drive(tls, incoming, outgoing, send, recv, seen)
        except _handshake_failures() as exc:
            return _failed_handshake(address, port, sni, exc, timeout, connect_ms, bytes(seen))
        finished = outgoing.read()  # TLS 1.3: the client's Finished, so the server logs a completed handshake
        if finished:
            with contextlib.suppress(OSError):
                sock.send(finished)  # a few dozen bytes into an empty send buffer: no wait
        chain, complete = served_chain(tls)
        cipher = tls.cipher()
        handshake_ms = round((time.monotonic() - connected) * 1000, 2)
        return Handshake(
            address,
            port,
            sni,
            "ok",
            version=tls.version(),
            cipher=cipher[0] if cipher else None,
            alpn=tls.selected_alpn_protocol(),
            chain=chain,
            chain_complete=complete,
            connect_ms=connect_ms,
            handshake_ms=handshake_ms,
        )
    finally:
        sock.close()


async def observe(
    address: str,
    port: int,
    sni: str,
    timeout: float,
    *,
    opener: Opener | None = None,
    connection: Connected | None = None,
) -> Handshake:
    """A modern handshake, plus a legacy retry when the refusal was about the protocol version.

    On a connection handed over by the TCP probe, a peer that closed or reset before answering is asked again on a
    new connection: the handed-over one may have idled out while it waited, and a device that resets on the
    ClientHello does so on the new connection too, so the verdict does not depend on which connection was used."""
    modern = await handshake(address, port, sni, timeout, opener=opener, connection=connection)
    if connection is not None and modern.outcome in ("closed", "reset"):
        modern = await handshake(address, port, sni, timeout, opener=opener)
    if modern.outcome not in ("protocol_too_old", "alert", "closed", "reset"):
        return modern
    legacy = await handshake(address, port, sni, timeout, legacy=True, opener=opener)
    if legacy.outcome == "ok":
        return dataclasses.replace(
            modern,
            outcome="protocol_too_old",
            legacy_version=legacy.version,
            chain=legacy.chain,
            chain_complete=legacy.chain_complete,
            cipher=legacy.cipher,
        )
    if modern.outcome == "protocol_too_old":
        return dataclasses.replace(modern, outcome="alert")  # refused both: an alert, not proof of old TLS
    return modern


def _abort(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.transport.abort()
