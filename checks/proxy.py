"""`proxy.effective` (which proxy each target would use, and where that came from) and `proxy.tunnel` (does the
proxy carry a CONNECT to each endpoint and port the connector needs)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from preflight import CodeDoc, Codes, Finding, ObservingCheck, Status, Target, lazy
from preflight.netutil import bracketed
from preflight.probes.proxy import Carrier, TunnelResult

if TYPE_CHECKING:
    import preflight.proxy as proxy_pkg
    from preflight import Plan
    from preflight.context import Context
    from preflight.proxy import ProxyConfig, ProxyInputs, ProxySettings
    from preflight.proxy.sources import Route
    from preflight.proxy.windows import WinInetSettings
else:
    proxy_pkg = lazy.module("preflight.proxy")  # its settings readers cost more to import than listing checks should

EFFECTIVE_TARGET = "proxy settings"

EFFECTIVE_CODES = Codes(
    {
        "proxy.direct": CodeDoc(
            Status.PASS,
            "No proxy is configured: every endpoint is reached directly.",
            "No --proxy, and no HTTPS_PROXY/HTTP_PROXY/ALL_PROXY in the environment (either case).",
            "Nothing to do, unless your network requires a proxy: then configure it for the connector "
            "(<defaultProxy> in its .exe.config) and run again with --proxy.",
        ),
        "proxy.configured": CodeDoc(
            Status.PASS,
            "A proxy is configured; the evidence lists, per endpoint, the route and where it came from.",
            "Each target's route is decided from --proxy, then the environment with NO_PROXY.",
            "Nothing to do; check that the connector itself is configured the same way (its .exe.config).",
        ),
        "proxy.divergent": CodeDoc(
            Status.WARN,
            "The proxy settings disagree: the connector's configured path (its .exe.config or --proxy), WinHTTP (which "
            "certificate-revocation fetches are believed to use), WinINET (the connector's account's, and the "
            "current user's, which the connector does not read), the updater service's .exe.config, a WPAD script "
            "the route does not follow, "
            "WinHTTP's own answer (WinHttpGetProxyForUrl) and the environment would send some endpoints different "
            "ways, so one of them (often CRL/OCSP) may bypass the proxy the connector uses.",
            "Routes computed from each source separately differ for at least one endpoint (listed per source, with "
            "the route the run tested).",
            "Make the connector's proxy (.exe.config), WinHTTP, WPAD and the environment agree, or run with the one "
            "the connector uses. A proxy set only in your own Internet Options (wininet_user) does not reach the "
            "connector, which runs as Network Service: put it in the connector's .exe.config. The updater reads its "
            "own .exe.config (updater): give it the same <defaultProxy> as the connector's, or updates fail.",
        ),
        "proxy.system_proxy_missing": CodeDoc(
            Status.WARN,
            "The connector's traffic goes through a proxy, but WinHTTP's system proxy sends the same hosts direct: "
            "Windows validates the service's certificate chains in the system context, so its CRL, OCSP and AIA "
            "fetches leave without the proxy (where direct port 80 is blocked, chain validation fails: "
            "'RustSslCertificateValidator: Failed to validate chain of certificate').",
            "This host's WinHTTP setting (netsh winhttp show proxy) was read; for a port-80 row of the profile the "
            "run's route goes through a proxy and WinHTTP's goes direct. crl.fetch tests the WinHTTP route.",
            "Set the system proxy to the connector's: `netsh winhttp set proxy <host:port>` (the exact command is in "
            "the summary), as Microsoft's Global Secure Access troubleshooting notes advise.",
        ),
        "proxy.wpad_error": CodeDoc(
            Status.WARN,
            "WPAD discovery finds a script (DHCP option 252 or a wpad.<suffix> DNS record) that cannot be fetched or "
            "fails. Windows components that auto-detect then go without it, after waiting for it on every attempt.",
            "The first wpad.<suffix> name with an address (or DHCP's URL) gave http://<name>/wpad.dat; its direct GET "
            "or its evaluation failed. The names asked, the answer and the error are in the evidence.",
            "Fix or remove the WPAD record (the DNS name or DHCP option 252), or turn off 'Automatically detect "
            "settings' for the connector's account and configure its proxy explicitly.",
        ),
        "proxy.pac_error": CodeDoc(
            Status.FAIL,
            "The proxy auto-config script the connector's route follows fails: a syntax error, an exception, no "
            "FindProxyForURL, or an answer that is not a string. Windows then sends the connector's traffic direct, "
            "which is what the run tested, and what a proxy-only network blocks.",
            "The script ran in a JavaScript engine (QuickJS, through dukpy) isolated in a worker process; the engine's "
            "error and the script's line are in the evidence.",
            "Fix the PAC script (the error names the line), or configure the connector's proxy explicitly "
            "(<defaultProxy><proxy proxyaddress> in its .exe.config).",
        ),
        "proxy.pac_timeout": CodeDoc(
            Status.FAIL,
            "The proxy auto-config script did not answer within --timeout (an endless loop, or far too much work per "
            "URL), or its name lookups (dnsResolve, isInNet, isResolvable) took longer than twice --timeout in all: "
            "WinHTTP gives up on such a script too, and its answers would have been computed from failed lookups.",
            "The worker evaluating FindProxyForURL ran longer than --timeout of its own time and was stopped, or the "
            "run's answers to the script's lookups used up their budget (2 x --timeout; the names asked are in the "
            "evidence).",
            "Fix the PAC script (or, for slow lookups, the resolver it asks); until then configure the connector's "
            "proxy explicitly.",
        ),
        "proxy.pac_unfinished": CodeDoc(
            Status.ERROR,
            "The run ended (its --deadline, or Ctrl-C) before the proxy auto-config script had answered for every "
            "endpoint: the route of those endpoints is not known, so nothing about them is a pass.",
            "The script was still being fetched, started or asked when the run stopped; the endpoints it answered "
            "for are in the evidence.",
            "Run again with a longer --deadline; if the script is slow every time, look at its name lookups (the "
            "evidence lists them) and the resolver.",
        ),
        "proxy.pac_too_large": CodeDoc(
            Status.FAIL,
            "The proxy auto-config script is larger than 4 MiB: not read, not evaluated.",
            "The file or the HTTP answer exceeded 4 MiB; reading stopped there.",
            "Check the URL or file serves the PAC script and not something else; a real PAC is kilobytes.",
        ),
        "proxy.pac_unavailable": CodeDoc(
            Status.FAIL,
            "The proxy auto-config script the connector's route follows cannot be fetched or read (the name does not "
            "resolve, the server does not answer, an HTTP error, or a web page instead of a script).",
            "The file could not be read, or a direct GET of the URL (at most 3 redirects, --timeout) did not return "
            "200 with a script.",
            "Make the PAC URL reachable from this host without a proxy (Windows fetches it directly), or fix the path.",
        ),
        "proxy.invalid_setting": CodeDoc(
            Status.WARN,
            "A proxy setting cannot be used (an https:// or socks URL in the environment, a corrupt WinHTTP record, "
            "an unreadable connector configuration file, the connector's account's WinINET settings this user may "
            "not read).",
            "A proxy setting did not parse or could not be read; it was left out of the routes. The problem and "
            "where it is are in the evidence.",
            "Fix or remove the setting named in the evidence; for settings that could not be read, run as an "
            "administrator.",
        ),
    }
)

TUNNEL_CODES = Codes(
    {
        "proxy.ok": CodeDoc(
            Status.PASS,
            "The proxy opened a CONNECT tunnel to the endpoint.",
            "CONNECT host:port through the proxy was answered 2xx.",
            "Nothing to do.",
        ),
        "proxy.auth_required": CodeDoc(
            Status.FAIL,
            "The proxy demands authentication (407). The connector cannot authenticate to a proxy: its traffic must "
            "be allowed anonymously.",
            "CONNECT was answered 407 Proxy Authentication Required (schemes from Proxy-Authenticate in evidence).",
            "Exempt the connector host (or these endpoints) from proxy authentication.",
        ),
        "proxy.denied": CodeDoc(
            Status.FAIL,
            "The proxy refused the CONNECT (403 or another refusal): its policy blocks this host or port.",
            "CONNECT was answered with a non-2xx status other than 407/502/503/504; the status and the title of the "
            "proxy's error page are in the evidence.",
            "Allow CONNECT to this host and port on the proxy (the connector needs 443, and 80 for CRL/OCSP).",
        ),
        "proxy.bad_gateway": CodeDoc(
            Status.FAIL,
            "The proxy could not reach the endpoint itself (502/503/504).",
            "CONNECT was answered 502, 503 or 504.",
            "The proxy's own outbound path (DNS or firewall) is blocked for this host: ask the proxy team.",
        ),
        "proxy.unreachable": CodeDoc(
            Status.FAIL,
            "The proxy itself cannot be reached (its name does not resolve, or TCP to it fails).",
            "Resolving the proxy or connecting to its port failed.",
            "Check the proxy address and port, and that this host may connect to it.",
        ),
        "proxy.timeout": CodeDoc(
            Status.FAIL,
            "The proxy accepted the connection but did not answer the CONNECT in time.",
            "No response to CONNECT within --timeout.",
            "The proxy is overloaded or holds the request (e.g. waiting for authentication): ask the proxy team.",
        ),
        "proxy.bad_response": CodeDoc(
            Status.FAIL,
            "The proxy answered the CONNECT with something that is not an HTTP response.",
            "The first line was not an HTTP status line, the headers were too large, or the connection closed.",
            "Check that the configured address is an HTTP proxy.",
        ),
        "proxy.failover": CodeDoc(
            Status.WARN,
            "The first proxy of the route's list (a PAC or WPAD answer such as 'PROXY a; PROXY b') cannot be "
            "connected to; the next entry carries the traffic. The connector fails over the same way, so it "
            "works, but every new connection first waits on the dead proxy.",
            "The CONNECT to the first proxy failed to connect (refused, unreachable, no TCP answer within "
            "--timeout); the next proxy, or a DIRECT entry, was tried as the connector's .NET and WinHTTP do, and "
            "it carried the tunnel. Every proxy tried is in the evidence, in order.",
            "Fix or remove the dead proxy in the PAC/WPAD script (or the proxy itself): the connector's connections "
            "each pay its connect timeout before they fail over.",
        ),
    }
)

_TUNNEL_OUTCOMES = {
    "ok": "proxy.ok",
    "auth_required": "proxy.auth_required",
    "denied": "proxy.denied",
    "bad_gateway": "proxy.bad_gateway",
    "unreachable": "proxy.unreachable",
    "timeout": "proxy.timeout",
    "bad_response": "proxy.bad_response",
}


def judge_tunnel(seen: TunnelResult) -> Finding:
    """One CONNECT's verdict from the proxy's answer (status, reason, page title) or the failure. Pure."""
    code = _TUNNEL_OUTCOMES.get(seen.outcome, "proxy.bad_response")
    where = f"{seen.host}:{seen.port} via {seen.proxy}"
    if code == "proxy.ok":
        summary = f"{where}: tunnel open (HTTP {seen.status})"
    elif code == "proxy.auth_required":
        schemes = ", ".join(seen.proxy_authenticate) or "unspecified"
        summary = f"{where}: 407 proxy authentication required ({schemes})"
    elif seen.status is not None:
        summary = f"{where}: HTTP {seen.status} {seen.reason or ''}".rstrip()
        if seen.title:
            summary += f" — {seen.title}"
    else:
        summary = f"{where}: {seen.error}"
    return TUNNEL_CODES.finding(code, summary, seen.to_json())


# Sources the route never consults but which say something about it (a WPAD script, WinHTTP's own answer, the
# administrator's own WinINET settings, the updater's .exe.config): each is compared with the route the run tested.
_COMPARED_WITH_THE_ROUTE = {"wpad", "winhttp_api", "wininet_user", "updater"}


class RoutedTargets(Protocol):
    """What judge_effective reads: the proxy settings, the targets and each one's route (a Plan, or a Context)."""

    @property
    def proxy(self) -> ProxySettings: ...

    def port_targets(self, *, tls_only: bool = False) -> list[Target]: ...

    def route(self, host: str, port: int) -> Route: ...


