"""Where a proxy route can come from, one `RouteSource` each: --proxy, the connector's <defaultProxy>, an
automatic configuration script (the one the route follows, a WPAD script it does not, WinHTTP's own answer),
WinHTTP, WinINET and the environment. Each says what it alone would do for a target, or nothing; the order in
which the connector consults them is ProxySettings.route's. Pure: reading the settings is elsewhere."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from preflight.errors import UsageError
from preflight.proxy.pac import PacDecision, parse_result
from preflight.proxy.url import ProxyConfig, parse_proxy_url
from preflight.proxy.windows import (
    BypassList,
    DotNetProxy,
    WinHttpSettings,
    WinInetSettings,
    parse_proxy_server,
    proxy_for,
)

if TYPE_CHECKING:
    from preflight.proxy.environment import EnvironmentProxies


@dataclasses.dataclass(frozen=True)
class Route:
    """How traffic to one host and port would leave this host. `fallbacks`: what a proxy auto-config answer lists
    after its first entry ("PROXY a; PROXY b; DIRECT"), in order, None for DIRECT: when a proxy cannot be
    connected to, the connector's .NET tries the next (reference source, System/Net/_ProxyChain.cs: ProxyChain and
    ProxyScriptChain enumerate the script's proxies; HttpWebRequest moves on when a connection fails), as
    WinHTTP does with a proxy list."""

    proxy: ProxyConfig | None
    source: str  # "--proxy", "HTTPS_PROXY", "direct (NO_PROXY rule '.contoso.com')", "direct (no proxy configured)"
    fallbacks: tuple[ProxyConfig | None, ...] = ()

    @property
    def direct(self) -> bool:
        return self.proxy is None


NO_PROXY_CONFIGURED = Route(None, "direct (no proxy configured)")


class RouteSource(Protocol):
    """One source of proxy settings."""

    @property
    def name(self) -> str:
        """How reports name it: "--proxy", "connector", "pac", "wpad", "winhttp_api", "winhttp", "wininet",
        "environment"."""
        ...

    def route(self, host: str, port: int, *, tls: bool) -> Route | None:
        """What this source alone would do for the target; None when it has no say (the next source decides)."""
        ...


@dataclasses.dataclass(frozen=True)
class ExplicitProxy:
    """--proxy URL."""

    proxy: ProxyConfig
    name: str = "--proxy"

    def route(self, host: str, port: int, *, tls: bool) -> Route:
        return Route(self.proxy, "--proxy")


@dataclasses.dataclass(frozen=True)
class ConnectorProxy:
    """The connector's (or its updater's) <defaultProxy> (.exe.config, else machine.config), as .NET's WebProxy
    applies it: the bypass list, then proxyaddress, then the system default (WinINET) under usesystemdefault. An
    automatic script comes between the bypass list and proxyaddress: ProxySettings.route puts `bypass_list()`
    before it."""

    config: DotNetProxy
    wininet: WinInetSettings | None = None
    local_domain: str | None = None  # bypassonlocal: names in this machine's own DNS domain
    name: str = "connector"

    def route(self, host: str, port: int, *, tls: bool) -> Route | None:
        return self.bypassed(host, port, tls=tls) or self._proxy(host, tls)

    def bypass_list(self) -> ConnectorBypass:
        return ConnectorBypass(self)

    def bypassed(self, host: str, port: int, *, tls: bool) -> Route | None:
        config = self.config
        if not config.found or not config.enabled:
            return None
        matched = config.bypassed(host, port, "https" if tls else "http", self.local_domain)
        return Route(None, f"direct ({config.source} bypass {matched!r})") if matched else None

    def _proxy(self, host: str, tls: bool) -> Route | None:
        config = self.config
        if not config.found:
            return None
        web = config.web_proxy()
        if not web.enabled:
            return Route(None, f"direct (<defaultProxy enabled=false> in {config.source})")
        system = self.wininet if web.system_static else None
        if config.proxy_address:
            # The address replaces the system's; the system's bypass list stays unless the element has its own.
            matched = system.bypass.matches(host) if system is not None and not config.bypass_regexes else None
            if matched:
                return Route(None, f"direct (WinINET bypass {matched!r}, kept by usesystemdefault in {config.source})")
            try:
                return Route(
                    parse_proxy_url(config.proxy_address, where=config.source, default_port=80),
                    f"{self.name} ({config.source})",
                )
            except UsageError:
                return Route(None, f"direct (unusable proxyaddress in {config.source})")
        if system is not None:
            label = f"{self.name} → system default ({config.source})"
            return WinInetProxy(system, label).route(host, 0, tls=tls)
        return None


@dataclasses.dataclass(frozen=True)
class ConnectorBypass:
    """The connector's bypass list alone: it decides before an automatic configuration script does."""

    connector: ConnectorProxy
    name: str = "connector"

    def route(self, host: str, port: int, *, tls: bool) -> Route | None:
        return self.connector.bypassed(host, port, tls=tls)


