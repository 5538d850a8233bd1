"""`crl.fetch`: can this host fetch the revocation data its TLS chains point at (CRL over HTTP, OCSP)?

Per port-80 row of the profile: the CRL distribution points and OCSP responders named in the served chains for
that host are fetched on every reachable address; bodies are parsed (a CRL must load as DER; an OCSP responder
must answer a real OCSP request with an OCSP response). A middlebox answering 200 with HTML is a block page.

A port-80 row no served chain names a URL on still gets a real request: an OCSP POST to `http://host/` (RFC 6960
A.1) for a certificate and its issuer taken from this run's chains (else the profile's own certificates). An OCSP
response of any status shows the path carries revocation traffic; a redirect to another host or an HTML page in
answer to it is what a captive portal or a web filter does, and no revocation server does. Only a host for which
neither a URL nor a certificate pair is known is probed with a bare GET /.
"""

from __future__ import annotations

import contextlib
import dataclasses
import warnings
from collections.abc import AsyncGenerator, Iterable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from preflight import CodeDoc, Codes, Finding, ObservingCheck, Status, Target, lazy
from preflight.netutil import usable_addresses
from preflight.pki.certs import load_der, signed_by, urls
from preflight.probes.http import MAX_BODY, HttpFetch

if TYPE_CHECKING:
    import asyncio

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509 import ocsp
else:
    asyncio = lazy.module("asyncio")
    x509 = lazy.module("cryptography.x509")
    hashes = lazy.module("cryptography.hazmat.primitives.hashes")
    serialization = lazy.module("cryptography.hazmat.primitives.serialization")
    ocsp = lazy.module("cryptography.x509.ocsp")


if TYPE_CHECKING:
    from preflight import Plan
    from preflight.context import Context
    from preflight.proxy import ProxyConfig

CODES = Codes(
    {
        "crl.ok": CodeDoc(
            Status.PASS,
            "Revocation data is reachable: the CRLs parse and the OCSP responders answer with OCSP responses.",
            "Each CRL URL from the served chains for this host was fetched and loaded as a DER CRL; each OCSP URL "
            "answered a real OCSP request (for the served leaf) with a parseable OCSP response.",
            "Nothing to do.",
        ),
        "crl.reachable": CodeDoc(
            Status.PASS,
            "The host answers HTTP on port 80 without a sign of a portal or filter; no served chain named a URL on "
            "it, so no revocation data was fetched.",
            "No chain named a URL on this host: an OCSP POST to http://host/ got an HTTP answer that is neither an "
            "OCSP response nor a portal's (no redirect to another host, no HTML page with 200 or 407); with no "
            "certificate to ask about, a GET / got any HTTP response.",
            "Nothing to do; run with --tenant-id so more chains (and their URLs) are seen.",
        ),
        "crl.blocked_page": CodeDoc(
            Status.FAIL,
            "A middlebox answered the CRL/OCSP request with a web page (HTML) instead of revocation data: a block or "
            "login page. Certificate validation on the connector will fail or stall.",
            "The HTTP response to a CRL/OCSP URL had an HTML body or content type instead of a CRL/OCSP body.",
            "Allow plain HTTP (port 80) to this host without authentication or filtering (CRL/OCSP hosts must be "
            "reachable anonymously); the page title in the evidence names the device.",
        ),
        "crl.bad_body": CodeDoc(
            Status.FAIL,
            "The response to a CRL/OCSP request could not be parsed as a CRL or an OCSP response.",
            "HTTP 200, but the body did not load as a DER CRL / OCSP response and is not HTML.",
            "Something rewrites or truncates HTTP on the path (a proxy or filter); let port 80 through untouched.",
        ),
        "crl.http_error": CodeDoc(
            Status.FAIL,
            "The CRL/OCSP request got an HTTP error or a redirect instead of revocation data.",
            "The HTTP status was not 200 (status and any Location are in the evidence).",
            "A redirect or 4xx/5xx from a proxy usually means it requires a login or blocks the category: allow the "
            "host anonymously.",
        ),
        "crl.ocsp_refused": CodeDoc(
            Status.WARN,
            "The OCSP responder answered, but not with revocation data: it said unauthorized, tryLater, "
            "internalError, malformedRequest or sigRequired. The path works; the answer cannot vouch for the "
            "certificate.",
            "The OCSP response parsed, and its responseStatus is not successful (the status is in the evidence as "
            "ocsp_status).",
            "unauthorized usually means something other than the CA's responder answered (a proxy or a stale DNS "
            "entry for the OCSP host): check what answers there; tryLater/internalError are the responder's own "
            "trouble: run again later.",
        ),
        "crl.timeout": CodeDoc(
            Status.FAIL,
            "The CRL/OCSP request connected but no answer came in time.",
            "The HTTP exchange did not complete within --timeout.",
            "A proxy or filter holds plain HTTP to this host: let port 80 through.",
        ),
        "crl.filtered": CodeDoc(
            Status.FAIL,
            "Port 80 to the revocation host does not answer (dropped).",
            "The TCP connect for the fetch timed out (reported here when tcp.connect did not run for it).",
            "Allow outbound TCP 80 to the host: CRL/OCSP use plain HTTP.",
        ),
        "crl.unreachable": CodeDoc(
            Status.FAIL,
            "Port 80 to the revocation host is refused or unreachable, or the connection broke.",
            "The TCP connect for the fetch was refused or rejected, or the HTTP exchange was reset.",
            "Allow outbound TCP 80 to the host: CRL/OCSP use plain HTTP.",
        ),
    }
)