@dataclasses.dataclass(frozen=True)
class EffectiveObserved:
    """The settings as read and answered, each target's route (and what every source alone would do), and the
    targets whose sources disagree."""

    settings: ProxySettings
    routes: Mapping[str, Mapping[str, Any]]
    divergent: tuple[str, ...]
    # port-80 targets the connector reaches through a proxy while WinHTTP (certificate validation) goes direct:
    # (target, the connector's proxy)
    system_gaps: tuple[tuple[str, str, str], ...] = ()


def observe_effective(plan: RoutedTargets) -> EffectiveObserved:
    """The route of every target and where it came from: the run's own facts, nothing asked on the network."""
    settings = plan.proxy
    routes: dict[str, dict[str, Any]] = {}
    divergent: list[str] = []
    gaps: list[tuple[str, str, str]] = []
    for target in plan.port_targets():
        if target.port is None or target.wildcard or target.missing:
            continue
        route = plan.route(target.host, target.port)
        system = settings.system_route(target.host, target.port) if target.port == 80 else None
        if system is not None and system.proxy is None and route.proxy is not None:
            gaps.append((target.key, route.proxy.display, f"{bracketed(route.proxy.host)}:{route.proxy.port}"))
        entry: dict[str, Any] = {"proxy": route.proxy.display if route.proxy else None, "source": route.source}
        by_source = settings.source_routes(target.host, target.port, tls=target.port != 80)
        if by_source.keys() & _COMPARED_WITH_THE_ROUTE:
            by_source = {"tested": route, **by_source}
        if len(by_source) > 1:
            entry["by_source"] = {name: r.proxy.display if r.proxy else "direct" for name, r in by_source.items()}
            if len(set(entry["by_source"].values())) > 1:
                divergent.append(f"{target.key}: " + ", ".join(f"{k} {v}" for k, v in entry["by_source"].items()))
        routes[target.key] = entry
    return EffectiveObserved(settings, routes, tuple(divergent), tuple(gaps))


