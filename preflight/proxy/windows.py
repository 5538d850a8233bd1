"""Windows proxy settings as the connector, WinHTTP and WinINET see them: pure parsers, plus a thin reader.

- WinHTTP: the registry value WinHttpSettings (HKLM\\...\\Internet Settings\\Connections), a binary record:
  DWORD version, DWORD counter, DWORD flags (1 always, 2 manual proxy, 4 autoconfig URL, 8 auto-detect), then
  three DWORD-length-prefixed ASCII strings: proxy, bypass list, autoconfig URL. WinINET's
  DefaultConnectionSettings starts with the same layout.
- WinINET per user: ProxyEnable, ProxyServer, ProxyOverride, AutoConfigURL, and the flags of
  Connections\\DefaultConnectionSettings (8: "Automatically detect settings", WPAD).
- .NET (the connector and its updater): <system.net><defaultProxy> in the service's .exe.config, falling back to
  machine.config.
Parsers never raise on hostile input other than WindowsSettingsError with a one-line reason.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import importlib
import re
import struct
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol
from xml.etree import ElementTree

from preflight.netutil import bracketed
from preflight.proxy.url import ProxyConfig, parse_proxy_url
from preflight.textfile import decode_text, without_xml_declaration

MAX_BLOB = 64 * 1024
MAX_CONFIG = 4 * 1024 * 1024

# The connector's and its updater's configuration, relative to the 64-bit Program Files folder: the current names,
# then those of the Application Proxy connector before the rename. Each service reads its own file (Microsoft's
# proxy article has the same <defaultProxy> put in both), and machine.config only when its own has none.
_CONNECTOR_FILES = (
    "Microsoft Entra private network connector\\MicrosoftEntraPrivateNetworkConnectorService.exe.config",
    "Microsoft AAD App Proxy Connector\\ApplicationProxyConnectorService.exe.config",
)
_UPDATER_FILES = (
    "Microsoft Entra private network connector Updater\\MicrosoftEntraPrivateNetworkConnectorUpdaterService.exe.config",
    "Microsoft AAD App Proxy Connector Updater\\ApplicationProxyConnectorUpdaterService.exe.config",
)
_MACHINE_CONFIG = "Microsoft.NET\\Framework64\\v4.0.30319\\Config\\machine.config"


def connector_config_paths(environ: Mapping[str, str], *, updater: bool = False) -> tuple[str, ...]:
    """The connector's .exe.config files (or its updater's), then machine.config, where this Windows keeps them.
    The services are 64-bit: %ProgramW6432% names the 64-bit Program Files even to a 32-bit Python (where
    %ProgramFiles% is "Program Files (x86)"), and the 64-bit .NET's machine.config is the one they read."""
    upper = {key.upper(): value for key, value in environ.items()}  # Windows' environment ignores case
    programs = upper.get("PROGRAMW6432") or upper.get("PROGRAMFILES") or "C:\\Program Files"
    windows = upper.get("SYSTEMROOT") or upper.get("WINDIR") or "C:\\Windows"
    folder, system = programs.rstrip("\\"), windows.rstrip("\\")
    names = _UPDATER_FILES if updater else _CONNECTOR_FILES
    return (*(f"{folder}\\{name}" for name in names), f"{system}\\{_MACHINE_CONFIG}")


CONNECTOR_CONFIGS = connector_config_paths({})[:-1]  # the defaults, for documentation and tests
UPDATER_CONFIGS = connector_config_paths({}, updater=True)[:-1]
MACHINE_CONFIG = connector_config_paths({})[-1]


