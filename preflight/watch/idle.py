"""The idle-timeout probe: TLS connections to the service endpoints (directly, or through the proxy the connector
uses) opened together and held idle for increasing times, each then asked to carry one HTTP request. A NAT or a
stateful firewall that forgot an idle flow drops the request silently (`dropped`) or answers it with a reset
(`reset`); a middlebox or the server may also close the connection while it idles (`closed`, with when). The
largest hold that still carried data and the first that did not bound the path's idle timeout, within the
ladder's resolution. The connector keeps long-lived outbound connections to the service; Microsoft publishes no
keep-alive interval for it, so the idle time it needs is a setting (--idle-needed), by default Azure Firewall's
north-south TCP idle timeout of 4 minutes (Microsoft Learn, "Azure Firewall long running sessions").

`observe` does the I/O (asyncio, every wait bounded); `judge` is pure."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import ssl
import time
from collections.abc import Sequence
from typing import Any, Literal

from preflight.model import Finding, Target
from preflight.watch.codes import IDLE_CODES

DEFAULT_LADDER_S = (30.0, 60.0, 120.0, 240.0, 300.0, 600.0, 900.0, 1800.0)
DEFAULT_NEEDED_S = 240.0
MAX_HOLDS = 16  # per path
MAX_PATHS = 4

HoldOutcome = Literal["alive", "dropped", "reset", "closed", "refused", "not_opened", "not_reached"]


@dataclasses.dataclass(frozen=True)
class IdlePath:
    """One endpoint and the route the connector takes to it."""

    host: str
    port: int
    proxy: Any = None  # ProxyConfig | None
    send_credentials: bool = False
    addresses: tuple[str, ...] = ()  # what the round's DNS check resolved the host to (else getaddrinfo's)

    @property
    def label(self) -> str:
        return f"via {self.proxy.display}" if self.proxy is not None else "direct"


@dataclasses.dataclass(frozen=True)
class Hold:
    seconds: float
    outcome: HoldOutcome
    detail: str = ""
    closed_after_s: float | None = None
    address: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class IdleObservation:
    path: IdlePath
    holds: tuple[Hold, ...]


def ladder_within(ladder: Sequence[float], available_s: float, timeout: float) -> tuple[float, ...]:
    """The holds that can finish inside the watch: each needs its time, a connect and an answer (3 x timeout)."""
    fitting = sorted({s for s in ladder if s > 0 and s + 3 * timeout <= available_s})
    return tuple(fitting[:MAX_HOLDS])


async def observe(path: IdlePath, holds: Sequence[float], timeout: float, stop: asyncio.Event) -> IdleObservation:
    """Every hold of the ladder on one path, at once; each bounded by its hold, `timeout` per wait, and `stop`."""
    done = await asyncio.gather(*(_hold(path, seconds, timeout, stop) for seconds in holds))
    return IdleObservation(path, tuple(done))


async def _open(path: IdlePath, timeout: float) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, str]:
    from preflight.probes.proxy import open_tunnel

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the path is judged here, not the chain (tls.interception does that)
    context.set_alpn_protocols(["http/1.1"])
    loop = asyncio.get_running_loop()
    if path.proxy is None and path.addresses:
        address = path.addresses[0]
    else:
        target_host = path.proxy.host if path.proxy is not None else path.host
        target_port = path.proxy.port if path.proxy is not None else path.port
        async with asyncio.timeout(timeout):
            infos = await loop.getaddrinfo(target_host, target_port, type=socket.SOCK_STREAM)
        address = str(infos[0][4][0])
    if path.proxy is None:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(address, path.port, ssl=context, server_hostname=path.host)
        return reader, writer, address
    result, streams = await open_tunnel(
        path.proxy, address, path.host, path.port, timeout, send_credentials=path.send_credentials
    )
    if streams is None:
        raise ConnectionError(f"CONNECT through {result.proxy}: {result.outcome} {result.status or ''}".strip())
    reader, writer = streams
    async with asyncio.timeout(timeout):
        await writer.start_tls(context, server_hostname=path.host)
    return reader, writer, address


async def _hold(path: IdlePath, seconds: float, timeout: float, stop: asyncio.Event) -> Hold:
    try:
        reader, writer, address = await _open(path, timeout)
    except (OSError, ssl.SSLError, TimeoutError, ConnectionError, IndexError) as exc:
        return Hold(seconds, "not_opened", _describe(exc))
    try:
        return await _idle_then_ask(path, seconds, timeout, stop, reader, writer, address)
    finally:
        writer.transport.abort()


async def _idle_then_ask(
    path: IdlePath,
    seconds: float,
    timeout: float,
    stop: asyncio.Event,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    address: str,
) -> Hold:
    started = time.monotonic()
    stopper = asyncio.ensure_future(stop.wait())
    try:
        while (left := seconds - (time.monotonic() - started)) > 0:
            reading = asyncio.ensure_future(reader.read(4096))
            await asyncio.wait({reading, stopper}, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            if stopper.done():
                reading.cancel()
                return Hold(seconds, "not_reached", "the watch ended before this hold", address=address)
            if not reading.done():
                reading.cancel()
                with contextlib.suppress(asyncio.CancelledError, OSError, ssl.SSLError):
                    await reading
                break
            after = round(time.monotonic() - started, 1)
            try:
                data = reading.result()
            except (ConnectionResetError, BrokenPipeError) as exc:
                return Hold(seconds, "reset", f"reset while idle: {_describe(exc)}", after, address)
            except ssl.SSLError as exc:
                if _is_alert(exc):  # the server ended the session (a TLS 1.3 server asks for its client certificate)
                    return Hold(seconds, "refused", f"TLS alert from the server: {_describe(exc)}", after, address)
                return Hold(seconds, "closed", f"ended while idle: {_describe(exc)}", after, address)
            except OSError as exc:
                return Hold(seconds, "closed", f"ended while idle: {_describe(exc)}", after, address)
            if not data:
                return Hold(seconds, "closed", "the other end closed the connection while it idled", after, address)
    finally:
        stopper.cancel()
    request = f"HEAD / HTTP/1.1\r\nHost: {path.host}\r\nUser-Agent: connector-preflight\r\nConnection: close\r\n\r\n"
    try:
        async with asyncio.timeout(timeout):
            writer.write(request.encode("ascii", "replace"))
            await writer.drain()
            answer = await reader.read(64)
    except TimeoutError:
        return Hold(seconds, "dropped", f"no answer within {timeout:g}s after {seconds:g}s idle", address=address)
    except (ConnectionResetError, BrokenPipeError) as exc:
        return Hold(seconds, "reset", f"reset when used after {seconds:g}s idle: {_describe(exc)}", address=address)
    except ssl.SSLError as exc:
        if _is_alert(exc):
            return Hold(seconds, "refused", f"TLS alert from the server: {_describe(exc)}", address=address)
        return Hold(seconds, "reset", f"failed when used after {seconds:g}s idle: {_describe(exc)}", address=address)
    except OSError as exc:
        return Hold(seconds, "reset", f"failed when used after {seconds:g}s idle: {_describe(exc)}", address=address)
    if not answer:
        return Hold(seconds, "closed", f"closed when used after {seconds:g}s idle", address=address)
    return Hold(seconds, "alive", answer.split(b"\r\n", 1)[0][:60].decode("latin-1"), address=address)


def _is_alert(exc: ssl.SSLError) -> bool:
    """A TLS alert the peer sent (OpenSSL's reason names it: TLSV13_ALERT_CERTIFICATE_REQUIRED, SSLV3_ALERT_...)."""
    return "ALERT" in str(getattr(exc, "reason", "") or "").upper()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:200]