def judge_effective(seen: EffectiveObserved) -> Finding:
    """A script that could not decide, then WPAD's failure, then settings Windows or .NET ignore, then sources
    that disagree; else where the routes go. Pure."""
    settings, routes = seen.settings, dict(seen.routes)
    evidence = {**_inputs_evidence(settings.inputs), "routes": routes, **_scripts_evidence(settings)}
    env = settings.inputs.environment
    problems = [*(env.problems if env is not None else ()), *settings.inputs.problems]
    wpad = dict(settings.wpad.evidence)
    if settings.pac.failure is not None:
        code, message = settings.pac.failure
        evidence["pac"]["error"] = message
        tested = "" if code == "proxy.pac_unfinished" else "; the endpoints were tested on the route without the script"
        return EFFECTIVE_CODES.finding(code, f"{message}{tested}", evidence)
    if wpad.get("error"):
        return EFFECTIVE_CODES.finding(
            "proxy.wpad_error",
            f"WPAD: {wpad['url']} ({wpad.get('via')}): {wpad['error']['message']}; "
            "the endpoints were tested on the route without it",
            evidence,
        )
    if problems:
        evidence["problems"] = problems
        return EFFECTIVE_CODES.finding(
            "proxy.invalid_setting", f"ignored proxy settings: {'; '.join(problems)}", evidence
        )
    found = _wpad_note(wpad)
    if seen.system_gaps:
        key, proxy, address = seen.system_gaps[0]
        evidence["system_route_direct"] = [{"target": t, "connector_proxy": p} for t, p, _a in seen.system_gaps]
        if seen.divergent:
            evidence["divergent"] = list(seen.divergent)
        more = f" and {len(seen.system_gaps) - 1} more" if len(seen.system_gaps) > 1 else ""
        return EFFECTIVE_CODES.finding(
            "proxy.system_proxy_missing",
            f"the connector goes via {proxy}, but WinHTTP's system proxy is direct for {key}{more}: certificate "
            f"validation fetches (CRL/OCSP/AIA) leave without the proxy; fix: netsh winhttp set proxy {address}",
            evidence,
        )
    if seen.divergent:
        evidence["divergent"] = list(seen.divergent)
        return EFFECTIVE_CODES.finding(
            "proxy.divergent",
            f"proxy sources disagree for {len(seen.divergent)} endpoint(s): {seen.divergent[0]}{found}",
            evidence,
        )
    proxied = sorted({r["proxy"] for r in routes.values() if r["proxy"]})
    if not proxied:
        return EFFECTIVE_CODES.finding(
            "proxy.direct", f"no proxy configured: every endpoint is reached directly{found}", evidence
        )
    direct = sum(1 for r in routes.values() if r["proxy"] is None)
    summary = f"{len(routes) - direct} endpoint(s) via {', '.join(proxied)}, {direct} direct{found}"
    return EFFECTIVE_CODES.finding("proxy.configured", summary, evidence)


