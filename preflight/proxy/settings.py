"""What the run was told and found about proxies, and the route per endpoint: ProxySettings holds every source's
settings and puts the sources (sources.py) in the connector's order. Reading the settings is elsewhere (windows.py,
environment.py, automatic.py); `windows_settings` assembles the Windows side."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from preflight.proxy.sources import (
    NO_PROXY_CONFIGURED,
    ConnectorProxy,
    EnvironmentProxy,
    ExplicitProxy,
    Route,
    RouteSource,
    ScriptAnswers,
    WinHttpProxy,
    WinInetProxy,
)
from preflight.proxy.windows import (
    CONNECTOR_SERVICE,
    INTERNET_SETTINGS_POLICY,
    UPDATER_ACCOUNT,
    UPDATER_SERVICE,
    DotNetProxy,
    FileReader,
    WindowsSettingsError,
    WindowsSettingsReader,
    WinHttpSettings,
    WinInetScope,
    WinInetSettings,
    connector_config_paths,
    connector_wininet_scope,
    default_wininet,
    net_defaults,
    parse_dotnet_config,
    parse_winhttp_settings,
    parse_wininet,
)

if TYPE_CHECKING:
    from preflight.proxy.environment import EnvironmentProxies
    from preflight.proxy.url import ProxyConfig


@dataclasses.dataclass(frozen=True)
class ProxyInputs:
    """What the run was told and read about proxies before asking anything on the network: --proxy URL|none, the
    environment, the connector's and its updater's <defaultProxy>, WinHTTP, WinINET. Read once (`read_inputs`),
    never rewritten: what the scripts answer is kept apart (ScriptOutcome)."""

    explicit: ProxyConfig | None = None
    explicit_none: bool = False
    environment: EnvironmentProxies | None = None
    use_credentials: bool = False
    connector: DotNetProxy | None = None
    winhttp: WinHttpSettings | None = None
    wininet: WinInetSettings | None = None  # the WinINET settings of the account the connector runs as
    wininet_scope: WinInetScope | None = None  # whose they are, and why (None: not read, off Windows)
    wininet_user: WinInetSettings | None = None  # this tool's user's, when they differ: not the connector's
    updater: DotNetProxy | None = None  # the updater service's <defaultProxy> (its own .exe.config, machine.config)
    updater_wininet: WinInetSettings | None = None  # the updater's account's (LocalSystem's) WinINET settings
    problems: tuple[str, ...] = ()
    local_domain: str | None = None  # this machine's primary DNS domain (.NET's bypassonlocal, WPAD)
    search_list: tuple[str, ...] = ()  # the DNS suffix search list (WPAD tries each)

    def any(self) -> bool:
        """Whether --proxy or the environment names a proxy."""
        if self.explicit_none:
            return False
        env = self.environment
        return self.explicit is not None or (env is not None and (env.https is not None or env.http is not None))


@dataclasses.dataclass(frozen=True)
class ScriptOutcome:
    """What one proxy script (or WinHttpGetProxyForUrl) answered: FindProxyForURL's result per (host, port), the
    failure that stopped it (a proxy.pac_* code and one line), and the evidence of how it ran (engine, lookups,
    discovery)."""

    origin: str | None = None  # where the script came from (--pac, scriptLocation, WPAD via DNS...)
    decisions: Mapping[tuple[str, int], str] = dataclasses.field(default_factory=lambda: MappingProxyType({}))
    failure: tuple[str, str] | None = None
    evidence: Mapping[str, Any] = dataclasses.field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:  # a caller's dict must not change what was decided
        object.__setattr__(self, "decisions", MappingProxyType(dict(self.decisions)))
        object.__setattr__(self, "evidence", MappingProxyType(dict(self.evidence)))


NOT_ASKED = ScriptOutcome()


@dataclasses.dataclass(frozen=True)
class ProxySettings:
    """The inputs, and what the scripts answered: the script the route follows (`pac`), a WPAD script it does not
    follow (`wpad`, evidence), and WinHTTP's own answer (`winhttp_api`, Windows). Probes follow `route`;
    `source_routes` shows what each source alone would do."""

    inputs: ProxyInputs = ProxyInputs()
    pac: ScriptOutcome = NOT_ASKED
    wpad: ScriptOutcome = NOT_ASKED
    winhttp_api: ScriptOutcome = NOT_ASKED

    def answered(
        self,
        *,
        pac: ScriptOutcome | None = None,
        wpad: ScriptOutcome | None = None,
        winhttp_api: ScriptOutcome | None = None,
    ) -> ProxySettings:
        """The same inputs with new script outcomes (those not given are kept)."""
        return ProxySettings(
            self.inputs,
            pac if pac is not None else self.pac,
            wpad if wpad is not None else self.wpad,
            winhttp_api if winhttp_api is not None else self.winhttp_api,
        )

    def route(self, host: str, port: int, *, tls: bool) -> Route:
        """The route the connector takes: the first source in `precedence()` with a say, else direct."""
        if self.inputs.explicit_none:
            return Route(None, "direct (--proxy none)")
        for source in self.precedence():
            found = source.route(host, port, tls=tls)
            if found is not None:
                return found
        return NO_PROXY_CONFIGURED

    def precedence(self) -> list[RouteSource]:
        """The sources the connector consults, in its order: --proxy; then the connector's .NET stack, which checks
        its bypass list first and lets an automatic configuration script decide before a static proxyaddress (as
        .NET's WebProxy does); last the environment."""
        i = self.inputs
        connector = self._connector()
        chain: list[RouteSource] = []
        if i.explicit is not None:
            chain.append(ExplicitProxy(i.explicit))
        if connector is not None:
            chain.append(connector.bypass_list())
        chain.append(ScriptAnswers("pac", f"PAC {self.pac.origin}", self.pac.decisions))
        if connector is not None:
            chain.append(connector)
        if i.environment is not None:
            chain.append(EnvironmentProxy(i.environment))
        return chain

    def sources(self) -> list[RouteSource]:
        """Every source with settings, as reports list them, including those the route does not follow (a WPAD
        script, WinHTTP's own answer, the WinHTTP and WinINET settings)."""
        i = self.inputs
        connector = self._connector()
        found: list[RouteSource] = []
        if i.explicit is not None:
            found.append(ExplicitProxy(i.explicit))
        if connector is not None:
            found.append(connector)
        if i.updater is not None and i.updater.found:
            found.append(ConnectorProxy(i.updater, i.updater_wininet, i.local_domain, name="updater"))
        found.append(ScriptAnswers("pac", f"PAC {self.pac.origin}", self.pac.decisions))
        found.append(ScriptAnswers("wpad", f"WPAD {self.wpad.evidence.get('url')}", self.wpad.decisions))
        found.append(ScriptAnswers("winhttp_api", "WinHttpGetProxyForUrl", self.winhttp_api.decisions))
        if i.winhttp is not None:
            found.append(WinHttpProxy(i.winhttp))
        if self._defers_to_system():  # else WinINET has no bearing on the connector: listing it would only add noise
            if i.wininet is not None:
                found.append(WinInetProxy(i.wininet))
            if i.wininet_user is not None:
                found.append(WinInetProxy(i.wininet_user, "WinINET (current user)", name="wininet_user"))
        if i.environment is not None:
            found.append(EnvironmentProxy(i.environment))
        return found

    def source_routes(self, host: str, port: int, *, tls: bool) -> dict[str, Route]:
        """What each source alone would do for this target (sources with no say are left out)."""
        routes: dict[str, Route] = {}
        for source in self.sources():
            found = source.route(host, port, tls=tls)
            if found is not None:
                routes[source.name] = found
        return routes

    def system_route(self, host: str, port: int) -> Route | None:
        """Where Windows' own certificate operations send a fetch (CRL, OCSP, AIA): WinHTTP's machine setting
        (`netsh winhttp set proxy`), None when it was not read (not Windows). Microsoft's Global Secure Access
        troubleshooting notes (microsoft/GlobalSecureAccess, Troubleshooting/PrivateNetworkConnector.md): the
        connector's chain validation runs in the system context, so a proxy set only in its .exe.config leaves
        those fetches without one."""
        winhttp = self.inputs.winhttp
        return None if winhttp is None else WinHttpProxy(winhttp).route(host, port, tls=port != 80)

    def _defers_to_system(self) -> bool:
        """Whether the connector's .NET takes its proxy from WinINET: its <defaultProxy> (or .NET's defaults) reads
        the system's settings (DotNetProxy.web_proxy) and names no proxyaddress of its own."""
        i = self.inputs
        config = i.connector
        if config is None or not config.found:
            return True
        return _reads_system(config) and not config.proxy_address

    def _connector(self) -> ConnectorProxy | None:
        i = self.inputs
        if i.connector is None or not i.connector.found:
            return None
        return ConnectorProxy(i.connector, i.wininet, i.local_domain)


def read_inputs(
    proxy_option: str | None,
    use_credentials: bool,
    connector_config: str | None,
    environ: Mapping[str, str],
    reader: WindowsSettingsReader | None,
) -> ProxyInputs:
    """Every input at once, read before anything is asked on the network: --proxy (a URL, or none), whether it
    sends the user's credentials, the environment, and the Windows side (`reader` None off Windows)."""
    from preflight.proxy.environment import from_environment
    from preflight.proxy.url import parse_proxy_url

    windows = windows_settings(reader, connector_config)
    none = proxy_option is not None and proxy_option.strip().lower() == "none"
    return dataclasses.replace(
        windows,
        explicit=parse_proxy_url(proxy_option) if proxy_option is not None and not none else None,
        explicit_none=none,
        environment=from_environment(environ),
        use_credentials=use_credentials and not none,
    )


def windows_settings(reader: WindowsSettingsReader | None, connector_config: str | None = None) -> ProxyInputs:
    """Everything the Windows side says about proxies, as ProxyInputs (without --proxy or the environment).
    Problems are collected, never raised: a corrupt record must not stop the run."""
    problems: list[str] = []
    winhttp = wininet = wininet_user = updater_wininet = updater = None
    scope = updater_scope = None
    file_reader = reader or FileReader()
    # Each service reads its own .exe.config, and machine.config only when that has no <defaultProxy>.
    files = [connector_config] if connector_config else (list(connector_config_paths(os.environ)) if reader else [])
    connector = _default_proxy(file_reader, files, problems)
    if reader is not None:
        blob = reader.winhttp_blob()
        if blob is not None:
            try:
                winhttp = parse_winhttp_settings(blob)
            except WindowsSettingsError as exc:
                problems.append(f"WinHttpSettings: {exc}")
        # On Windows a service without any <defaultProxy> still has one: .NET's defaults (usesystemdefault).
        connector = connector or net_defaults()
        updater = _default_proxy(reader, connector_config_paths(os.environ, updater=True), problems) or net_defaults()
        policy, connector_account, updater_account = _service_accounts(reader, problems)
        scope = connector_wininet_scope(policy, connector_account)
        updater_scope = connector_wininet_scope(
            policy, updater_account, service="updater", default_account=UPDATER_ACCOUNT
        )
        wininet = _read_wininet(reader, scope, problems)
        if wininet is not None and wininet.note is not None and "values say no proxy" not in wininet.note:
            problems.append(f"WinINET settings of {scope.account}: {wininet.note}")  # a proxy the connector ignores
        updater_wininet = wininet if updater_scope == scope else _read_wininet(reader, updater_scope, problems)
        if scope.hive != "HKLM":  # per machine, everyone's settings are the connector's: HKCU is not read at all
            user = _read_wininet(reader, WinInetScope("HKCU", "the current user", "this tool's user"), problems)
            wininet_user = user if user != wininet else None  # a proxy set in the administrator's Internet Options
    domain = reader.primary_dns_domain() if reader is not None else None
    search = reader.dns_search_list() if reader is not None else ()
    for service, config, whose in (("connector", connector, scope), ("updater", updater, updater_scope)):
        if whose is not None and whose.hive is None and config is not None and _reads_system(config):
            problems.append(
                f"the {service}'s usesystemdefault reads the WinINET settings of {whose.account}, "
                "which cannot be read here: the route leaves them out"
            )
    return ProxyInputs(
        connector=connector,
        updater=updater,
        winhttp=winhttp,
        wininet=wininet,
        wininet_scope=scope,
        wininet_user=wininet_user,
        updater_wininet=updater_wininet,
        problems=tuple(dict.fromkeys(problems)),
        local_domain=domain,
        search_list=search,
    )


def _reads_system(config: DotNetProxy) -> bool:
    web = config.web_proxy()
    return web.system_static or web.system_automatic


def _default_proxy(reader: WindowsSettingsReader, paths: Sequence[str], problems: list[str]) -> DotNetProxy | None:
    """The first file of `paths` with a <defaultProxy>, as .NET reads it."""
    for path in paths:
        text = reader.config_text(path)
        if text is None:
            continue
        try:
            parsed = parse_dotnet_config(text, path)
        except WindowsSettingsError as exc:
            problems.append(str(exc))
            continue
        if parsed.found:
            # .NET compiles the list when it reads the file: one bad expression and no proxy setting loads at all
            problems.extend(
                f"{path}: <bypasslist> {bad} (.NET refuses the whole list)" for bad in parsed.bad_bypass_expressions()
            )
            return parsed
    return None


def _service_accounts(reader: WindowsSettingsReader, problems: list[str]) -> tuple[object, object, object]:
    """The ProxySettingsPerUser policy, and the accounts the connector and its updater run as (None: not set, or
    not installed)."""
    try:
        return (
            reader.registry_value(INTERNET_SETTINGS_POLICY, "ProxySettingsPerUser"),
            reader.registry_value(CONNECTOR_SERVICE, "ObjectName"),
            reader.registry_value(UPDATER_SERVICE, "ObjectName"),
        )
    except OSError as exc:
        problems.append(f"the services' accounts or the proxy policy cannot be read: {exc.strerror or exc}")
        return None, None, None


def _read_wininet(reader: WindowsSettingsReader, scope: WinInetScope, problems: list[str]) -> WinInetSettings | None:
    if scope.hive is None:
        return None
    what = f"WinINET settings of {scope.account} ({scope.hive})"
    try:
        values = reader.wininet_values(scope.hive)
    except OSError as exc:
        problems.append(f"{what} cannot be read: {exc.strerror or exc} (run as an administrator)")
        return None
    if values is None:
        return default_wininet()  # the account has no Internet Settings: .NET detects
    try:
        return parse_wininet(values)
    except WindowsSettingsError as exc:
        problems.append(f"{what}: {exc}")
        return None