_FAILED = {"dropped": "idle.dropped", "reset": "idle.reset", "closed": "idle.closed"}


def judge(observation: IdleObservation, needed_s: float) -> Finding:
    """The path's verdict from its holds. The idle timeout lies between the longest hold that carried data and
    the shortest that did not; what matters is whether that is below the connector's need."""
    holds = sorted(observation.holds, key=lambda h: h.seconds)
    path = observation.path
    evidence: dict[str, Any] = {
        "host": path.host,
        "port": path.port,
        "path": path.label,
        "needed_s": needed_s,
        "holds": [h.to_json() for h in holds],
    }
    alive = [h for h in holds if h.outcome == "alive"]
    failed = [h for h in holds if h.outcome in _FAILED]
    survived = max((h.seconds for h in alive), default=None)
    evidence["longest_survived_s"] = survived
    if failed:
        first = failed[0]
        limit = first.closed_after_s if first.closed_after_s is not None else first.seconds
        evidence["first_failed_s"] = first.seconds
        evidence["resolution"] = (
            f"between {survived:g}s and {limit:g}s"
            if survived is not None and survived < limit
            else f"below {limit:g}s"
        )
        if limit < needed_s:
            code = _FAILED[first.outcome]
            lower = f"{survived:g}s idle survived, " if survived is not None else ""
            summary = (
                f"{path.label} to {path.host}:{path.port}: {lower}{first.seconds:g}s did not ({first.outcome}: "
                f"{first.detail}); the connector needs {needed_s:g}s"
            )
            return IDLE_CODES.finding(code, summary, evidence)
    if survived is not None and survived >= needed_s:
        beyond = f"; {failed[0].outcome} after {failed[0].seconds:g}s" if failed else ""
        summary = f"{path.label} to {path.host}:{path.port}: {survived:g}s idle still carried data{beyond}"
        return IDLE_CODES.finding("idle.ok", summary, evidence)
    if survived is not None:
        summary = (
            f"{path.label} to {path.host}:{path.port}: {survived:g}s idle survived, the longest hold that finished; "
            f"the connector needs {needed_s:g}s"
        )
        return IDLE_CODES.finding("idle.inconclusive", summary, evidence)
    if any(h.outcome == "not_reached" for h in holds):
        summary = f"{path.label} to {path.host}:{path.port}: the watch ended before any hold finished"
        return IDLE_CODES.finding("idle.inconclusive", summary, evidence)
    refused = sorted({h.detail for h in holds if h.outcome == "refused"})
    if refused:
        summary = (
            f"{path.label} to {path.host}:{path.port}: the server ended every session with a TLS alert "
            f"({refused[0][:160]}): it may require a client certificate (mutual TLS), so idle times cannot be "
            "measured here; give --idle-target an endpoint on the same path that does not"
        )
        return IDLE_CODES.finding("idle.unreachable", summary, evidence)
    reasons = sorted({h.detail for h in holds if h.outcome == "not_opened"})
    summary = f"{path.label} to {path.host}:{path.port}: no connection could be opened ({'; '.join(reasons)[:200]})"
    return IDLE_CODES.finding("idle.unreachable", summary, evidence)


def target_of(path: IdlePath) -> Target:
    return Target(host=path.host, port=path.port, roles=("service",))