class WindowsSettingsError(ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class WinHttpSettings:
    version: int
    counter: int
    flags: int
    proxy: str
    bypass: str
    autoconfig_url: str

    @property
    def manual(self) -> bool:
        return bool(self.flags & 2) and bool(self.proxy)

    @property
    def auto_detect(self) -> bool:
        return bool(self.flags & 8)

    @property
    def uses_autoconfig(self) -> bool:
        return bool(self.flags & 4) and bool(self.autoconfig_url)


def parse_winhttp_settings(blob: bytes) -> WinHttpSettings:
    """Decode a WinHttpSettings (or the head of a DefaultConnectionSettings) registry value."""
    if len(blob) > MAX_BLOB:
        raise WindowsSettingsError(f"settings blob too large ({len(blob)} bytes)")
    if len(blob) < 12:
        raise WindowsSettingsError(f"settings blob too short ({len(blob)} bytes, need at least 12)")
    version, counter, flags = struct.unpack_from("<III", blob, 0)
    offset = 12
    strings: list[str] = []
    for name in ("proxy", "bypass", "autoconfig URL"):
        if offset == len(blob) and name != "proxy":
            strings.append("")  # older records stop after the bypass list
            continue
        if offset + 4 > len(blob):
            raise WindowsSettingsError(f"settings blob ends inside the {name} length at offset {offset}")
        (length,) = struct.unpack_from("<I", blob, offset)
        offset += 4
        if length > len(blob) - offset:
            raise WindowsSettingsError(f"{name} length {length} at offset {offset - 4} runs past the end")
        strings.append(blob[offset : offset + length].decode("latin-1"))
        offset += length
    return WinHttpSettings(version, counter, flags, *strings)


def build_winhttp_settings(
    proxy: str = "",
    bypass: str = "",
    autoconfig_url: str = "",
    *,
    flags: int | None = None,
    version: int = 0x28,
    counter: int = 1,
) -> bytes:
    """The inverse of parse_winhttp_settings, for fixtures and round-trip tests."""
    if flags is None:
        flags = 1 | (2 if proxy else 0) | (4 if autoconfig_url else 0)
    out = struct.pack("<III", version, counter, flags)
    for text in (proxy, bypass, autoconfig_url):
        raw = text.encode("latin-1")
        out += struct.pack("<I", len(raw)) + raw
    return out


def build_connection_settings(
    proxy: str = "", bypass: str = "", autoconfig_url: str = "", *, flags: int | None = None
) -> bytes:
    """A DefaultConnectionSettings record as Internet Options writes it (its first DWORD 0x46, IE 6 and later)."""
    return build_winhttp_settings(proxy, bypass, autoconfig_url, flags=flags, version=0x46)


def parse_proxy_server(text: str) -> dict[str, str]:
    """WinINET/WinHTTP proxy lists: 'host:port' (every scheme), or 'http=h:p;https=h:p' (per scheme)."""
    out: dict[str, str] = {}
    for part in re.split(r"[;\s]+", text.strip()):
        if not part:
            continue
        scheme, sep, server = part.partition("=")
        if sep:
            out[scheme.strip().lower()] = server.strip()
        else:
            out.setdefault("*", part.strip())
    return out


def proxy_for(servers: dict[str, str], scheme: str) -> ProxyConfig | None:
    server = servers.get(scheme) or servers.get("*")
    if not server:
        return None
    server = re.sub(r"^[a-z]+://", "", server, flags=re.IGNORECASE)
    return parse_proxy_url(f"http://{server}", where="proxy server setting")


@dataclasses.dataclass(frozen=True)
class BypassList:
    """Windows bypass syntax: ';'-separated patterns with '*' wildcards; '<local>' = names without a dot."""

    patterns: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> BypassList:
        return cls(tuple(p.strip().lower() for p in re.split(r"[;,\s]+", text) if p.strip()))

    def matches(self, host: str) -> str | None:
        name = host.lower().rstrip(".")
        for pattern in self.patterns:
            if pattern == "<local>":
                if "." not in name:
                    return pattern
            elif fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(name, pattern.split("://")[-1]):
                return pattern
        return None


@dataclasses.dataclass(frozen=True)
class WinInetSettings:
    enabled: bool
    servers: dict[str, str]
    bypass: BypassList
    autoconfig_url: str | None
    # "Automatically detect settings": DefaultConnectionSettings flag 8. None: the value is absent, which WinINET
    # reads as on (a fresh profile detects), so it counts as on wherever the route is decided.
    auto_detect_flag: bool | None = None
    origin: str = "DefaultConnectionSettings"  # or NO_RECORD
    note: str | None = None  # the legacy values, when they say something else than the record .NET reads

    @property
    def auto_detect(self) -> bool:
        return self.auto_detect_flag is not False

    @property
    def server_text(self) -> str:
        """The proxy list as Windows writes it: 'host:port', or 'http=h:p;https=h:p'."""
        return ";".join(f"{k}={v}" if k != "*" else v for k, v in self.servers.items())


# .NET Framework's reading of the system proxy (System.Net RegBlobWebProxyDataBuilder, which a .NET service with
# <proxy usesystemdefault> uses): the DefaultConnectionSettings record under ...\Internet Settings\Connections of the
# process's own account (HKLM's under ProxySettingsPerUser=0), and nothing else: the ProxyEnable/ProxyServer values
# are never read. A record that is missing, unreadable or shorter than IE 5's (its first DWORD below 60) means
# "automatically detect settings" and nothing more. The proxy counts only with flag 2, the script URL with 4.
IE50_RECORD_SIZE = 60
NO_RECORD = "no DefaultConnectionSettings record: .NET detects (WPAD) and uses no proxy"


def parse_wininet(values: dict[str, object]) -> WinInetSettings:
    """Internet Settings as the connector's .NET reads them (see above), from the DefaultConnectionSettings record;
    the legacy ProxyEnable/ProxyServer/ProxyOverride/AutoConfigURL values, which .NET ignores, are compared with it
    and a difference is kept as a note."""
    enable = values.get("ProxyEnable", 0)
    server = values.get("ProxyServer", "")
    override = values.get("ProxyOverride", "")
    autoconfig = values.get("AutoConfigURL")
    if not isinstance(enable, int) or not isinstance(server, str) or not isinstance(override, str):
        raise WindowsSettingsError("ProxyEnable must be a DWORD and ProxyServer/ProxyOverride strings")
    legacy = WinInetSettings(
        bool(enable),
        parse_proxy_server(server),
        BypassList.parse(override),
        autoconfig if isinstance(autoconfig, str) and autoconfig else None,
    )
    blob = values.get("DefaultConnectionSettings")
    record = None
    if isinstance(blob, bytes | bytearray):
        try:
            record = parse_winhttp_settings(bytes(blob))
        except WindowsSettingsError as exc:
            raise WindowsSettingsError(f"DefaultConnectionSettings: {exc}") from None
    if record is None or record.version < IE50_RECORD_SIZE:
        connection = default_wininet()
    else:
        connection = WinInetSettings(
            bool(record.flags & 2) and bool(record.proxy),
            parse_proxy_server(record.proxy),
            BypassList.parse(record.bypass),
            record.autoconfig_url if record.flags & 4 and record.autoconfig_url else None,
            bool(record.flags & 8),
            origin="DefaultConnectionSettings",
        )
    if not any(k in values for k in ("ProxyEnable", "ProxyServer", "ProxyOverride", "AutoConfigURL")):
        return connection
    said = _wininet_summary(legacy)
    if said != _wininet_summary(connection):
        connection = dataclasses.replace(
            connection,
            note=f"the ProxyEnable/ProxyServer values say {said}, but .NET "
            f"reads only DefaultConnectionSettings: {_wininet_summary(connection)}",
        )
    return connection


def _wininet_summary(settings: WinInetSettings) -> str:
    proxy = settings.server_text
    parts = [f"proxy {proxy}" if settings.enabled and proxy else "no proxy"]
    if settings.autoconfig_url:
        parts.append(f"script {settings.autoconfig_url}")
    return ", ".join(parts)


def default_wininet() -> WinInetSettings:
    """An account with no Internet Settings at all, as .NET reads it: detection on, no proxy."""
    return WinInetSettings(False, {}, BypassList(()), None, None, origin=NO_RECORD)


INTERNET_SETTINGS = r"Software\Microsoft\Windows\CurrentVersion\Internet Settings"
INTERNET_SETTINGS_POLICY = r"SOFTWARE\Policies\Microsoft\Windows\CurrentVersion\Internet Settings"
CONNECTOR_SERVICE = r"SYSTEM\CurrentControlSet\Services\WAPCSvc"
CONNECTOR_ACCOUNT = "NT AUTHORITY\\NetworkService"  # the installer's choice, and sc qc's SERVICE_START_NAME
UPDATER_SERVICE = r"SYSTEM\CurrentControlSet\Services\WAPCUpdaterSvc"
UPDATER_ACCOUNT = "LocalSystem"

# The built-in service accounts, as a service's ObjectName spells them, and the HKEY_USERS hive of each: their
# profiles are loaded while Windows runs, so their settings can be read (by an administrator).
SERVICE_ACCOUNT_SIDS = {
    "localsystem": "S-1-5-18",
    "nt authority\\system": "S-1-5-18",
    "nt authority\\localservice": "S-1-5-19",
    "nt authority\\local service": "S-1-5-19",
    "nt authority\\networkservice": "S-1-5-20",
    "nt authority\\network service": "S-1-5-20",
}


@dataclasses.dataclass(frozen=True)
class WinInetScope:
    """Whose WinINET settings the connector's usesystemdefault reads. A service's "current user" is its own
    account (Microsoft Learn, WinHttpGetIEProxyConfigForCurrentUser: a service that does not impersonate gets
    Local Service's or Network Service's settings), not the administrator running this tool; Group Policy's
    "Make proxy settings per-machine" (ProxySettingsPerUser=0) puts one set in HKLM for every account."""

    hive: str | None  # "HKU\\S-1-5-20", "HKLM"; None: an account whose hive is not loaded (a gMSA, a user)
    account: str
    why: str

    def to_json(self) -> dict[str, str | None]:
        return {"hive": self.hive, "account": self.account, "why": self.why}


def connector_wininet_scope(
    per_user_policy: object,
    service_account: object,
    *,
    service: str = "connector",
    default_account: str = CONNECTOR_ACCOUNT,
) -> WinInetScope:
    """`per_user_policy`: the ProxySettingsPerUser policy value (None: not set); `service_account`: the service's
    ObjectName (None: not installed yet, so the installer's `default_account`). Pure."""
    installed = isinstance(service_account, str) and service_account.strip() != ""
    account = str(service_account).strip() if installed else default_account
    runs = "runs" if installed else "will run (the installer's account)"
    if per_user_policy == 0:
        return WinInetScope("HKLM", account, "Group Policy makes proxy settings per machine (ProxySettingsPerUser=0)")
    sid = SERVICE_ACCOUNT_SIDS.get(account.lower().replace("/", "\\"))
    if sid is None:
        return WinInetScope(
            None,
            account,
            f"the {service} service {runs} as {account}, whose settings cannot be read while it is not signed in",
        )
    return WinInetScope(f"HKU\\{sid}", account, f"the {service} service {runs} as {account}")


# .NET Framework's reading of <system.net><defaultProxy> (Microsoft Learn, ".NET Framework configuration schema:
# <defaultProxy>, <proxy>, <bypasslist>, <add>"; and WebProxy's reference source, WebProxy.IsBypassed/IsLocal):
#   - enabled: false turns every proxy off; default true.
#   - <proxy usesystemdefault>: use the system (Internet Explorer / WinINET) settings, including their automatic
#     configuration; attributes given beside it override them. Absent or "unspecified", it reads as true.
#   - proxyaddress: a URI; without a port the scheme's default (80 for http), as System.Uri gives it.
#   - scriptLocation (a PAC URL) and autoDetect (WPAD; "true", "false" or "unspecified"): automatic configuration,
#     whose answer comes before proxyaddress (which stays the fallback when the script gives none).
#   - bypassonlocal: no proxy for local addresses: a name without a dot, a loopback or own address, or a name in
#     this machine's primary DNS domain.
#   - <bypasslist><add address="REGEX"/>: each address is a regular expression, matched case-insensitively
#     anywhere in "scheme://host" (":port" appended for a non-default port), not against the host alone.
DOTNET_DOC = "https://learn.microsoft.com/en-us/dotnet/framework/configure-apps/file-schema/network/proxy-element-network-settings"


@dataclasses.dataclass(frozen=True)
class NetWebProxy:
    """The proxy object .NET Framework builds from a <defaultProxy> (System.Net.Configuration
    DefaultProxySectionInternal, reference source): which parts of the account's system settings it takes."""

    enabled: bool  # False: <defaultProxy enabled="false">, no proxy at all
    system_static: bool  # the system's proxy address and bypass list (WinINET's record)
    system_automatic: bool  # the system's detection flag and script URL: only WebProxy(true)
    why: str  # which rule of DefaultProxySectionInternal applied, for evidence and messages


@dataclasses.dataclass(frozen=True)
class DotNetProxy:
    """<defaultProxy> of a .NET configuration file. Tri-state attributes keep None for "not given": .NET treats an
    unspecified usesystemdefault differently from an explicit "true" (see web_proxy)."""

    source: str
    found: bool  # False: the file has no <defaultProxy> (the next level decides)
    enabled: bool = True
    use_system_default: bool | None = None
    proxy_address: str | None = None
    bypass_on_local: bool | None = None
    bypass_regexes: tuple[str, ...] = ()
    use_default_credentials: bool = False
    script_location: str | None = None
    auto_detect: bool | None = None

    def web_proxy(self) -> NetWebProxy:
        """DefaultProxySectionInternal's rules: enabled=false, no proxy; nothing set but usesystemdefault
        unspecified, WebProxy(true) (the system's address, bypass list, detection and script); usesystemdefault
        "false" and nothing else, no proxy; usesystemdefault "true" without autoDetect or scriptLocation,
        WebProxy(false) (the system's address and bypass list, no detection, no script); any other combination,
        an empty WebProxy: only what the element itself says."""
        if not self.enabled:
            return NetWebProxy(False, False, False, "enabled=false: no proxy")
        nothing_else = (
            self.auto_detect is None
            and not self.script_location
            and self.use_system_default is not True
            and not self.proxy_address
            and self.bypass_on_local is None
            and not self.bypass_regexes
        )
        if nothing_else and self.use_system_default is False:
            return NetWebProxy(True, False, False, "usesystemdefault=false and nothing else: no proxy")
        if nothing_else:
            return NetWebProxy(True, True, True, "no proxy attribute: the system's settings, detection included")
        if self.use_system_default is True and self.auto_detect is None and not self.script_location:
            return NetWebProxy(
                True,
                True,
                False,
                "usesystemdefault=true: the system's proxy address and bypass list, not its detection or script",
            )
        return NetWebProxy(
            True,
            False,
            False,
            "the element's own attributes only: the system's settings are not "
            "read (usesystemdefault is honoured only alone or with autoDetect/scriptLocation unset)",
        )

    def bypassed(
        self, host: str, port: int = 443, scheme: str = "https", local_domain: str | None = None
    ) -> str | None:
        """The bypass rule that sends this destination direct, or None."""
        if self.bypass_on_local and is_local(host, local_domain):
            return "bypassonlocal"
        default_port = {"http": 80, "https": 443}.get(scheme)
        shown_host = bracketed(host)
        uri = f"{scheme}://{shown_host}" + ("" if port == default_port else f":{port}")
        for expression in self.bypass_regexes:
            try:
                if re.search(expression, uri, flags=re.IGNORECASE):
                    return expression
            except re.error:
                continue  # .NET throws on the whole list at load; the connector would not start: listed as a problem
        return None

    def bad_bypass_expressions(self) -> list[str]:
        bad = []
        for expression in self.bypass_regexes:
            try:
                re.compile(expression)
            except re.error as exc:
                bad.append(f"{expression!r}: {exc}")
        return bad


def is_local(host: str, local_domain: str | None = None) -> bool:
    """.NET's WebProxy.IsLocal: a dotless name, a loopback address, or <label>.<this machine's domain>."""
    import ipaddress

    name = host.strip("[]").rstrip(".").lower()
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        pass
    if "." not in name:
        return True
    if local_domain:
        return name.split(".", 1)[1] == local_domain.strip(".").lower()
    return False


def _bool(value: str | None, default: bool) -> bool:
    if value is None:
        return default
    return value.strip().lower() in ("true", "1")


def _tristate(value: str | None) -> bool | None:
    if value is None or value.strip().lower() == "unspecified":
        return None
    return value.strip().lower() == "true"


def parse_dotnet_config(text: str, source: str) -> DotNetProxy:
    if len(text) > MAX_CONFIG:
        raise WindowsSettingsError(f"{source}: configuration file too large")
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise WindowsSettingsError(f"{source}: DTDs and entities are not accepted in a configuration file")
    try:
        root = ElementTree.fromstring(without_xml_declaration(text.lstrip("\ufeff")))
    except ElementTree.ParseError as exc:
        raise WindowsSettingsError(f"{source}: not valid XML ({exc})") from None
    element = root.find("./system.net/defaultProxy")
    if element is None:
        return DotNetProxy(source, found=False)
    proxy = element.find("proxy")

    def attribute(name: str) -> str | None:
        return proxy.get(name) if proxy is not None else None

    bypass = tuple(add.get("address", "") for add in element.findall("./bypasslist/add") if add.get("address"))
    return DotNetProxy(
        source=source,
        found=True,
        enabled=_bool(element.get("enabled"), True),
        use_system_default=_tristate(attribute("usesystemdefault")),
        proxy_address=attribute("proxyaddress") or None,
        bypass_on_local=_tristate(attribute("bypassonlocal")),
        bypass_regexes=bypass,
        use_default_credentials=_bool(element.get("useDefaultCredentials"), False),
        script_location=attribute("scriptLocation") or None,
        auto_detect=_tristate(attribute("autoDetect")),
    )


# What .NET uses when neither the service's .exe.config nor machine.config has a <defaultProxy>: every default, so
# usesystemdefault (the account's WinINET settings, detection included).
NET_DEFAULTS = ".NET's defaults (no <defaultProxy> in the .exe.config or machine.config)"


def net_defaults() -> DotNetProxy:
    return DotNetProxy(source=NET_DEFAULTS, found=True)


class WindowsSettingsReader(Protocol):
    """Where the raw settings come from: the registry on Windows, files elsewhere (and in tests)."""

    def winhttp_blob(self) -> bytes | None: ...

    def wininet_values(self, hive: str = "HKCU") -> dict[str, object] | None:
        """Internet Settings of "HKCU" (who runs this tool), "HKLM" (per machine), or "HKU\\<SID>" (an account);
        None when there are none. PermissionError when they cannot be read."""

    def registry_value(self, path: str, name: str) -> object:
        """A value under HKLM (the 64-bit view), None when absent: ProxySettingsPerUser, the service's ObjectName."""

    def config_text(self, path: str) -> str | None: ...

    def primary_dns_domain(self) -> str | None:
        """This machine's primary DNS suffix (for .NET's bypassonlocal), None if it has none."""

    def dns_search_list(self) -> tuple[str, ...]:
        """The DNS suffix search list (Group Policy's, else the local one), then each adapter's own suffix."""


TCPIP_PARAMETERS = r"SYSTEM\CurrentControlSet\Services\Tcpip\Parameters"
TCPIP_POLICY = r"SOFTWARE\Policies\Microsoft\Windows NT\DNSClient"


class RegistryReader:  # pragma: no cover - Windows only
    def winhttp_blob(self) -> bytes | None:
        winreg: Any = importlib.import_module("winreg")

        key_path = r"Software\Microsoft\Windows\CurrentVersion\Internet Settings\Connections"
        try:  # the 64-bit view, which the connector's WinHTTP reads, also from a 32-bit Python
            with winreg.OpenKey(
                winreg.HKEY_LOCAL_MACHINE, key_path, 0, winreg.KEY_READ | winreg.KEY_WOW64_64KEY
            ) as key:
                value, _kind = winreg.QueryValueEx(key, "WinHttpSettings")
        except OSError:
            return None
        return bytes(value) if isinstance(value, bytes | bytearray) else None

    def wininet_values(self, hive: str = "HKCU") -> dict[str, object] | None:
        winreg: Any = importlib.import_module("winreg")

        if hive == "HKCU":
            root, prefix, access = winreg.HKEY_CURRENT_USER, "", winreg.KEY_READ
        elif hive == "HKLM":
            root, prefix, access = winreg.HKEY_LOCAL_MACHINE, "", winreg.KEY_READ | winreg.KEY_WOW64_64KEY
        elif hive.startswith("HKU\\"):
            root, prefix, access = winreg.HKEY_USERS, hive[4:] + "\\", winreg.KEY_READ
        else:
            raise ValueError(f"unknown hive {hive!r}")
        values: dict[str, object] = {}
        try:
            with winreg.OpenKey(root, prefix + INTERNET_SETTINGS, 0, access) as key:
                for name in ("ProxyEnable", "ProxyServer", "ProxyOverride", "AutoConfigURL"):
                    with contextlib.suppress(FileNotFoundError):
                        values[name] = winreg.QueryValueEx(key, name)[0]
            with winreg.OpenKey(root, prefix + INTERNET_SETTINGS + r"\Connections", 0, access) as key:
                values["DefaultConnectionSettings"] = winreg.QueryValueEx(key, "DefaultConnectionSettings")[0]
        except FileNotFoundError:
            return values or None
        return values

    def registry_value(self, path: str, name: str) -> object:
        winreg: Any = importlib.import_module("winreg")

        try:
            with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, path, 0, winreg.KEY_READ | winreg.KEY_WOW64_64KEY) as key:
                return winreg.QueryValueEx(key, name)[0]
        except FileNotFoundError:
            return None

    def config_text(self, path: str) -> str | None:
        return _read_text(Path(path))

    def primary_dns_domain(self) -> str | None:
        winreg: Any = importlib.import_module("winreg")

        try:
            with winreg.OpenKey(
                winreg.HKEY_LOCAL_MACHINE, TCPIP_PARAMETERS, 0, winreg.KEY_READ | winreg.KEY_WOW64_64KEY
            ) as key:
                # "Domain" is the suffix in effect; "NV Domain" the one set for the next boot (Windows uses both)
                for name in ("Domain", "NV Domain"):
                    try:
                        value = winreg.QueryValueEx(key, name)[0]
                    except OSError:
                        continue
                    if isinstance(value, str) and value.strip(". "):
                        return value.strip(". ").lower()
        except OSError:
            return None
        return None

    def dns_search_list(self) -> tuple[str, ...]:
        winreg: Any = importlib.import_module("winreg")

        found: list[str] = []
        view = winreg.KEY_READ | winreg.KEY_WOW64_64KEY
        for path in (TCPIP_POLICY, TCPIP_PARAMETERS):
            try:
                with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, path, 0, view) as key:
                    found.extend(split_search_list(str(winreg.QueryValueEx(key, "SearchList")[0])))
            except OSError:
                continue
            if found:
                break  # the policy's list replaces the local one
        interfaces = TCPIP_PARAMETERS + r"\Interfaces"
        try:
            with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, interfaces, 0, view) as key:
                adapters = [winreg.EnumKey(key, index) for index in range(winreg.QueryInfoKey(key)[0])]
        except OSError:
            adapters = []
        for adapter in adapters:
            try:
                with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, f"{interfaces}\\{adapter}", 0, view) as key:
                    for name in ("Domain", "DhcpDomain"):
                        with contextlib.suppress(OSError):
                            found.extend(split_search_list(str(winreg.QueryValueEx(key, name)[0])))
            except OSError:
                continue
        return tuple(dict.fromkeys(found))


def split_search_list(value: str) -> list[str]:
    """A REG_SZ suffix list ('a.example,b.example' or space-separated) as lower-case names without dots at the
    ends."""
    return [part.strip(". ").lower() for part in re.split(r"[,\s]+", value) if part.strip(". ")]


def _read_text(path: Path) -> str | None:
    try:
        if not path.is_file() or path.stat().st_size > MAX_CONFIG:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    try:
        return decode_text(data)
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace")  # the XML parser then says what is wrong, with the line


def default_reader() -> WindowsSettingsReader | None:
    return RegistryReader() if sys.platform == "win32" else None


class FileReader:
    """Reads only configuration files: what is available off Windows (and for --connector-config)."""

    def winhttp_blob(self) -> bytes | None:
        return None

    def wininet_values(self, hive: str = "HKCU") -> dict[str, object] | None:
        return None

    def registry_value(self, path: str, name: str) -> object:
        return None

    def config_text(self, path: str) -> str | None:
        return _read_text(Path(path))

    def primary_dns_domain(self) -> str | None:
        return None

    def dns_search_list(self) -> tuple[str, ...]:
        return ()