def _inputs_evidence(inputs: ProxyInputs) -> dict[str, Any]:
    """What the run was told and read (never a credential: proxy URLs are shown without their userinfo)."""
    evidence: dict[str, Any] = {
        "explicit": inputs.explicit.display if inputs.explicit else ("none" if inputs.explicit_none else None),
        "environment": _environment(inputs),
        "send_credentials": inputs.use_credentials,
    }
    credentials = _with_credentials(inputs)
    if credentials:
        evidence["credentials_configured"] = credentials  # where a proxy URL carries a user (never the values)
    for key, config in (("connector_config", inputs.connector), ("updater_config", inputs.updater)):
        if config is not None:
            evidence[key] = dataclasses.asdict(config)
            if config.proxy_address:
                evidence[key]["proxy_address"] = proxy_pkg.redact_url(config.proxy_address)
            if config.found:
                evidence[key]["net_proxy"] = config.web_proxy().why  # how much of the system's settings .NET takes
    if inputs.winhttp is not None:
        evidence["winhttp"] = dataclasses.asdict(inputs.winhttp)
    if inputs.wininet_scope is not None:
        evidence["wininet_scope"] = inputs.wininet_scope.to_json()  # whose WinINET settings the connector reads
    if inputs.wininet is not None:
        evidence["wininet"] = _wininet(inputs.wininet)
    if inputs.wininet_user is not None:
        evidence["wininet_user"] = _wininet(inputs.wininet_user)
    return evidence


