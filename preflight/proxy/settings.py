"""Which proxy each target's traffic would use, and why: --proxy, the connector's <defaultProxy>, an automatic
configuration script, WinHTTP, WinINET and the environment. Pure functions over settings; reading them is
elsewhere (windows.py, environment.py, automatic.py)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from preflight.errors import UsageError
from preflight.proxy.environment import EnvironmentProxies
from preflight.proxy.pac import parse_result
from preflight.proxy.url import ProxyConfig, parse_proxy_url
from preflight.proxy.windows import (
    BypassList,
    DotNetProxy,
    FileReader,
    WindowsSettingsError,
    WindowsSettingsReader,
    WinHttpSettings,
    WinInetSettings,
    connector_config_paths,
    parse_dotnet_config,
    parse_proxy_server,
    parse_winhttp_settings,
    parse_wininet,
    proxy_for,
)


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
    connector: DotNetProxy | None = None
    winhttp: WinHttpSettings | None = None
    wininet: WinInetSettings | None = None
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
            routes["wininet"] = _wininet_route(self.wininet, host, tls, "WinINET")
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
            return _wininet_route(self.wininet, host, tls, f"connector → system default ({config.source})")
        return None

    def _connector_bypass(self, host: str, port: int, tls: bool) -> Route | None:
        config = self.connector
        if config is None or not config.found or not config.enabled:
            return None
        matched = config.bypassed(host, port, "https" if tls else "http", self.local_domain)
        return Route(None, f"direct ({config.source} bypass {matched!r})") if matched else None

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


def _wininet_route(wininet: WinInetSettings, host: str, tls: bool, label: str) -> Route:
    server = ";".join(f"{k}={v}" if k != "*" else v for k, v in wininet.servers.items())
    return _windows_route(wininet.enabled, server, ";".join(wininet.bypass.patterns), host, tls, label)


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


def windows_settings(reader: WindowsSettingsReader | None, connector_config: str | None = None) -> ProxySettings:
    """Everything the Windows side says about proxies, as ProxySettings (without --proxy or the environment).
    Problems are collected, never raised: a corrupt record must not stop the run."""
    problems: list[str] = []
    winhttp = wininet = connector = None
    if reader is not None:
        blob = reader.winhttp_blob()
        if blob is not None:
            try:
                winhttp = parse_winhttp_settings(blob)
            except WindowsSettingsError as exc:
                problems.append(f"WinHttpSettings: {exc}")
        values = reader.wininet_values()
        if values is not None:
            try:
                wininet = parse_wininet(values)
            except WindowsSettingsError as exc:
                problems.append(f"WinINET settings: {exc}")
    # The connector reads its own .exe.config first and machine.config only when that has no <defaultProxy>.
    files = [connector_config] if connector_config else (list(connector_config_paths(os.environ)) if reader else [])
    file_reader = reader or FileReader()
    for path in files:
        text = file_reader.config_text(path)
        if text is None:
            continue
        try:
            parsed = parse_dotnet_config(text, path)
        except WindowsSettingsError as exc:
            problems.append(str(exc))
            continue
        if parsed.found:
            connector = parsed
            # .NET compiles the list when it reads the file: one bad expression and no proxy setting loads at all
            problems.extend(f"{path}: <bypasslist> {bad} (.NET refuses the whole list)"
                            for bad in parsed.bad_bypass_expressions())  # fmt: skip
            break
    domain = reader.primary_dns_domain() if reader is not None else None
    search = reader.dns_search_list() if reader is not None else ()
    return ProxySettings(connector=connector, winhttp=winhttp, wininet=wininet, problems=tuple(problems),
                         local_domain=domain, search_list=search)  # fmt: skip
