"""`tls.handshake`: does each reachable address complete a TLS >= 1.2 handshake with a certificate that is valid
for the name, at the (clock-corrected) current time?

Trust (who issued it) is `tls.interception`'s question; this check is about the handshake and the leaf.

The probe is OpenSSL; the connector's TLS is Windows' SCHANNEL. On Windows, a handshake that passed here but that
this host's SCHANNEL settings would refuse (the protocol or the cipher suite, see preflight/host/schannel.py) says so
in its summary and evidence; the status stays the endpoint's (host.tls judges the host's settings).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from checks.clocksource import corrected_now
from preflight import CodeDoc, Codes, Finding, ObservingCheck, Status, Target
from preflight.host.schannel import SchannelPolicy, read_policy, refusals
from preflight.host.winhost import HostReader, default_reader
from preflight.netutil import bracketed
from preflight.pki.certs import facts, load_der, matches_host, to_pem

if TYPE_CHECKING:
    from preflight import Plan
    from preflight.context import Context
    from preflight.probes.tls import Handshake

CODES = Codes(
    {
        "tls.ok": CodeDoc(
            Status.PASS,
            "TLS 1.2 or newer was negotiated, and the certificate is valid for the name and for the current time.",
            "A handshake with SNI on every reachable address, without verification; the served leaf is then checked "
            "offline for the name (subjectAltName) and its validity period at the clock-corrected time.",
            "Nothing to do.",
        ),
        "tls.protocol_too_old": CodeDoc(
            Status.FAIL,
            "The endpoint (or a middlebox in front of it) only speaks TLS 1.0/1.1; the connector requires TLS 1.2.",
            "A TLS >= 1.2 handshake was refused with a protocol-version error and a legacy-only retry succeeded.",
            "Find the device answering with old TLS (often an inspecting proxy or an old load balancer) and enable "
            "TLS 1.2 on it; on the connector host enable TLS 1.2 in SCHANNEL and .NET (SchUseStrongCrypto).",
        ),
        "tls.reset": CodeDoc(
            Status.FAIL,
            "The connection was reset or closed right after the ClientHello: typical of SNI-based filtering.",
            "TCP connected, then the TLS handshake ended with ECONNRESET or an unexpected EOF before any ServerHello.",
            "A firewall or proxy filters this name by SNI: allow the FQDN (not only its IP addresses).",
        ),
        "tls.alert": CodeDoc(
            Status.FAIL,
            "The server (or a middlebox) refused the handshake with a TLS alert.",
            "The handshake failed with an alert (its name is in the evidence), also on a legacy retry.",
            "Read the alert: handshake_failure usually means no common cipher or a policy block on the path; "
            "unrecognized_name means the SNI is not served there.",
        ),
        "tls.timeout": CodeDoc(
            Status.FAIL,
            "TCP connected but the TLS handshake did not finish in time.",
            "start_tls did not complete within --timeout.",
            "Something on the path holds TLS traffic (inspection that stalls, or an MTU black hole): check the proxy "
            "or firewall between this host and the endpoint.",
        ),
        "tls.block_page": CodeDoc(
            Status.FAIL,
            "A middlebox answered the TLS ClientHello with an HTTP response (a block, login or error page) instead "
            "of a ServerHello: the connector's TLS to this endpoint cannot start.",
            "The bytes that came back begin with an HTTP status line (inside a proxy's CONNECT tunnel OpenSSL calls "
            "this WRONG_VERSION_NUMBER); the status and the page title are in the evidence (http_status, "
            "page_title).",
            "The page title usually names the device and the rule: ask its owner to allow this FQDN and port, "
            "without TLS inspection.",
        ),
        "tls.sni_filtered": CodeDoc(
            Status.FAIL,
            "The connection is reset right after a ClientHello naming this host, and not when the same address is "
            "asked for another name: something on the path filters this name (SNI-based filtering).",
            "TCP connected (or the proxy opened its tunnel), the handshake ended with a reset or close before the "
            "peer sent a byte; a second handshake on the same path (the same address, or a new tunnel through the "
            "same proxy to the same host) with the SNI preflight-sni-check.invalid got an answer (a certificate "
            "or an alert). Both handshakes are in the evidence.",
            "Allow the FQDN itself on the firewall's or proxy's TLS (SNI) filter, not only its IP addresses.",
        ),
        "tls.not_tls": CodeDoc(
            Status.FAIL,
            "Something answered on the TLS port but does not speak TLS (often a captive portal or an HTTP proxy).",
            "OpenSSL reported a wrong version number or a plaintext HTTP answer instead of a ServerHello.",
            "Find what answers on this address and port (captive portal, transparent HTTP proxy) and let TLS through.",
        ),
        "tls.wrong_host": CodeDoc(
            Status.FAIL,
            "The certificate served is not for this name: a captive portal, hijacked DNS, or the wrong server.",
            "The leaf's subjectAltName does not match the host name asked for (RFC 6125 matching).",
            "Check DNS for the name (dns.resolve evidence) and whether a portal or proxy answers instead of Microsoft.",
        ),
        "tls.expired": CodeDoc(
            Status.FAIL,
            "A certificate in the served chain has expired (judged at the clock-corrected time).",
            "notAfter of the leaf or a served intermediate is before the corrected current time.",
            "If the clock is right, whatever served it is not the real endpoint (or is badly maintained): check for "
            "a proxy or portal; if clock.skew reports skew, fix the clock first.",
        ),
        "tls.not_yet_valid": CodeDoc(
            Status.FAIL,
            "A certificate in the served chain is not valid yet (judged at the clock-corrected time).",
            "notBefore of the leaf or a served intermediate is after the corrected current time.",
            "Usually this host's clock is behind: see clock.skew; otherwise an inspecting proxy minted it badly.",
        ),
        "tls.no_certificate": CodeDoc(
            Status.FAIL,
            "The handshake completed but no parseable certificate was served.",
            "The served chain is empty or its leaf cannot be parsed.",
            "Something non-standard terminates TLS on the path: identify it from the address in the evidence.",
        ),
        "tls.error": CodeDoc(
            Status.FAIL,
            "The TLS handshake failed with an unexpected error.",
            "An error that is none of the above (the text is in the evidence).",
            "Read the error in the evidence.",
        ),
    }
)

_OUTCOME_CODES = {
    "protocol_too_old": "tls.protocol_too_old",
    "reset": "tls.reset",
    "closed": "tls.reset",
    "alert": "tls.alert",
    "timeout": "tls.timeout",
    "not_tls": "tls.not_tls",
    "connect_failed": "tls.error",
    "error": "tls.error",
}
# When addresses disagree, report the most telling failure.
_PRIORITY = (
    "tls.wrong_host",
    "tls.block_page",
    "tls.sni_filtered",
    "tls.not_tls",
    "tls.protocol_too_old",
    "tls.reset",
    "tls.alert",
    "tls.timeout",
    "tls.expired",
    "tls.not_yet_valid",
    "tls.no_certificate",
    "tls.error",
    "tls.ok",
)
MAX_PEM_CERTS = 10
# Another name for a second handshake to an address that reset the first one: reserved (RFC 6761), so no filter
# has a rule for it and no server has a certificate for it; only the reaction to the name differs.
SNI_PROBE_NAME = "preflight-sni-check.invalid"


def _path_word(address: str) -> str:
    return "proxy path" if address.startswith("via ") else "address"


MAX_RAW_LEAF = 16 * 1024  # bytes of an unparseable leaf kept as evidence


def judge_one(
    host: str,
    handshake: Handshake,
    now: dt.datetime,
    schannel: SchannelPolicy | None = None,
    second_sni: Handshake | None = None,
) -> tuple[str, dict[str, Any]]:
    """The code for one address's handshake, and its evidence; `second_sni` is the handshake to the same address
    with SNI_PROBE_NAME, made when this one was reset before the peer sent a byte. Pure."""
    evidence: dict[str, Any] = handshake.to_json()
    if handshake.outcome != "ok":
        if handshake.outcome == "protocol_too_old" and handshake.chain:
            evidence["chain"] = _chain_facts(handshake.chain)
        if handshake.outcome == "not_tls" and handshake.http_status is not None:
            return "tls.block_page", evidence
        if handshake.outcome in ("reset", "closed") and handshake.received_bytes == 0:
            evidence["reset_after_client_hello"] = True
            if second_sni is not None:
                evidence["second_sni"] = second_sni.to_json()
                if second_sni.outcome in ("ok", "alert", "not_tls", "protocol_too_old"):
                    return "tls.sni_filtered", evidence
        return _OUTCOME_CODES.get(handshake.outcome, "tls.error"), evidence
    certs = [c for c in (load_der(der) for der in handshake.chain) if c is not None]
    if not certs or load_der(handshake.chain[0]) is None:
        if handshake.chain:  # the leaf itself is unparseable: do not judge the next certificate as the leaf
            evidence["leaf_error"] = "the server's certificate cannot be parsed (malformed DER, date or extension)"
            evidence["leaf_der_base64"] = base64.b64encode(handshake.chain[0][:MAX_RAW_LEAF]).decode()
        return "tls.no_certificate", evidence
    evidence["chain"] = _chain_facts(handshake.chain)
    evidence["chain_pem"] = [to_pem(c) for c in certs[:MAX_PEM_CERTS]]
    leaf = certs[0]
    if not matches_host(leaf, host):
        return "tls.wrong_host", evidence
    # Served roots are ignored for validity: clients use their own copy of an anchor.
    for cert in [leaf, *[c for c in certs[1:] if c.subject != c.issuer]]:
        if cert.not_valid_after_utc < now:
            evidence["invalid"] = {"subject": cert.subject.rfc4514_string(), "not_after": str(cert.not_valid_after_utc)}
            return "tls.expired", evidence
        if cert.not_valid_before_utc > now:
            evidence["invalid"] = {
                "subject": cert.subject.rfc4514_string(),
                "not_before": str(cert.not_valid_before_utc),
            }
            return "tls.not_yet_valid", evidence
    if schannel is not None:
        refused = refusals(handshake.version, handshake.cipher, schannel)
        if refused:
            evidence["schannel_would_refuse"] = refused
    return "tls.ok", evidence


def judge(
    host: str,
    port: int,
    handshakes: Sequence[Handshake],
    now: dt.datetime,
    schannel: SchannelPolicy | None = None,
    second_sni: Mapping[str, Handshake] | None = None,
) -> Finding:
    """The verdict for a host and port over every reachable address; `schannel` is this host's SCHANNEL
    settings on Windows (None elsewhere); `second_sni`, per address, the handshake with another name. Pure."""
    second = second_sni or {}
    per_address = {h.address: judge_one(host, h, now, schannel, second.get(h.address)) for h in handshakes}
    codes = {code for code, _ in per_address.values()}
    code = next(c for c in _PRIORITY if c in codes)
    evidence: dict[str, Any] = {
        "host": host,
        "port": port,
        "judged_at": now.isoformat(),
        "addresses": {address: {"code": c, **ev} for address, (c, ev) in per_address.items()},
    }
    first = next(ev for c, ev in per_address.values() if c == code)
    summary = _summary(host, port, code, first, per_address)
    refused = [reason for _, ev in per_address.values() for reason in ev.get("schannel_would_refuse", [])]
    if schannel is not None:
        evidence["schannel"] = schannel.to_json()
    if refused:
        more = f" (+{len(set(refused)) - 1} more)" if len(set(refused)) > 1 else ""
        summary += f"; but this host's SCHANNEL would refuse it: {refused[0]}{more}"
    return CODES.finding(code, summary, evidence)


def _summary(host: str, port: int, code: str, ev: dict[str, Any], per_address: dict[str, Any]) -> str:
    where = f"{host}:{port}"
    others = [a for a, (c, _) in per_address.items() if c != code]
    tail = f" (other addresses: {', '.join(f'{a} {per_address[a][0]}' for a in others)})" if others else ""
    leaf = (ev.get("chain") or [{}])[0]
    if code == "tls.ok":
        return f"{where} {ev['version']} {ev['cipher']}, certificate for {host} issued by {leaf.get('issuer')}{tail}"
    if code == "tls.protocol_too_old":
        return f"{where} refuses TLS 1.2+ but accepts {ev.get('legacy_version')}{tail}"
    if code == "tls.alert":
        return f"{where} handshake refused with alert {ev.get('alert') or ev.get('error')}{tail}"
    if code == "tls.block_page":
        title = ev.get("page_title")
        return (
            f"{where} answered the ClientHello with HTTP {ev.get('http_status')}"
            + (f", a page titled {title!r}" if title else "")
            + f": a middlebox's page, not TLS{tail}"
        )
    if code == "tls.sni_filtered":
        other = ev.get("second_sni", {})
        path = _path_word(str(ev.get("address") or ""))
        return (
            f"{where} is reset right after a ClientHello naming {host}; the same {path} asked for "
            f"{other.get('sni')} answers ({other.get('outcome')}): the name is filtered{tail}"
        )
    if code == "tls.reset" and ev.get("reset_after_client_hello"):
        other = ev.get("second_sni")
        path = _path_word(str(ev.get("address") or ""))
        again = (
            f"; another name on the same {path} is reset too ({other.get('outcome')}): not the name, "
            "the address or port is blocked or the server is down"
            if other
            else ""
        )
        return f"{where} reset right after the ClientHello, before the server sent a byte{again}{tail}"
    if code == "tls.wrong_host":
        names = ", ".join(leaf.get("san_dns", [])[:5]) or leaf.get("subject")
        return f"{where} served a certificate for {names}, not {host} (issuer {leaf.get('issuer')}){tail}"
    if code in ("tls.expired", "tls.not_yet_valid"):
        bad = ev.get("invalid", {})
        when = bad.get("not_after") or bad.get("not_before")
        word = "expired" if code == "tls.expired" else "not valid before"
        return f"{where} certificate {bad.get('subject')} {word} {when}{tail}"
    return f"{where} {ev.get('error') or code}{tail}"


def _chain_facts(chain: Sequence[bytes]) -> list[dict[str, Any]]:
    out = []
    for der in chain[:MAX_PEM_CERTS]:
        cert = load_der(der)
        out.append(facts(cert) if cert is not None else {"unparseable": True, "bytes": len(der)})
    return out


@dataclasses.dataclass(frozen=True)
class TlsObserved:
    """What `observe` saw for one host and port: one handshake per path (each open address, or the proxy's
    tunnel), the time to judge validity at (corrected by the run's clock measurement), and this host's SCHANNEL
    settings (None off Windows). No handshake: the check upstream that explains it."""

    host: str
    port: int
    handshakes: tuple[Handshake, ...]
    now: dt.datetime
    schannel: SchannelPolicy | None = None
    upstream: str | None = None  # tcp.connect or proxy.tunnel, when no path opened
    upstream_result: str | None = None
    # per address reset before the peer sent a byte: the handshake to it with SNI_PROBE_NAME
    second_sni: Mapping[str, Handshake] = dataclasses.field(default_factory=dict)


def judge_observed(seen: TlsObserved) -> Finding:
    """The verdict from what `observe` saw. Pure."""
    if not seen.handshakes:
        return Finding(
            Status.SKIP,
            "run.upstream",
            f"{bracketed(seen.host)}:{seen.port}: no path opened (see {seen.upstream})",
            caused_by=seen.upstream_result,
        )
    return judge(seen.host, seen.port, list(seen.handshakes), seen.now, seen.schannel, seen.second_sni)


class TlsHandshakeCheck(ObservingCheck[TlsObserved]):
    id = "tls.handshake"
    title = "TLS 1.2+ handshake with SNI on every reachable address; certificate valid for the name and time"
    requires = "outbound TCP (tcp.connect open); TLS endpoints of the profile (tls = true, or ports 443/8398)"
    needs: tuple[str, ...] = ("tcp.connect", "proxy.tunnel")
    reuses_connection = True  # the handshake runs on the connection tcp.connect opened
    codes = CODES
    reader: HostReader | None = None  # this host's registry (None: the platform's; tests set a fake)

    def targets(self, plan: Plan) -> Iterable[Target]:
        return plan.port_targets(tls_only=True)

    async def schannel(self, ctx: Context) -> SchannelPolicy | None:
        """This host's SCHANNEL settings, read once per run; None off Windows."""

        async def read() -> SchannelPolicy | None:
            reader = self.reader if self.reader is not None else default_reader()
            return read_policy(reader) if reader is not None else None

        return await ctx.memo(("schannel-policy",), read)

    async def observe(self, target: Target, ctx: Context) -> TlsObserved:
        assert target.port is not None
        handshakes = tuple(await ctx.handshakes(target.host, target.port))
        if not handshakes:
            upstream = "proxy.tunnel" if ctx.proxied(target) else "tcp.connect"
            return TlsObserved(
                target.host, target.port, (), ctx.now(), None, upstream, ctx.result_id_for(upstream, target)
            )
        second: dict[str, Handshake] = {}
        routes: dict[str, Any] | None = None
        for handshake in handshakes:
            if handshake.outcome not in ("reset", "closed") or handshake.received_bytes != 0:
                continue
            if not handshake.address.startswith("via "):
                second[handshake.address] = await ctx.handshake(handshake.address, target.port, host=SNI_PROBE_NAME)
                continue
            # Through a proxy: a fresh tunnel to the same host and port, another name in the ClientHello (a
            # proxy or a box behind it that filters by SNI lets it through; one that resets every hello does not).
            routes = routes if routes is not None else dict(await ctx.paths(target.host, target.port))
            if routes.get(handshake.address) is not None:
                second[handshake.address] = await ctx.routed_handshake(
                    handshake.address, routes[handshake.address], target.port, host=SNI_PROBE_NAME
                )
        return TlsObserved(
            target.host,
            target.port,
            handshakes,
            await corrected_now(ctx),
            await self.schannel(ctx),
            second_sni=second,
        )

    judge = staticmethod(judge_observed)