def _scripts_evidence(settings: ProxySettings) -> dict[str, Any]:
    """What the scripts answered and how they ran: the route's script, WPAD discovery, WinHTTP's own answer."""
    evidence: dict[str, Any] = {}
    pac = settings.pac
    if pac.origin is not None:
        evidence["pac"] = {
            "origin": pac.origin,
            **pac.evidence,
            "results": {f"{h}:{p}": r for (h, p), r in pac.decisions.items()},
        }
    if settings.wpad.evidence:
        evidence["wpad"] = dict(settings.wpad.evidence)
    if settings.winhttp_api.evidence:
        evidence["winhttp_api"] = dict(settings.winhttp_api.evidence)
    return evidence


def _wininet(settings: WinInetSettings) -> dict[str, Any]:
    found = {
        "enabled": settings.enabled,
        "servers": settings.servers,
        "bypass": list(settings.bypass.patterns),
        "autoconfig_url": settings.autoconfig_url,
        "auto_detect": settings.auto_detect,
        "from": settings.origin,
    }
    if settings.note:
        found["note"] = settings.note
    return found


def _wpad_note(wpad: dict[str, Any]) -> str:
    """A WPAD script is worth a word in the summary whether the route follows it or not: one nobody knew about
    is a finding in itself."""
    if not wpad.get("url"):
        return ""
    if wpad.get("used"):
        return f" (WPAD script {wpad['url']}, {wpad['why']})"
    return f"; a WPAD script exists at {wpad['url']}, not followed: {wpad['why']}"


