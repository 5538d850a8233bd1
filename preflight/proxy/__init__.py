"""Which proxy each target's traffic would use, and why: explicit option, environment (with NO_PROXY), or none.

Pure functions over settings; reading the settings (environment, later the Windows registry and the connector's
.exe.config) is separate. Credentials in a proxy URL are kept out of every printed form.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from preflight.errors import UsageError


@dataclasses.dataclass(frozen=True)
class ProxyConfig:
    scheme: str  # http (CONNECT for TLS, absolute-form for plain HTTP)
    host: str
    port: int
    username: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)

    @property
    def display(self) -> str:
        """The URL without its userinfo: the only form that may be printed, written or used as a key. Not even a
        mask of the credentials: a masked URL still looks like one carrying credentials to every scanner (the
        bundle's self-audit among them); `has_credentials` says whether there were any."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def has_credentials(self) -> bool:
        return self.username is not None


def parse_proxy_url(value: str, *, where: str = "--proxy", default_port: int = 8080) -> ProxyConfig:
    """An http:// proxy URL (the scheme may be left out). `default_port` for a URL without one: 8080 for options
    and the environment as most tools do, 80 where the connector's own stack (.NET's Uri, a PAC result) decides."""
    text = value.strip()
    if "://" not in text:
        text = "http://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"{where} {redact_url(value)!r}: {exc}") from None
    if parts.scheme.lower() != "http":
        raise UsageError(f"{where} {redact_url(value)!r}: only http:// proxies are supported (CONNECT is used for TLS)")
    host = (parts.hostname or "").lower()
    if not host:
        raise UsageError(f"{where} {redact_url(value)!r}: no proxy host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise UsageError(f"{where} {redact_url(value)!r}: a proxy URL has no path")
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return ProxyConfig("http", host, port or default_port, username, password)


def redact_url(value: str) -> str:
    """Any URL-like string without its userinfo, for messages and evidence about proxy settings: everything up to
    the last '@' after the scheme goes, however malformed the rest ('u:secret@://' included)."""
    scheme = re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", value)
    prefix = scheme.group(0) if scheme else ""
    rest = value[len(prefix) :]
    at = rest.rfind("@")
    return value if at < 0 else prefix + rest[at + 1 :]


_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/?#@'\"<>]*@")


def strip_userinfo(text: str) -> str:
    """Text (an error message) with the userinfo of every URL in it removed."""
    return _USERINFO.sub(r"\1", text)


@dataclasses.dataclass(frozen=True)
class NoProxyRule:
    text: str

    def matches(self, host: str) -> bool:
        """httpx/curl semantics: '*' all; 'example.com' the name and its subdomains; '.example.com' subdomains
        only; an IP matches exactly; CIDR is honoured here for IPs although many clients ignore it."""
        rule = self.text.strip().lower()
        host = host.lower().rstrip(".")
        if not rule:
            return False
        if rule == "*":
            return True
        rule = rule.split(":")[0] if rule.count(":") == 1 else rule.strip("[]")
        try:
            network = ipaddress.ip_network(rule, strict=False)
        except ValueError:
            network = None
        if network is not None:
            try:
                return ipaddress.ip_address(host) in network
            except ValueError:
                return False
        if rule.startswith("."):
            return host.endswith(rule)
        if rule.startswith("*."):
            return host.endswith(rule[1:])
        return host == rule or host.endswith("." + rule)


def parse_no_proxy(value: str) -> tuple[NoProxyRule, ...]:
    return tuple(NoProxyRule(part.strip()) for part in value.split(",") if part.strip())


@dataclasses.dataclass(frozen=True)
class EnvironmentProxies:
    https: tuple[str, ProxyConfig] | None  # (variable name, proxy)
    http: tuple[str, ProxyConfig] | None
    no_proxy: tuple[str, tuple[NoProxyRule, ...]] | None
    problems: tuple[str, ...] = ()


def from_environment(env: Mapping[str, str]) -> EnvironmentProxies:
    """HTTPS_PROXY/HTTP_PROXY/ALL_PROXY/NO_PROXY in either case (lower case wins, as in curl and httpx)."""
    problems: list[str] = []

    def pick(*names: str) -> tuple[str, ProxyConfig] | None:
        for name in names:
            for variant in (name.lower(), name.upper()):
                value = env.get(variant)
                if value:
                    try:
                        return variant, parse_proxy_url(value, where=variant)
                    except UsageError as exc:
                        problems.append(str(exc))
                        return None
        return None

    https = pick("HTTPS_PROXY", "ALL_PROXY")
    http = pick("HTTP_PROXY", "ALL_PROXY")
    no_proxy = None
    for variant in ("no_proxy", "NO_PROXY"):
        if env.get(variant):
            no_proxy = (variant, parse_no_proxy(env[variant]))
            break
    return EnvironmentProxies(https, http, no_proxy, tuple(problems))


@dataclasses.dataclass(frozen=True)
class Route:
    """How traffic to one host and port would leave this host."""

    proxy: ProxyConfig | None
    source: str  # "--proxy", "HTTPS_PROXY", "none (NO_PROXY: .contoso.com)", "direct (no proxy configured)"...

    @property
    def direct(self) -> bool:
        return self.proxy is None


@dataclasses.dataclass(frozen=True)
class ProxySettings:
    """What the run was told and found: --proxy URL|none, the connector's <defaultProxy>, WinHTTP, WinINET and
    the environment. Probes follow `route`; `source_routes` shows what each source alone would do."""

    explicit: ProxyConfig | None = None
    explicit_none: bool = False
    environment: EnvironmentProxies | None = None
    use_credentials: bool = False
    connector: Any = None  # windows.DotNetProxy
    winhttp: Any = None  # windows.WinHttpSettings
    wininet: Any = None  # windows.WinInetSettings
    pac_origin: str | None = None  # where the automatic configuration script came from (--pac, scriptLocation...)
    pac_decisions: Mapping[tuple[str, int], str] = dataclasses.field(default_factory=dict)  # (host, port) → result
    pac_failure: tuple[str, str] | None = None  # (proxy.pac_* code, one line) when the script could not decide
    pac_evidence: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # engine, lookups, myIpAddress
    problems: tuple[str, ...] = ()
    local_domain: str | None = None  # this machine's primary DNS domain (.NET's bypassonlocal, WPAD)
    search_list: tuple[str, ...] = ()  # the DNS suffix search list (WPAD tries each)
    wpad_evidence: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # discovery, script, used or why not
    wpad_decisions: Mapping[tuple[str, int], str] = dataclasses.field(default_factory=dict)  # when not the route
    winhttp_answers: Mapping[tuple[str, int], str] = dataclasses.field(default_factory=dict)  # WinHttpGetProxyForUrl
    winhttp_api_evidence: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # its raw answers and errors

    def route(self, host: str, port: int, *, tls: bool) -> Route:
        if self.explicit_none:
            return Route(None, "direct (--proxy none)")
        if self.explicit is not None:
            return Route(self.explicit, "--proxy")
        # The connector's .NET stack checks its bypass list first; then an automatic configuration script decides
        # before a static proxy address, as in .NET's WebProxy (proxyaddress is the fallback).
        bypass = self._connector_bypass(host, port, tls)
        if bypass is not None:
            return bypass
        pac = self._pac_route(host, port)
        if pac is not None:
            return pac
        connector = self._connector_route(host, tls)
        if connector is not None:
            return connector
        return self._environment_route(host, tls)

    def source_routes(self, host: str, port: int, *, tls: bool) -> dict[str, Route]:
        """What each configured source alone would do for this target."""
        routes: dict[str, Route] = {}
        if self.explicit is not None:
            routes["--proxy"] = Route(self.explicit, "--proxy")
        connector = self._connector_bypass(host, port, tls) or self._connector_route(host, tls)
        if connector is not None:
            routes["connector"] = connector
        pac = self._pac_route(host, port)
        if pac is not None:
            routes["pac"] = pac
        wpad = self.wpad_decisions.get((host, port))
        if wpad is not None:  # a WPAD script the route does not follow, which other Windows components may
            routes["wpad"] = _script_route(wpad, f"WPAD {self.wpad_evidence.get('url')}")
        answer = self.winhttp_answers.get((host, port))
        if answer is not None:
            routes["winhttp_api"] = _script_route(answer, "WinHttpGetProxyForUrl")
        if self.winhttp is not None:
            routes["winhttp"] = _windows_route(self.winhttp.manual, self.winhttp.proxy, self.winhttp.bypass, host,
                                               tls, "WinHTTP")  # fmt: skip
        if self.wininet is not None:
            routes["wininet"] = self._wininet_route(host, tls, "WinINET")
        env = self.environment
        if env is not None and (env.https or env.http):
            routes["environment"] = self._environment_route(host, tls)
        return routes

    def _connector_route(self, host: str, tls: bool) -> Route | None:
        config = self.connector
        if config is None or not config.found:
            return None
        if not config.enabled:
            return Route(None, f"direct (<defaultProxy enabled=false> in {config.source})")
        if config.proxy_address:
            try:
                return Route(parse_proxy_url(config.proxy_address, where=config.source, default_port=80),
                             f"connector ({config.source})")  # fmt: skip
            except UsageError:
                return Route(None, f"direct (unusable proxyaddress in {config.source})")
        if config.use_system_default and self.wininet is not None:
            return self._wininet_route(host, tls, f"connector → system default ({config.source})")
        return None

    def _connector_bypass(self, host: str, port: int, tls: bool) -> Route | None:
        config = self.connector
        if config is None or not config.found or not config.enabled:
            return None
        matched = config.bypassed(host, port, "https" if tls else "http", self.local_domain)
        return Route(None, f"direct ({config.source} bypass {matched!r})") if matched else None

    def _wininet_route(self, host: str, tls: bool, label: str) -> Route:
        server = ";".join(f"{k}={v}" if k != "*" else v for k, v in self.wininet.servers.items())
        return _windows_route(self.wininet.enabled, server, ";".join(self.wininet.bypass.patterns), host, tls, label)

    def _pac_route(self, host: str, port: int) -> Route | None:
        result = self.pac_decisions.get((host, port))
        return None if result is None else _script_route(result, f"PAC {self.pac_origin}")

    def _environment_route(self, host: str, tls: bool) -> Route:
        env = self.environment
        if env is None:
            return Route(None, "direct (no proxy configured)")
        chosen = env.https if tls else env.http
        if chosen is None:
            return Route(None, "direct (no proxy configured)")
        if env.no_proxy is not None:
            variable, rules = env.no_proxy
            for rule in rules:
                if rule.matches(host):
                    return Route(None, f"direct ({variable} rule {rule.text!r})")
        return Route(chosen[1], chosen[0])

    def any(self) -> bool:
        if self.explicit_none:
            return False
        env = self.environment
        return self.explicit is not None or (env is not None and (env.https is not None or env.http is not None))


def _script_route(result: str, origin: str) -> Route:
    """The route a FindProxyForURL answer ("PROXY p:3128; DIRECT") gives: the first entry, as the connector
    follows it (fallbacks are not tested)."""
    from preflight.proxy.pac import parse_result

    decisions = parse_result(result)
    first = decisions[0].raw if decisions else ""
    kind = decisions[0].kind if decisions else ""
    label = f"{origin}: {first}"
    if kind in ("PROXY", "HTTP") and decisions[0].server:
        try:
            return Route(parse_proxy_url(decisions[0].server, where="PAC result", default_port=80), label)
        except UsageError:
            return Route(None, f"direct (unusable PAC result {first!r})")
    if kind == "DIRECT":
        return Route(None, f"direct ({label})")
    return Route(None, f"direct ({label}: not an HTTP proxy, which the connector cannot use)")


def _windows_route(enabled: bool, server: str, bypass: str, host: str, tls: bool, label: str) -> Route:
    from preflight.proxy.windows import BypassList, parse_proxy_server, proxy_for

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