_PRIORITY = (
    "crl.blocked_page",
    "crl.http_error",
    "crl.bad_body",
    "crl.timeout",
    "crl.filtered",
    "crl.unreachable",
    "crl.ocsp_refused",
    "crl.reachable",
    "crl.ok",
)
_TCP_CODES = {"filtered": "crl.filtered"}


def judge_fetch(fetch: HttpFetch, kind: str) -> str:
    """The code for one fetch of a CRL ('crl'), an OCSP responder ('ocsp') or a bare host ('probe'). Pure."""
    if fetch.outcome == "timeout":
        return "crl.timeout"
    if fetch.outcome in ("refused", "reset", "error", "tls_error", "proxy_error"):
        return "crl.unreachable"
    content_type = (fetch.content_type or "").lower()
    looks_html = "html" in content_type or fetch.body.lstrip()[:15].lower().startswith((b"<!doctype", b"<html"))
    if kind == "probe":
        return "crl.reachable"
    if kind == "ocsp_probe":
        return _judge_ocsp_probe(fetch, looks_html)
    if fetch.status == 200 and looks_html:
        return "crl.blocked_page"
    if fetch.status != 200:
        return "crl.blocked_page" if looks_html and fetch.status in (401, 403, 407, 451) else "crl.http_error"
    if kind == "crl":
        if fetch.truncated:  # a large CRL: only its DER header can be checked, and it must announce the size
            return "crl.ok" if _der_longer_than(fetch.body) else "crl.bad_body"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                x509.load_der_x509_crl(fetch.body)
        except ValueError:
            return "crl.bad_body"
        return "crl.ok"
    status = ocsp_status(fetch.body)
    if status is None:
        return "crl.bad_body"
    return "crl.ok" if status == "SUCCESSFUL" else "crl.ocsp_refused"


def _judge_ocsp_probe(fetch: HttpFetch, looks_html: bool) -> str:
    """An OCSP POST to a host no chain named a URL on: any OCSP response means a responder answers on this path;
    what only a portal or filter does to a POST fails; anything else is merely reachable."""
    status = fetch.status or 0
    if status == 200 and ocsp_status(fetch.body) is not None:
        return "crl.ok"
    if 300 <= status < 400 and _host_of(fetch.location or "") not in (None, _host_of(fetch.url)):
        return "crl.http_error"  # sent elsewhere: a portal's login page
    if looks_html and status in (200, 407):
        return "crl.blocked_page"
    return "crl.reachable"


def ocsp_status(body: bytes) -> str | None:
    """The responseStatus of an OCSP response (SUCCESSFUL, UNAUTHORIZED, TRY_LATER, ...), None if it does not
    parse."""
    try:
        return ocsp.load_der_ocsp_response(body).response_status.name
    except ValueError:
        return None


def _der_longer_than(body: bytes) -> bool:
    """Whether `body` starts a DER SEQUENCE whose declared length runs past what was read."""
    if len(body) < 2 or body[0] != 0x30:
        return False
    if body[1] < 0x80:
        return 2 + body[1] > len(body)
    size = body[1] & 0x7F
    if not 1 <= size <= 8 or len(body) < 2 + size:
        return False
    return 2 + size + int.from_bytes(body[2 : 2 + size], "big") > len(body)


def ocsp_request(leaf: x509.Certificate, issuer: x509.Certificate) -> bytes:
    request = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, hashes.SHA1()).build()
    return request.public_bytes(serialization.Encoding.DER)


def judge_results(target: Target, results: Sequence[dict[str, Any]], *, upstream: str | None = None) -> Finding:
    """The verdict for one port-80 row from every fetch's row (each already judged by judge_fetch): the worst
    code by priority, named with its URL; no fetch at all (no address) is a skip pointing at `upstream`. Pure."""
    if not results:
        return Finding(Status.SKIP, "run.upstream", f"{target.key}: no address to fetch from", caused_by=upstream)
    codes = {r["code"] for r in results}
    code = next(c for c in _PRIORITY if c in codes)
    worst = next(r for r in results if r["code"] == code)
    evidence = {"host": target.host, "fetches": list(results), "max_body_bytes": MAX_BODY}
    return CODES.finding(code, _summary(target.key, code, worst, len(results)), evidence)