def _with_credentials(settings: ProxyInputs) -> list[str]:
    """The settings whose proxy URL carries a user name and password."""
    found = []
    if settings.explicit is not None and settings.explicit.has_credentials:
        found.append("--proxy")
    env = settings.environment
    for entry in (env.https, env.http) if env is not None else ():
        if entry is not None and entry[1].has_credentials:
            found.append(entry[0])
    address = settings.connector.proxy_address if settings.connector is not None else None
    if address and proxy_pkg.redact_url(address) != address:
        found.append("connector config")
    return found


def _environment(settings: ProxyInputs) -> dict[str, Any]:
    env = settings.environment
    if env is None:
        return {}
    out: dict[str, Any] = {}
    if env.https:
        out[env.https[0]] = env.https[1].display
    if env.http:
        out[env.http[0]] = env.http[1].display
    if env.no_proxy:
        out[env.no_proxy[0]] = [rule.text for rule in env.no_proxy[1]]
    return out


class ProxyEffectiveCheck(ObservingCheck[EffectiveObserved]):
    id = "proxy.effective"
    title = "The proxy each endpoint would use, where that setting came from, and whether sources disagree"
    requires = (
        "nothing on the network (reads --proxy, --connector-config, the environment; on Windows WinHTTP, "
        "WinINET and the connector's .exe.config)"
    )
    needs: tuple[str, ...] = ()
    codes = EFFECTIVE_CODES

    def targets(self, plan: Plan) -> Iterable[Target]:
        return [Target(host=EFFECTIVE_TARGET)]

    async def observe(self, target: Target, ctx: Context) -> EffectiveObserved:
        return observe_effective(ctx)  # the run's own facts: its settings, targets and routes

    judge = staticmethod(judge_effective)


async def observe_tunnel(target: Target, ctx: Context) -> Carrier:
    """The CONNECTs through the proxy the route takes for this host and port, down its proxy list while a proxy
    cannot be connected to (the run's shared tunnel probes)."""
    assert target.port is not None
    return await ctx.carrier(target.host, target.port)


# Sources that can name a proxy the route does not take: what an admin's browser or another component finds.
_DISCOVERABLE = {"wpad", "wininet_user", "winhttp_api", "winhttp", "wininet", "environment"}


def discovered_proxies(plan: RoutedTargets) -> list[tuple[ProxyConfig, str]]:
    """(proxy, the source that names it) for each proxy some source would send a target through while the route
    the connector takes goes direct: the proxy 'the browser uses'. In the order first found."""
    found: dict[str, tuple[ProxyConfig, str]] = {}
    for target in plan.port_targets():
        if target.port is None or target.wildcard or target.missing:
            continue
        if not plan.route(target.host, target.port).direct:
            continue
        for name, route in plan.proxy.source_routes(target.host, target.port, tls=target.port != 80).items():
            if name in _DISCOVERABLE and route.proxy is not None:
                found.setdefault(route.proxy.display, (route.proxy, name))
    return list(found.values())


