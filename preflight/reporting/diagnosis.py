"""Diagnosis: the one cause behind many results, and its one fix. A host broken as a whole (a dead resolver, no
route, egress only through a proxy the connector does not use, a clock years off, one inspection box re-signing
everything) gives dozens of right rows; this step reads all of them and names what they have in common, with the
evidence that proves it, the results it explains and a fix with the specifics (addresses, names, amounts).

Pure: results in, causes out, table-tested (tests/unit/test_diagnosis.py). A cause never hides a finding: the
results it explains stay in every report as its evidence, and the findings no cause explains are listed after the
causes. Where the results disagree (most names time out, one resolves), the cause is given with `confidence`
"partial" and says how many agree.

Each cause code is documented like every reason code (CAUSE_CODES; `preflight explain cause.resolver_unreachable`).
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

from preflight.model import CheckResult, CodeDoc, Codes, Status
from preflight.netutil import LOCALLY_BLOCKED, is_special_use_name

Confidence = Literal["confirmed", "partial"]

# A whole-host cause needs at least this many results that agree, and at least this share of the results that
# could have disagreed: two names timing out of fourteen is two findings, not a dead resolver.
MIN_AGREEING = 2
MIN_SHARE = 0.75

CAUSE_CODES = Codes(
    {
        "cause.resolver_unreachable": CodeDoc(
            Status.FAIL,
            "The host's DNS server does not answer: every name the connector needs times out (or the server cannot "
            "be reached), so nothing else can be tested.",
            "Every (or nearly every) dns.resolve result is dns.timeout or dns.unreachable, against the same servers; "
            "the servers and the names are in the evidence. Each server is also tried once over TCP 53, which "
            "tells a dead or unreachable server (TCP silent too), a machine with no DNS service (refused), a path "
            "that drops only UDP 53 (TCP answers), and this host's own firewall (the send refused).",
            "Make the DNS server named in the evidence answer on UDP and TCP 53 (is it up? does a firewall drop DNS "
            "from this host?), or set the host's DNS servers to ones that answer.",
        ),
        "cause.resolver_failing": CodeDoc(
            Status.FAIL,
            "The host's DNS server answers but fails every internet name (SERVFAIL or REFUSED): it does not recurse, "
            "or cannot reach the internet itself.",
            "Every (or nearly every) dns.resolve result is dns.servfail or dns.refused.",
            "Let the DNS server resolve public names (recursion, or a forwarder that reaches the internet), or point "
            "the host at one that does.",
        ),
        "cause.no_route": CodeDoc(
            Status.FAIL,
            "This host has no route to the internet: every connection fails at once with 'network unreachable' "
            "(ENETUNREACH), before any packet leaves.",
            "Every (or nearly every) tcp.connect attempt failed with no_route (ENETUNREACH / WSAENETUNREACH): the "
            "host's own routing table has no way there.",
            "Add the default gateway to the host's network configuration (route print / ip route: no 0.0.0.0/0).",
        ),
        "cause.proxy_not_configured": CodeDoc(
            Status.FAIL,
            "Direct outbound connections are blocked, and a proxy exists that the connector is not configured to "
            "use: the classic 'the browser works, the connector does not'.",
            "Every (or nearly every) direct tcp.connect failed, while proxy.effective found a proxy the route does "
            "not follow (a WPAD script, the administrator's own WinINET settings, or the environment).",
            "Configure that proxy for the connector (<defaultProxy> in its .exe.config, or autoDetect for WPAD), then "
            "run again with it (--proxy, or --connector-config).",
        ),
        "cause.clock_far_off": CodeDoc(
            Status.FAIL,
            "This host's clock is far off. Certificates look expired or not yet valid, tokens are refused, and "
            "Windows Time will not correct a large error on its own.",
            "clock.skew measured an offset beyond its fail limit (NTP or a trusted HTTPS Date).",
            "Set the date and time by hand, then resync (w32tm /resync).",
        ),
        "cause.ntp_blocked": CodeDoc(
            Status.WARN,
            "No NTP server answered this host (UDP 123 is blocked on the way, or the servers are down): Windows "
            "Time cannot keep the clock right, and where no trusted HTTPS Date stood in the clock was not checked "
            "at all.",
            "Every NTP reading of clock.skew timed out, was refused or came back unreachable while the names "
            "resolved (clock.ntp_blocked, or the skip clock.unavailable).",
            "Allow UDP 123 from this host to its time source (time.windows.com, or the domain's), or point Windows "
            "Time at one it can reach ('w32tm /config /manualpeerlist:... /update'); then run again.",
        ),
        "cause.one_interceptor": CodeDoc(
            Status.FAIL,
            "One TLS inspection device re-signs every TLS endpoint the connector needs: one CA issues all the "
            "certificates this host is served.",
            "Every (or nearly every) intercepted tls.interception result chains to the same issuing CA.",
            "Add one TLS-inspection bypass for the names listed in the evidence on the device that holds this CA.",
        ),
        "cause.proxy_auth_everywhere": CodeDoc(
            Status.FAIL,
            "The proxy demands authentication for every destination; the connector cannot authenticate to a proxy.",
            "Every (or nearly every) proxy.tunnel result is proxy.auth_required, through the same proxy.",
            "Exempt this host (or these destinations) from proxy authentication on the proxy.",
        ),
        "cause.port_blocked": CodeDoc(
            Status.FAIL,
            "One port is blocked to every host that needs it, while the other ports of the same hosts work: a "
            "firewall rule for that port.",
            "Every (or nearly every) connection on the port failed (tcp.connect, crl.fetch), while other ports of "
            "the same hosts connected.",
            "Allow outbound TCP on that port to every host listed in the evidence.",
        ),
        "cause.ipv6_broken": CodeDoc(
            Status.WARN,
            "IPv6 is broken on this host's path while IPv4 works: every name with both answers connects over IPv4 "
            "only, so the connector may stall on IPv6 first.",
            "Every (or nearly every) tcp.partial result failed on IPv6 addresses only.",
            "Fix IPv6 routing and the firewall for IPv6, or make Windows prefer IPv4 (DisabledComponents 0x20).",
        ),
    }
)


@dataclasses.dataclass(frozen=True)
class Cause:
    code: str
    summary: str  # one line with the specifics
    fix: str  # the one fix, with names, addresses, amounts
    explains: tuple[str, ...]  # the result ids this cause accounts for
    evidence: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    confidence: Confidence = "confirmed"

    @property
    def status(self) -> Status:
        return CAUSE_CODES[self.code].status

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "status": self.status.value,
            "confidence": self.confidence,
            "summary": self.summary,
            "fix": self.fix,
            "explains": list(self.explains),
            "evidence": dict(self.evidence),
        }


def diagnose(results: Sequence[CheckResult]) -> list[Cause]:
    """The whole-host causes the results show, most fundamental first (a dead resolver before what it hides)."""
    causes = []
    for rule in _RULES:
        cause = rule(results)
        if cause is not None:
            causes.append(cause)
    return causes


def unexplained(results: Iterable[CheckResult], causes: Sequence[Cause]) -> list[CheckResult]:
    """The findings (fail, warn, error) no cause accounts for, nor a skip under them: the rest of 'What to fix'."""
    explained = {rid for cause in causes for rid in cause.explains}
    return [r for r in results if r.status in (Status.FAIL, Status.WARN, Status.ERROR) and r.id not in explained]


# --- the rules --------------------------------------------------------------------------------------------------


def _share(agreeing: int, total: int) -> Confidence | None:
    """Whether `agreeing` of `total` results make a whole-host cause, and how sure it is."""
    if agreeing < MIN_AGREEING or total == 0 or agreeing / total < MIN_SHARE:
        return None
    return "confirmed" if agreeing == total else "partial"


def _of(results: Sequence[CheckResult], check: str) -> list[CheckResult]:
    return [r for r in results if r.check == check and r.status.evaluated]


def _listed(names: Sequence[str]) -> str:
    """Every name, as a firewall request needs them: never 'and N more'."""
    return ", ".join(names)


def _agreement(confidence: Confidence, agreeing: int, total: int, what: str) -> str:
    return "" if confidence == "confirmed" else f" ({agreeing} of {total} {what} agree; the others do not)"


def _dns_servers(results: Sequence[CheckResult], outcomes: set[str]) -> list[str]:
    servers: list[str] = []
    for result in results:
        for answer in result.evidence.get("answers") or []:
            if isinstance(answer, Mapping) and answer.get("outcome") in outcomes:
                server = str(answer.get("server"))
                if server not in servers:
                    servers.append(server)
    return servers


def _resolver(results: Sequence[CheckResult], codes: set[str], outcomes: set[str], cause: str) -> Cause | None:
    resolved = [r for r in _of(results, "dns.resolve") if not is_special_use_name(r.target.host)]
    failing = [r for r in resolved if r.code in codes]
    confidence = _share(len(failing), len(resolved))
    if confidence is None:
        return None
    servers = _dns_servers(failing, outcomes) or ["the system resolver"]
    names = [r.target.host for r in failing]
    explains = {r.id for r in failing}
    # what could not run because nothing resolved: the skips under them, the clock with no name, the tenant lookup
    explains |= {r.id for r in results if r.caused_by in explains}
    explains |= {r.id for r in results if r.check == "tenant.resolve" and r.code == "tenant.unreachable"}
    explains |= {
        r.id for r in results if r.check == "clock.skew" and r.code in ("clock.unavailable", "clock.ntp_unresolved")
    }
    agreement = _agreement(confidence, len(failing), len(resolved), "names")
    over_tcp = _over_tcp(failing)
    evidence: dict[str, Any] = {"servers": servers, "names": names}
    if over_tcp:
        evidence["over_tcp"] = list(over_tcp.values())
    if cause == "cause.resolver_unreachable":
        summary = f"the DNS server {', '.join(servers)} does not answer: {len(failing)} names time out{agreement}"
        fix = (
            f"Make {', '.join(servers)} answer on UDP and TCP 53 (is it running? does a firewall drop DNS from this "
            "host?), or set this host's DNS servers to ones that answer; then run again."
        )
        if _locally_blocked(failing):
            summary, fix = _blocked_here(servers, over_tcp, len(failing), agreement)
        elif over_tcp:
            summary, fix = _what_tcp_showed(over_tcp, len(failing), agreement) or (summary, fix)
    else:
        failures = sorted({r.code.removeprefix("dns.").upper() for r in failing})
        summary = (
            f"the DNS server {', '.join(servers)} answers {'/'.join(failures)} for every internet name: "
            f"{len(failing)} names fail{agreement}"
        )
        fix = (
            f"Let {', '.join(servers)} resolve public names (recursion, or a forwarder that reaches the internet), or "
            "point this host at a resolver that does; then run again."
        )
    return Cause(cause, summary, fix, tuple(sorted(explains)), evidence, confidence)


def _over_tcp(results: Sequence[CheckResult]) -> dict[str, Mapping[str, Any]]:
    """What TCP 53 showed of each silent resolver (dns.resolve's evidence), by server."""
    found: dict[str, Mapping[str, Any]] = {}
    for result in results:
        for probe in result.evidence.get("over_tcp") or []:
            if isinstance(probe, Mapping) and isinstance(probe.get("server"), str):
                found.setdefault(probe["server"], probe)
    return found


def _locally_blocked(results: Sequence[CheckResult]) -> bool:
    """Whether this host's own firewall refused to send the queries (EPERM, WSAEACCES on the send)."""
    return any(
        isinstance(answer, Mapping) and str(answer.get("error") or "").startswith(LOCALLY_BLOCKED)
        for result in results
        for answer in result.evidence.get("answers") or []
    )


def _blocked_here(
    servers: Sequence[str], over_tcp: Mapping[str, Mapping[str, Any]], count: int, agreement: str
) -> tuple[str, str]:
    listed = ", ".join(servers)
    tcp = [p for p in over_tcp.values() if p.get("answered")]
    through = "; TCP 53 gets through and is answered" if tcp else ""
    return (
        f"this host's own firewall blocks DNS to {listed}: the query was refused before it was sent (EPERM or "
        f"WSAEACCES){through}; {count} names fail{agreement}",
        f"Allow outbound UDP 53 (and TCP 53) to {listed} in this host's firewall (on Windows, an outbound rule of "
        "Windows Defender Firewall, or a security product's, blocks it); then run again.",
    )


def _what_tcp_showed(over_tcp: Mapping[str, Mapping[str, Any]], count: int, agreement: str) -> tuple[str, str] | None:
    """(summary, fix) when every silent resolver showed the same thing over TCP 53: that is the one fix."""
    servers = ", ".join(over_tcp)
    kinds = {("answered" if p.get("answered") else str(p.get("connect"))) for p in over_tcp.values()}
    if len(kinds) != 1:
        return None
    kind = kinds.pop()
    names = f"{count} names time out{agreement}"
    if kind == "answered":
        return (
            f"the DNS server {servers} answers over TCP 53 but not over UDP 53: UDP 53 is dropped between this "
            f"host and it; {names}",
            f"Allow UDP 53 from this host to {servers} (a firewall, security group or NAT drops it; TCP 53 gets "
            "through); then run again.",
        )
    if kind == "refused":
        return (
            f"the DNS server {servers} refuses TCP 53 and does not answer UDP 53: the machine is up, but no DNS "
            f"server listens there; {names}",
            f"Start the DNS service on {servers}, or set this host's DNS servers to ones that answer; then run again.",
        )
    if kind in ("no_route", "local_block"):
        return (
            f"this host has no route to its DNS server {servers} ({kind}); {names}",
            f"Add the route (or the default gateway) to {servers}, or lift this host's own firewall rule that "
            "blocks it; then run again.",
        )
    if kind in ("filtered", "unreachable"):
        return (
            f"the DNS server {servers} answers neither UDP nor TCP 53 ({kind}): it is down, or DNS from this host "
            f"is dropped; {names}",
            f"Check that {servers} is running and that DNS (UDP and TCP 53) from this host reaches it, or set this "
            "host's DNS servers to ones that answer; then run again.",
        )
    return None


def _resolver_unreachable(results: Sequence[CheckResult]) -> Cause | None:
    return _resolver(
        results, {"dns.timeout", "dns.unreachable"}, {"timeout", "unreachable"}, "cause.resolver_unreachable"
    )


def _resolver_failing(results: Sequence[CheckResult]) -> Cause | None:
    return _resolver(results, {"dns.servfail", "dns.refused"}, {"servfail", "refused"}, "cause.resolver_failing")


def _attempts(result: CheckResult) -> list[Mapping[str, Any]]:
    return [a for a in result.evidence.get("attempts") or [] if isinstance(a, Mapping)]


def _no_route(results: Sequence[CheckResult]) -> Cause | None:
    connects = _of(results, "tcp.connect")
    unrouted = [r for r in connects if (tries := _attempts(r)) and all(a.get("outcome") == "no_route" for a in tries)]
    confidence = _share(len(unrouted), len(connects))
    if confidence is None:
        return None
    families = sorted({str(a.get("family")) for r in unrouted for a in _attempts(r)})
    errnos = sorted({str(a.get("errno")) for r in unrouted for a in _attempts(r) if a.get("errno")})
    explains = {r.id for r in unrouted} | {r.id for r in results if r.caused_by in {u.id for u in unrouted}}
    summary = (
        f"this host has no route to the internet ({', '.join(families)}): all {len(unrouted)} connections fail "
        f"at once with {', '.join(errnos) or 'network unreachable'}, before any packet leaves"
        f"{_agreement(confidence, len(unrouted), len(connects), 'connections')}"
    )
    fix = (
        "Add the default gateway to this host's network configuration (no 0.0.0.0/0 route: 'route print' on "
        "Windows, 'ip route' on Linux); no router is involved yet, so no firewall rule can help."
    )
    return Cause("cause.no_route", summary, fix, tuple(sorted(explains)), {"families": families}, confidence)


_BLOCKED = {"tcp.filtered", "tcp.refused", "tcp.unreachable", "tcp.local_block"}


_FOUND_IN = {
    "wpad": "a WPAD script",
    "wininet_user": "your own Internet Options (WinINET)",
    "wininet": "WinINET",
    "winhttp": "WinHTTP (netsh winhttp)",
    "winhttp_api": "WinHTTP's own answer",
    "environment": "the environment (HTTPS_PROXY)",
}


def _discoverable_proxies(effective: CheckResult) -> list[tuple[str, str]]:
    """(proxy, where it was found) for each proxy some source would use where the tested route goes direct."""
    evidence = effective.evidence
    wpad = evidence.get("wpad") or {}
    found: list[tuple[str, str]] = []
    for route in (evidence.get("routes") or {}).values():
        by_source = route.get("by_source") if isinstance(route, Mapping) else None
        if not isinstance(by_source, Mapping) or by_source.get("tested") != "direct":
            continue
        for source, value in by_source.items():
            if source in _FOUND_IN and value and value != "direct":
                where = _FOUND_IN[source]
                if source == "wpad" and isinstance(wpad, Mapping) and wpad.get("url"):
                    where = f"the WPAD script {wpad['url']}"
                found.append((str(value), where))
    return list(dict.fromkeys(found))


def _proxy_not_configured(results: Sequence[CheckResult]) -> Cause | None:
    effective = next((r for r in results if r.check == "proxy.effective" and r.status.evaluated), None)
    if effective is None or effective.code not in ("proxy.direct", "proxy.divergent"):
        return None
    proxies = _discoverable_proxies(effective)
    if not proxies:
        return None
    connects = _of(results, "tcp.connect")
    blocked = [r for r in connects if r.code in _BLOCKED]
    confidence = _share(len(blocked), len(connects))
    if confidence is None:
        return None
    proxy, where = proxies[0]
    url = proxy if "://" in proxy else f"http://{proxy}"
    explains = {r.id for r in blocked} | {r.id for r in results if r.caused_by in {b.id for b in blocked}}
    explains.add(effective.id)
    summary = (
        f"direct egress is blocked ({len(blocked)} connections fail), and {where} offers the proxy {proxy}, which "
        f"the connector is not configured to use{_agreement(confidence, len(blocked), len(connects), 'connections')}"
    )
    # the one more probe that confirms it: proxy.discovered's CONNECT through that proxy
    tried = next(
        (r for r in results if r.check == "proxy.discovered" and r.status.evaluated and r.target.key in proxy), None
    )
    if tried is not None:
        explains.add(tried.id)
        if tried.code == "proxy.ok":
            summary += f"; confirmed: {tried.summary}"
        else:
            summary += f"; but the proxy fails too: {tried.summary}"
            fix = (
                f"The proxy {proxy} ({where}) would not help as it is ({tried.code}): {tried.remediation} Then "
                f'configure it for the connector (<defaultProxy><proxy proxyaddress="{url}" />) and run again with '
                f"--proxy {url}."
            )
            evidence = {"proxies": [{"proxy": p, "found_in": w} for p, w in proxies], "tried": tried.id}
            return Cause("cause.proxy_not_configured", summary, fix, tuple(sorted(explains)), evidence, "partial")
    fix = (
        f'Configure {proxy} for the connector: <defaultProxy><proxy proxyaddress="{url}" '
        'bypassonlocal="true" /></defaultProxy> in its .exe.config (or autoDetect="true" when the proxy comes from '
        f"WPAD); then run again with --proxy {url} to test that path."
    )
    evidence = {
        "proxies": [{"proxy": p, "found_in": w} for p, w in proxies],
        "blocked": [r.target.key for r in blocked],
    }
    return Cause("cause.proxy_not_configured", summary, fix, tuple(sorted(explains)), evidence, confidence)


_SECONDS = (("years", 365.25 * 86400), ("days", 86400.0), ("hours", 3600.0), ("minutes", 60.0), ("seconds", 1.0))


def amount_of_time(seconds: float) -> str:
    """'3.0 years', '12.5 days', '40 minutes': the unit a person reads an offset in."""
    value = abs(seconds)
    for unit, size in _SECONDS:
        if value >= size or unit == "seconds":
            number = value / size
            return f"{number:.1f} {unit}" if unit in ("years", "days", "hours") else f"{number:.0f} {unit}"
    raise AssertionError("unreachable")


# Windows Time refuses larger corrections on its own: MaxPosPhaseCorrection and MaxNegPhaseCorrection, 48 hours
# (172,800 s) on domain members and 15 hours (54,000 s) on stand-alone servers by default (Microsoft, "Windows Time
# service tools and settings": learn.microsoft.com/windows-server/networking/windows-time-service/
# windows-time-service-tools-and-settings).
W32TIME_MAX_CORRECTION_S = 54_000


def _clock_far_off(results: Sequence[CheckResult]) -> Cause | None:
    clock = next((r for r in results if r.check == "clock.skew" and r.code == "clock.skew_fail"), None)
    if clock is None or not isinstance(clock.evidence.get("offset_s"), int | float):
        return None
    offset = float(clock.evidence["offset_s"])
    direction = "ahead" if offset < 0 else "behind"  # a positive offset: real time is later than this clock
    amount = amount_of_time(offset)
    validity = {"tls.expired", "tls.not_yet_valid", "tenant.tls_error"}
    explains = {clock.id} | {r.id for r in results if r.code in validity}
    source = clock.evidence.get("source", "the measurement")
    summary = f"this host's clock is {amount} {direction} ({source})"
    if abs(offset) > W32TIME_MAX_CORRECTION_S:
        fix = (
            f"Set the date and time by hand ({amount} {'back' if offset < 0 else 'forward'}): Windows Time refuses "
            "corrections this large on its own (MaxPosPhaseCorrection/MaxNegPhaseCorrection); then resync with "
            "'w32tm /resync' and check the time source ('w32tm /query /status')."
        )
    else:
        fix = "Resync the clock ('w32tm /resync') and check the time source ('w32tm /query /status')."
    evidence = {"offset_s": offset, "direction": direction, "source": source}
    return Cause("cause.clock_far_off", summary, fix, tuple(sorted(explains)), evidence)


_NTP_SILENT = {"timeout", "unreachable", "error"}  # "rejected", "kiss_of_death": a server that answered


def _ntp_blocked(results: Sequence[CheckResult]) -> Cause | None:
    """NTP silent while names resolve. A skip that matters: with no trusted HTTPS Date either, clock.unavailable
    would otherwise be left out of 'What to fix' like any skip."""
    clock = next((r for r in results if r.check == "clock.skew" and r.code in _CLOCK_NTP_SILENT), None)
    if clock is None or clock.caused_by is not None:
        return None
    readings = [r for r in clock.evidence.get("ntp") or [] if isinstance(r, Mapping)]
    silent = [r for r in readings if r.get("outcome") in _NTP_SILENT]
    if not readings or len(silent) != len(readings):
        return None  # an unresolved server name is the resolver's cause; a server that answered is no block
    servers = list(dict.fromkeys(str(r.get("server")) for r in silent))
    outcomes = "/".join(sorted({str(r.get("outcome")) for r in silent}))
    checked = "the clock was not checked" if clock.code == "clock.unavailable" else clock.summary.split(", but")[0]
    summary = f"no NTP server answered ({', '.join(servers)}: {outcomes}): {checked}"
    fix = (
        f"Allow UDP 123 from this host to {', '.join(servers)} (or to the domain's time source), or point Windows "
        "Time at one it can reach ('w32tm /config /manualpeerlist:<server> /syncfromflags:manual /update', then "
        "'w32tm /resync'); then run again."
    )
    return Cause("cause.ntp_blocked", summary, fix, (clock.id,), {"servers": servers, "outcomes": outcomes})


_CLOCK_NTP_SILENT = {"clock.unavailable", "clock.ntp_blocked"}


_INTERCEPTED = {"tls.intercepted", "tls.intercepted_untrusted", "tls.self_signed"}


def _issuing_ca(result: CheckResult) -> str | None:
    """The CA at the top of the served chain of the intercepted path (the same for every address, usually)."""
    for path in (result.evidence.get("addresses") or {}).values():
        if not isinstance(path, Mapping) or path.get("code") not in _INTERCEPTED:
            continue
        chain = path.get("chain") or []
        if chain and isinstance(chain[-1], Mapping):
            return str(chain[-1].get("issuer"))
        leaf = path.get("leaf") or {}
        if isinstance(leaf, Mapping) and leaf.get("issuer"):
            return str(leaf["issuer"])
    return None


def _one_interceptor(results: Sequence[CheckResult]) -> Cause | None:
    judged = _of(results, "tls.interception")
    intercepted = [r for r in judged if r.code in _INTERCEPTED]
    by_ca: dict[str, list[CheckResult]] = defaultdict(list)
    for result in intercepted:
        ca = _issuing_ca(result)
        if ca is not None:
            by_ca[ca].append(result)
    if not by_ca:
        return None
    ca, same = max(by_ca.items(), key=lambda item: len(item[1]))
    confidence = _share(len(same), len(judged))
    if confidence is None:
        return None
    names = list(dict.fromkeys(r.target.host for r in same))
    hint = next((p for r in same for p in _hints(r)), None)
    device = f" (its name suggests {hint})" if hint else ""
    summary = (
        f"one CA, {ca}, re-signs all {len(same)} TLS endpoints{device}"
        f"{_agreement(confidence, len(same), len(judged), 'endpoints')}"
    )
    fix = (
        f"Add one TLS-inspection bypass on the device that holds the CA {ca}{device} for: {_listed(names)}. "
        "The connector pins nothing, but it cannot work through inspection."
    )
    explains = {r.id for r in same} | {r.id for r in results if r.caused_by in {s.id for s in same}}
    evidence = {"ca": ca, "names": names, "endpoints": [r.target.key for r in same]}
    return Cause("cause.one_interceptor", summary, fix, tuple(sorted(explains)), evidence, confidence)


def _hints(result: CheckResult) -> Iterable[str]:
    for path in (result.evidence.get("addresses") or {}).values():
        if isinstance(path, Mapping) and isinstance(path.get("product_hint"), Mapping):
            yield str(path["product_hint"].get("product"))


def _proxy_auth_everywhere(results: Sequence[CheckResult]) -> Cause | None:
    tunnels = _of(results, "proxy.tunnel")
    refused = [r for r in tunnels if r.code == "proxy.auth_required"]
    confidence = _share(len(refused), len(tunnels))
    if confidence is None:
        return None
    proxies = sorted({str(r.evidence.get("proxy")) for r in refused if r.evidence.get("proxy")})
    schemes = sorted({str(s) for r in refused for s in r.evidence.get("proxy_authenticate") or []})
    names = list(dict.fromkeys(r.target.key for r in refused))
    explains = {r.id for r in refused} | {r.id for r in results if r.caused_by in {x.id for x in refused}}
    how = f" ({', '.join(schemes)})" if schemes else ""
    summary = (
        f"the proxy {', '.join(proxies) or '(the route)'} demands authentication{how} for all {len(refused)} "
        f"destinations{_agreement(confidence, len(refused), len(tunnels), 'tunnels')}"
    )
    fix = (
        f"On {', '.join(proxies) or 'the proxy'}, let this host through without authentication, or exempt these "
        f"destinations from it: {_listed(names)}. The connector cannot authenticate to a proxy."
    )
    return Cause("cause.proxy_auth_everywhere", summary, fix, tuple(sorted(explains)), {"proxies": proxies}, confidence)


_PORT_FAILURES = {
    "tcp.filtered",
    "tcp.refused",
    "tcp.unreachable",
    "tcp.local_block",
    "crl.filtered",
    "crl.unreachable",
}


def _port_blocked(results: Sequence[CheckResult]) -> Cause | None:
    by_port: dict[int, list[CheckResult]] = defaultdict(list)
    for result in results:
        if result.check in ("tcp.connect", "crl.fetch") and result.status.evaluated and result.target.port:
            by_port[result.target.port].append(result)
    opened = {r.target.host for r in results if r.check == "tcp.connect" and r.code in ("tcp.open", "tcp.partial")}
    candidates = []
    for port, on_port in by_port.items():
        failing = [r for r in on_port if r.code in _PORT_FAILURES]
        hosts = list(dict.fromkeys(r.target.host for r in failing))
        confidence = _share(len(hosts), len({r.target.host for r in on_port}))
        # a port, not the whole host: other ports of the same hosts (or of other hosts) must have connected, and
        # nothing on this port did (a fetch failing on one address family while the port opened on the other is
        # that family's fault: see _ipv6_broken)
        connected_here = any(r.check == "tcp.connect" and r.code in ("tcp.open", "tcp.partial") for r in on_port)
        if confidence is not None and not connected_here and opened:
            candidates.append((len(hosts), port, failing, hosts, confidence))
    if not candidates:
        return None
    _count, port, failing, hosts, confidence = max(candidates)
    what = " (CRL/OCSP)" if port == 80 else " (the service's tunnel)" if port == 8398 else ""
    explains = {r.id for r in failing} | {r.id for r in results if r.caused_by in {f.id for f in failing}}
    summary = (
        f"outbound TCP {port}{what} is blocked to all {len(hosts)} hosts that need it, while other ports work"
        f"{_agreement(confidence, len(hosts), len(hosts), 'hosts')}"
    )
    fix = f"Allow outbound TCP {port} from this host to: {_listed(hosts)}."
    evidence = {"port": port, "hosts": hosts}
    return Cause("cause.port_blocked", summary, fix, tuple(sorted(explains)), evidence, confidence)


def _ipv6_broken(results: Sequence[CheckResult]) -> Cause | None:
    connects = _of(results, "tcp.connect")
    dual = [r for r in connects if {a.get("family") for a in _attempts(r)} == {"ipv4", "ipv6"}]

    def v6_only_fails(result: CheckResult) -> bool:
        tries = _attempts(result)
        return all(a.get("outcome") == "open" for a in tries if a.get("family") == "ipv4") and any(
            a.get("outcome") not in ("open", "no_route") for a in tries if a.get("family") == "ipv6"
        )

    broken = [r for r in dual if r.code == "tcp.partial" and v6_only_fails(r)]
    confidence = _share(len(broken), len(dual))
    if confidence is None:
        return None
    outcomes = Counter(str(a.get("outcome")) for r in broken for a in _attempts(r) if a.get("family") == "ipv6")
    names = list(dict.fromkeys(r.target.key for r in broken))
    summary = (
        f"IPv6 is broken on this host's path while IPv4 works: {len(broken)} endpoints connect over IPv4 only (IPv6 "
        f"{', '.join(f'{k} x{v}' for k, v in outcomes.most_common())})"
        f"{_agreement(confidence, len(broken), len(dual), 'dual-stack endpoints')}"
    )
    fix = (
        "Fix IPv6 routing and the firewall's IPv6 rules for these endpoints, or make Windows prefer IPv4 "
        "(HKLM\\SYSTEM\\CurrentControlSet\\Services\\Tcpip6\\Parameters DisabledComponents = 0x20, Microsoft's "
        f"'Guidance for configuring IPv6 in Windows'): {_listed(names)}."
    )
    # fetches (CRL/OCSP) that failed only on IPv6 addresses are this cause too
    v6_fetches = [
        r
        for r in results
        if r.check == "crl.fetch"
        and r.code in _PORT_FAILURES
        and (rows := [f for f in r.evidence.get("fetches") or [] if isinstance(f, Mapping)])
        and all(":" in str(f.get("address")) for f in rows if f.get("code") in _PORT_FAILURES)
    ]
    explains = tuple(sorted({r.id for r in broken} | {r.id for r in v6_fetches}))
    return Cause("cause.ipv6_broken", summary, fix, explains, {"endpoints": names}, confidence)


_RULES: tuple[Callable[[Sequence[CheckResult]], Cause | None], ...] = (
    _resolver_unreachable,
    _resolver_failing,
    _no_route,
    _proxy_not_configured,
    _proxy_auth_everywhere,
    _clock_far_off,
    _ntp_blocked,
    _one_interceptor,
    _port_blocked,
    _ipv6_broken,
)