@dataclasses.dataclass(frozen=True)
class ScriptAnswers:
    """FindProxyForURL's answers, per (host, port): the script the route follows ("pac"), a WPAD script it does
    not ("wpad"), or WinHttpGetProxyForUrl ("winhttp_api")."""

    name: str
    origin: str  # "PAC <where>", "WPAD <url>", "WinHttpGetProxyForUrl"
    answers: Mapping[tuple[str, int], str]

    def route(self, host: str, port: int, *, tls: bool) -> Route | None:
        answer = self.answers.get((host, port))
        return None if answer is None else script_route(answer, self.origin)


@dataclasses.dataclass(frozen=True)
class WinHttpProxy:
    """WinHTTP's machine setting (netsh winhttp set proxy): what the connector's OS components use."""

    settings: WinHttpSettings
    name: str = "winhttp"

    def route(self, host: str, port: int, *, tls: bool) -> Route:
        s = self.settings
        return _windows_route(s.manual, s.proxy, s.bypass, host, tls, "WinHTTP")


@dataclasses.dataclass(frozen=True)
class WinInetProxy:
    """WinINET's per-user setting (Internet Options), which <defaultProxy usesystemdefault> follows."""

    settings: WinInetSettings
    label: str = "WinINET"
    name: str = "wininet"

    def route(self, host: str, port: int, *, tls: bool) -> Route:
        s = self.settings
        return _windows_route(s.enabled, s.server_text, ";".join(s.bypass.patterns), host, tls, self.label)


@dataclasses.dataclass(frozen=True)
class EnvironmentProxy:
    """HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY; no say when none of the proxy variables is set."""

    environment: EnvironmentProxies
    name: str = "environment"

    def route(self, host: str, port: int, *, tls: bool) -> Route | None:
        env = self.environment
        if env.https is None and env.http is None:
            return None
        chosen = env.https if tls else env.http
        if chosen is None:
            return NO_PROXY_CONFIGURED
        if env.no_proxy is not None:
            variable, rules = env.no_proxy
            for rule in rules:
                if rule.matches(host):
                    return Route(None, f"direct ({variable} rule {rule.text!r})")
        return Route(chosen[1], chosen[0])


# Entries of one proxy auto-config answer that the probes follow: each dead proxy costs a connection timeout, so a
# list of 50 ends after these (the rest are reported, not tried).
MAX_FAILOVER = 4


def script_route(result: str, origin: str) -> Route:
    """The route a FindProxyForURL answer ("PROXY a:3128; PROXY b:3128; DIRECT") gives: its first entry, with the
    later ones as the fallbacks the connector turns to when a proxy cannot be connected to."""
    decisions = parse_result(result)
    first = decisions[0].raw if decisions else ""
    kind = decisions[0].kind if decisions else ""
    label = f"{origin}: {first}"
    fallbacks = tuple(_entries(decisions[1:]))[: MAX_FAILOVER - 1]
    if kind in ("PROXY", "HTTP") and decisions[0].server:
        try:
            proxy = parse_proxy_url(decisions[0].server, where="PAC result", default_port=80)
            return Route(proxy, label if len(decisions) == 1 else f"{origin}: {result.strip()}", fallbacks)
        except UsageError:
            return Route(None, f"direct (unusable PAC result {first!r})")
    if kind == "DIRECT":
        return Route(None, f"direct ({label})")
    return Route(None, f"direct ({label}: not an HTTP proxy, which the connector cannot use)")


def _entries(decisions: Sequence[PacDecision]) -> Iterator[ProxyConfig | None]:
    """The entries a client can use, in order: HTTP proxies (PROXY, HTTP) and DIRECT; SOCKS and the like are
    skipped, as the connector cannot use them."""
    for decision in decisions:
        if decision.kind == "DIRECT":
            yield None
        elif decision.kind in ("PROXY", "HTTP") and decision.server:
            try:
                yield parse_proxy_url(decision.server, where="PAC result", default_port=80)
            except UsageError:
                continue


def _windows_route(enabled: bool, server: str, bypass: str, host: str, tls: bool, label: str) -> Route:
    if not enabled or not server:
        return Route(None, f"direct ({label}: no proxy)")
    matched = BypassList.parse(bypass).matches(host)
    if matched:
        return Route(None, f"direct ({label} bypass {matched!r})")
    try:
        proxy = proxy_for(parse_proxy_server(server), "https" if tls else "http")
    except UsageError:
        return Route(None, f"direct ({label}: unusable proxy setting)")
    return Route(proxy, label) if proxy else Route(None, f"direct ({label}: no proxy for this scheme)")