def _first_direct_endpoint(plan: RoutedTargets) -> Target | None:
    """The endpoint a discovered proxy is tried with: a direct 443 row, the connector's service rows first."""
    direct = [
        t
        for t in plan.port_targets()
        if t.port == 443 and not (t.wildcard or t.missing) and plan.route(t.host, t.port).direct
    ]
    return next((t for t in direct if "service" in t.roles), direct[0] if direct else None)


def judge_carrier(seen: Carrier) -> Finding:
    """The verdict on a proxied endpoint from every CONNECT tried down the route's proxy list. One proxy tried:
    its own verdict. Passed over to a later entry that carried the tunnel: proxy.failover. Passed over to one
    that refused: that one's verdict, saying what was passed over. None could be connected to: unreachable,
    every one named. Pure."""
    if not seen.failed_over:
        return judge_tunnel(seen.tried[0])
    dead = [t for t in seen.tried if t.outcome == "unreachable"]
    passed = "; ".join(f"{t.proxy} ({t.error or t.outcome})" for t in dead)
    last = seen.tried[-1]
    evidence = {**last.to_json(), "tried": [t.to_json() for t in seen.tried], "carried_by": seen.via}
    where = f"{last.host}:{last.port}"
    if seen.direct:
        return TUNNEL_CODES.finding(
            "proxy.failover",
            f"{where}: {passed} cannot be connected to; the list's DIRECT entry carries the traffic (tested directly)",
            evidence,
        )
    if seen.proxy is None:
        return TUNNEL_CODES.finding(
            "proxy.unreachable", f"{where}: no proxy of the list can be connected to: {passed}", evidence
        )
    if last.outcome == "ok":
        return TUNNEL_CODES.finding(
            "proxy.failover",
            f"{where}: {passed} cannot be connected to; {last.proxy} carries the tunnel (HTTP {last.status})",
            evidence,
        )
    verdict = judge_tunnel(last)
    return dataclasses.replace(verdict, summary=f"{verdict.summary} (after passing over {passed})", evidence=evidence)


class ProxyTunnelCheck(ObservingCheck[Carrier]):
    id = "proxy.tunnel"
    title = "HTTP CONNECT through the proxy to every endpoint and port that goes through it"
    requires = "a configured proxy (--proxy or the environment) reachable from this host"
    needs: tuple[str, ...] = ()
    codes = TUNNEL_CODES

    def targets(self, plan: Plan) -> Iterable[Target]:
        return [t for t in plan.port_targets() if plan.proxied(t)]

    observe = staticmethod(observe_tunnel)
    judge = staticmethod(judge_carrier)


class ProxyDiscoveredCheck(ObservingCheck[TunnelResult]):
    """A proxy the run found (a WPAD script, WinINET, WinHTTP, the environment) that the connector's route does not
    take is tried with one CONNECT: when direct egress is blocked, that tunnel is what confirms the one fix
    (cause.proxy_not_configured), or shows the proxy would not help either."""

    id = "proxy.discovered"
    title = "One CONNECT through each proxy the run found but the connector's route does not take"
    requires = "a proxy named by WPAD, WinINET, WinHTTP or the environment that the route does not use"
    needs: tuple[str, ...] = ()
    codes = TUNNEL_CODES

    def targets(self, plan: Plan) -> Iterable[Target]:
        endpoint = _first_direct_endpoint(plan)
        if endpoint is None:
            return []
        return [
            Target(host=proxy.host, port=proxy.port, purposes=(f"a proxy found in {source}",))
            for proxy, source in discovered_proxies(plan)
        ]

    async def observe(self, target: Target, ctx: Context) -> TunnelResult:
        proxy = next(p for p, _source in discovered_proxies(ctx) if (p.host, p.port) == (target.host, target.port))
        endpoint = _first_direct_endpoint(ctx)
        assert endpoint is not None and endpoint.port is not None
        return await ctx.tunnel(proxy, endpoint.host, endpoint.port)

    judge = staticmethod(judge_tunnel)