@dataclasses.dataclass(frozen=True)
class CrlObserved:
    """What `observe` saw for one port-80 host: one row per CRL/OCSP URL the served chains name on it (or the plain
    probe of `/` when none does) and per address or the proxy; none when the name had no usable address, with the
    dns.resolve result that explains it."""

    target: Target
    fetches: tuple[dict[str, Any], ...] = ()
    dns_result: str | None = None


async def observe(target: Target, ctx: Context) -> CrlObserved:
    proxy = await _http_proxy(target.host, ctx)
    if proxy is not None:
        addresses = [f"via {proxy.display}"]
    else:
        resolution = await ctx.resolve(target.host)
        addresses, _ignored = usable_addresses(target.host, resolution.addresses)
    if not addresses:
        return CrlObserved(target, dns_result=ctx.result_id_for("dns.resolve", target))
    # Each URL is fetched as soon as a chain names it: a filtered TLS endpoint delays the verdict only until its
    # handshake gives up, not by that wait plus every fetch after it.
    fetches: dict[str, list[asyncio.Task[dict[str, Any]]]] = {}
    try:
        seen_chains: list[Sequence[bytes]] = []
        async with contextlib.aclosing(_served_chains(ctx)) as chains:
            async for chain in chains:
                seen_chains.append(chain)
                for kind, url, request in _revocation_jobs(chain, target.host):
                    if url not in fetches:
                        fetches[url] = [
                            asyncio.ensure_future(_fetch(ctx, target.host, proxy, kind, url, request, a))
                            for a in addresses
                        ]
        if not fetches:
            probe = f"http://{target.host}/"
            request = _probe_request(seen_chains, ctx)
            kind = "ocsp_probe" if request is not None else "probe"
            fetches[probe] = [
                asyncio.ensure_future(_fetch(ctx, target.host, proxy, kind, probe, request, a)) for a in addresses
            ]
        results = [await fetch for each in fetches.values() for fetch in each]
    finally:
        for fetch in (f for each in fetches.values() for f in each):
            fetch.cancel()
    return CrlObserved(target, tuple(results))


async def _http_proxy(host: str, ctx: Context) -> ProxyConfig | None:
    """The proxy plain HTTP to host:80 goes through for certificate validation: WinHTTP's system proxy when this
    host's WinHTTP settings were read (chain validation runs in the system context), else the route's, or, when
    its proxy list's first entry cannot be connected to, the entry the connector fails over to (None: direct, a
    DIRECT entry included)."""
    route = ctx.route(host, 80)
    system = ctx.revocation_route(host, 80)
    if system != route:  # Windows' certificate operations take WinHTTP's system proxy, not the connector's
        return system.proxy
    if route.proxy is None or not route.fallbacks:
        return route.proxy
    carrier = await ctx.carrier(host, 80)
    if carrier.direct:
        return None
    return carrier.proxy or route.proxy  # none can be connected to: the fetch through the first says so


def judge_observed(seen: CrlObserved) -> Finding:
    """The verdict from what `observe` saw. Pure."""
    return judge_results(seen.target, list(seen.fetches), upstream=seen.dns_result)


async def _fetch(
    ctx: Context, host: str, proxy: ProxyConfig | None, kind: str, url: str, request: bytes | None, address: str
) -> dict[str, Any]:
    """One CRL/OCSP fetch (or the plain probe) on one address or through the proxy, as a result row."""
    if proxy is None:
        attempt = await ctx.connect(address, 80, host=host)
        if attempt.outcome != "open":
            code = _TCP_CODES.get(attempt.outcome, "crl.unreachable")
            return {"kind": kind, "url": url, "address": address, "code": code, "tcp": attempt.outcome}
    ocsp_type = "application/ocsp-request" if request else None
    fetch = await ctx.http(
        url,
        address,
        host=host,
        method="POST" if request else "GET",
        content=request,
        content_type=ocsp_type,
        proxy=proxy,
    )
    row = {
        "kind": kind,
        **fetch.to_json(),
        "code": judge_fetch(fetch, kind),
        "body_head": fetch.body[:120].decode("latin-1"),
    }
    if kind in ("ocsp", "ocsp_probe") and fetch.status == 200:
        row["ocsp_status"] = ocsp_status(fetch.body)
    return row


