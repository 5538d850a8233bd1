"""`tls.http2`: does each path the connector's tunnel takes to the service carry HTTP/2?

Microsoft's Global Secure Access troubleshooting notes (microsoft/GlobalSecureAccess, Troubleshooting/
PrivateNetworkConnector.md): the connector "uses GRPC and mutual TLS authentication to connect to the Private
Access cloud service", so it "might show Active" and still fail Private Access. gRPC needs HTTP/2 end to end: an
inspecting proxy or a filter that answers http/1.1, drops frames or ends the connection breaks the tunnel while
TLS looks fine. Which endpoints carry the tunnel is the profile's to say (settings `hosts` and `exclude`,
patterns); the embedded Private Access profile names the service's certificate name, *.msappproxy.net, less the
bootstrap endpoint (which is not the tunnel: nothing says it speaks HTTP/2).
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from preflight import CodeDoc, Codes, Finding, ObservingCheck, Status, Target

if TYPE_CHECKING:
    from preflight import Plan
    from preflight.context import Context
    from preflight.probes.http2 import Http2Exchange

CODES = Codes(
    {
        "http2.ok": CodeDoc(
            Status.PASS,
            "Every path to this endpoint carries HTTP/2: ALPN selected h2 and the server's SETTINGS came back.",
            "A TLS handshake offering h2 and http/1.1 selected h2, then the client connection preface and SETTINGS "
            "were answered by the server's SETTINGS frame (checked by the h2 library), directly or through the "
            "connector's proxy.",
            "Nothing to do.",
        ),
        "http2.not_negotiated": CodeDoc(
            Status.FAIL,
            "The path does not offer HTTP/2: ALPN selected http/1.1 or nothing, so the connector's gRPC tunnel "
            "cannot run on it although TLS works.",
            "The TLS handshake offering h2 and http/1.1 ended with another protocol (or none) selected.",
            "A proxy or inspection device in the path speaks HTTP/1.1 to the connector: exempt this FQDN from TLS "
            "inspection (Microsoft does not support inspecting connector traffic) or let it pass HTTP/2 untouched.",
        ),
        "http2.broken": CodeDoc(
            Status.FAIL,
            "HTTP/2 was negotiated, but the connection preface and SETTINGS exchange did not get through: the server "
            "side sent something that is not HTTP/2, ended the connection (GOAWAY or close) or stayed silent.",
            "After ALPN h2, the h2 library found a protocol error in what came back, a GOAWAY, a close, or no "
            "SETTINGS frame within --timeout (the outcome and error are in the evidence).",
            "Something between this host and the service rewrites or filters HTTP/2 frames: find the device on this "
            "path (the proxy in the evidence, or a firewall with an application filter) and let HTTP/2 through.",
        ),
    }
)

_PRIORITY = ("http2.broken", "http2.not_negotiated", "http2.ok")
_BROKEN = ("goaway", "garbage", "silent", "closed")


def code_of(exchange: Http2Exchange) -> str | None:
    """The code for one path's exchange; None when TLS itself did not get there (tls.handshake says why). Pure."""
    if exchange.outcome == "ok":
        return "http2.ok"
    if exchange.outcome == "no_h2":
        return "http2.not_negotiated"
    if exchange.outcome in _BROKEN:
        return "http2.broken"
    return None


@dataclasses.dataclass(frozen=True)
class Http2Observed:
    host: str
    port: int
    exchanges: tuple[Http2Exchange, ...]
    upstream: str | None = None  # tls.handshake, when no path got as far as HTTP/2


def judge(seen: Http2Observed) -> Finding:
    """The worst path decides; paths TLS did not complete are left to tls.handshake. Pure."""
    where = f"{seen.host}:{seen.port}"
    judged = [(e, code_of(e)) for e in seen.exchanges]
    coded = [(e, c) for e, c in judged if c is not None]
    evidence: dict[str, Any] = {"host": seen.host, "port": seen.port, "paths": [e.to_json() for e in seen.exchanges]}
    if not coded:
        why = "; ".join(f"{e.path}: {e.error or e.outcome}" for e in seen.exchanges) or "no path opened"
        return Finding(Status.SKIP, "run.upstream", f"{where}: TLS did not complete ({why})", caused_by=seen.upstream)
    code = next(c for c in _PRIORITY if any(c == got for _, got in coded))
    first = next(e for e, c in coded if c == code)
    others = sorted({f"{e.path} {c}" for e, c in coded if c != code})
    tail = f" (other paths: {', '.join(others)})" if others else ""
    if code == "http2.ok":
        limit = (first.settings or {}).get("MAX_CONCURRENT_STREAMS")
        streams = f", MAX_CONCURRENT_STREAMS {limit}" if limit is not None else ""
        summary = f"{where} HTTP/2 on {len(coded)} path(s): h2 selected, SETTINGS answered{streams}{tail}"
    elif code == "http2.not_negotiated":
        summary = f"{where} {first.path}: ALPN selected {first.alpn or 'nothing'}, not h2: no gRPC tunnel{tail}"
    else:
        said = f"GOAWAY {first.goaway_error}" if first.outcome == "goaway" else (first.error or first.outcome)
        summary = f"{where} {first.path}: h2 selected, then {first.outcome}: {said}{tail}"
    return CODES.finding(code, summary, evidence)


class Http2Check(ObservingCheck[Http2Observed]):
    id = "tls.http2"
    title = "HTTP/2 to the connector's tunnel endpoints: ALPN h2 and the preface/SETTINGS exchange, on every path"
    requires = "TLS to the endpoint (tls.handshake); the profile's tls.http2 hosts"
    needs: tuple[str, ...] = ("tls.handshake",)
    codes = CODES
    settings: dict[str, Any] = {"hosts": [], "exclude": []}  # noqa: RUF012 - read-only: the engine copies what it overrides

    def targets(self, plan: Plan) -> Iterable[Target]:
        settings = plan.settings_for(self)
        patterns, excluded = _patterns(settings.get("hosts", [])), _patterns(settings.get("exclude", []))
        return [
            t
            for t in plan.port_targets(tls_only=True)
            if any(_matches(t.host, p) for p in patterns) and not any(_matches(t.host, p) for p in excluded)
        ]

    async def observe(self, target: Target, ctx: Context) -> Http2Observed:
        from preflight.probes import http2

        assert target.port is not None
        exchanges = []
        for label, opener in await ctx.paths(target.host, target.port):
            async with ctx.slot(target.host):
                exchanges.append(await http2.exchange(label, target.port, target.host, ctx.timeout, opener=opener))
        return Http2Observed(target.host, target.port, tuple(exchanges), ctx.result_id_for("tls.handshake", target))

    judge = staticmethod(judge)


def _patterns(value: Any) -> Sequence[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list | tuple) else []


def _matches(host: str, pattern: str) -> bool:
    """A profile pattern against a target: '*.msappproxy.net' covers its own wildcard row and any name under it."""
    host, pattern = host.lower().rstrip("."), pattern.lower().rstrip(".")
    return host == pattern or fnmatch.fnmatchcase(host, pattern)