def _probe_request(chains: Sequence[Sequence[bytes]], ctx: Context) -> bytes | None:
    """An OCSP request for a real certificate and the certificate that issued it (judged by signature): from the
    first chain served in this run that has one, else from the profile's own certificate files."""
    from preflight.pki.truststore import expected_roots

    candidates = [[c for c in (load_der(d) for d in chain) if c is not None] for chain in chains]
    candidates.append([*expected_roots(ctx.known_intermediates), *expected_roots(ctx.expected_roots)])
    for certs in candidates:
        for cert in certs:
            issuer = next((i for i in certs if i is not cert and signed_by(cert, i)), None)
            if issuer is not None:
                try:
                    return ocsp_request(cert, issuer)
                except ValueError:
                    continue
    return None


def _revocation_jobs(chain: Sequence[bytes], host: str) -> list[tuple[str, str, bytes | None]]:
    """(kind, url, OCSP request) for every CRL/OCSP URL on `host` that a served chain names."""
    jobs: dict[str, tuple[str, str, bytes | None]] = {}
    certs = [c for c in (load_der(d) for d in chain) if c is not None]
    for position, cert in enumerate(certs):
        found = urls(cert)
        for url in found["crl"]:
            if _host_of(url) == host:
                jobs.setdefault(url, ("crl", url, None))
        issuer = certs[position + 1] if position + 1 < len(certs) else None
        for url in found["ocsp"]:
            if _host_of(url) == host and issuer is not None and url not in jobs:
                try:
                    jobs[url] = ("ocsp", url, ocsp_request(cert, issuer))
                except ValueError:
                    continue
    return list(jobs.values())


async def _served_chains(ctx: Context) -> AsyncGenerator[Sequence[bytes], None]:
    """Every chain served in this run, as each endpoint's handshakes finish (the probes are shared)."""
    waits = [
        asyncio.ensure_future(ctx.handshakes(t.host, t.port))
        for t in ctx.port_targets(tls_only=True)
        if not (t.wildcard or t.missing or t.port is None)
    ]
    try:
        for finished in asyncio.as_completed(waits):
            for handshake in await finished:
                if handshake.chain:
                    yield handshake.chain
    finally:
        for wait in waits:
            wait.cancel()


def _host_of(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme != "http" or parts.port not in (None, 80):
        return None
    return (parts.hostname or "").lower() or None


def _summary(where: str, code: str, worst: dict[str, Any], count: int) -> str:
    url = worst.get("url")
    probing = worst.get("kind") == "ocsp_probe"
    if code == "crl.ok" and probing:
        return (
            f"{where}: no chain named a URL here; an OCSP request to {url} got an OCSP response "
            f"({worst.get('ocsp_status')}): a responder answers on this path"
        )
    if code == "crl.ok":
        return f"{where}: {count} revocation fetch(es) returned valid CRL/OCSP data"
    if code == "crl.reachable":
        asked = "an OCSP request to /" if probing else "GET /"
        return f"{where}: HTTP answers {asked} (status {worst.get('status')}); no CRL/OCSP URL from the chains to fetch"
    if code == "crl.blocked_page":
        title = worst.get("title")
        return (
            f"{where}: {url} answered with a web page"
            + (f" titled {title!r}" if title else "")
            + f" (HTTP {worst.get('status')}, {worst.get('content_type')})"
        )
    if code == "crl.http_error":
        return (
            f"{where}: {url} answered "
            + ("an OCSP request with " if probing else "")
            + f"HTTP {worst.get('status')}"
            + (f" → {worst.get('location')}" if worst.get("location") else "")
            + (" (another host: a portal's redirect, no revocation server sends one)" if probing else "")
        )
    if code == "crl.ocsp_refused":
        return f"{where}: the OCSP responder {url} answered {worst.get('ocsp_status')}, not revocation data"
    if code == "crl.bad_body":
        return f"{where}: {url} body is not a {worst.get('kind')} response ({worst.get('body_bytes')} bytes)"
    path = str(worst.get("address") or "")
    path = path if path.startswith("via ") else f"via {path}"  # an address, or already "via <proxy>"
    return f"{where}: {url} {path}: {worst.get('error') or worst.get('tcp') or code}"


class CrlFetchCheck(ObservingCheck[CrlObserved]):
    id = "crl.fetch"
    title = "CRL and OCSP reachability over HTTP, with the bodies parsed (block pages recognised)"
    requires = "outbound TCP 80; the TLS chains served to this host (for the URLs and the OCSP request)"
    needs: tuple[str, ...] = ("tcp.connect", "proxy.tunnel")
    codes = CODES

    def targets(self, plan: Plan) -> Iterable[Target]:
        return [t for t in plan.port_targets() if t.port == 80]

    observe = staticmethod(observe)
    judge = staticmethod(judge_observed)
