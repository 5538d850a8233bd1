"""The connector's <defaultProxy>, read as .NET Framework reads it: one table row per rule, each citing where .NET
documents (or implements) it. DOC is the <proxy> element's page; the reference source is WebProxy.cs of .NET
Framework 4.8 (IsBypassed, IsMatchInBypassList, IsLocal)."""

from __future__ import annotations

from typing import Any

import pytest
from proxysettings import proxy_settings

from preflight.proxy import ProxySettings
from preflight.proxy.autoconfig import requested
from preflight.proxy.windows import BypassList, WinInetSettings, parse_dotnet_config

DOC = "learn.microsoft.com/dotnet/framework/configure-apps/file-schema/network/proxy-element-network-settings"
BYPASS_DOC = "learn.microsoft.com/dotnet/framework/configure-apps/file-schema/network/add-element-for-bypasslist"
WEBPROXY = "referencesource.microsoft.com/#System/net/System/Net/webproxy.cs"
URI_DOC = "learn.microsoft.com/dotnet/api/system.uri.port (the scheme's default port when none is given)"
SECTION = "referencesource.microsoft.com/#System/net/System/Net/Configuration/DefaultProxySection.cs"


def config(proxy: str = "", bypass: str = "", enabled: str = "") -> str:
    attributes = f' enabled="{enabled}"' if enabled else ""
    items = "".join(f'<add address="{b}" />' for b in bypass.split("|") if b)
    return (f"<configuration><system.net><defaultProxy{attributes}>{proxy}"
            f"<bypasslist>{items}</bypasslist></defaultProxy></system.net></configuration>")  # fmt: skip


def settings_for(text: str, wininet: WinInetSettings | None = None) -> ProxySettings:
    return proxy_settings(connector=parse_dotnet_config(text, "connector.exe.config"), wininet=wininet)


ROUTES: list[tuple[str, str, str, int, str | None, str]] = [
    # (why, config, host, port, expected proxy or None, source)
    ("proxyaddress without a port: the scheme's default, 80", config('<proxy proxyaddress="http://px.contoso.com" '
     'usesystemdefault="false" />'), "login.microsoftonline.com", 443, "http://px.contoso.com:80", URI_DOC),
    ("proxyaddress with a port", config('<proxy proxyaddress="http://px:3128" usesystemdefault="false" />'),
     "login.microsoftonline.com", 443, "http://px:3128", DOC),
    ("bypass regex matched anywhere in scheme://host, not the whole host",
     config('<proxy proxyaddress="http://px:3128" />', r"microsoftonline"), "login.microsoftonline.com", 443, None,
     WEBPROXY + " IsMatchInBypassList: Regex.IsMatch on scheme://host[:port]"),
    ("bypass regex may name the scheme", config('<proxy proxyaddress="http://px:3128" />', r"^http://crl"),
     "crl3.digicert.com", 80, None, BYPASS_DOC),
    ("a scheme in the regex that does not match", config('<proxy proxyaddress="http://px:3128" />', r"^http://crl"),
     "crl3.digicert.com", 443, "http://px:3128", BYPASS_DOC),
    ("a non-default port is part of the matched text", config('<proxy proxyaddress="http://px:3128" />', r":8398$"),
     "x.bootstrap.msappproxy.net", 8398, None, WEBPROXY),
    ("the default port is not", config('<proxy proxyaddress="http://px:3128" />', r":443$"),
     "login.microsoftonline.com", 443, "http://px:3128", WEBPROXY),
    ("bypass regexes ignore case", config('<proxy proxyaddress="http://px:3128" />', r"LOGIN\.MICROSOFTONLINE"),
     "login.microsoftonline.com", 443, None, WEBPROXY + " (RegexOptions.IgnoreCase)"),
    ("a dotted wildcard is a regex, not a glob: '*.contoso.com' never matches as intended",
     config('<proxy proxyaddress="http://px:3128" />', r"\.contoso\.com$"), "app.contoso.com", 443, None,
     BYPASS_DOC),
    ("bypassonlocal: a dotless name is local", config('<proxy proxyaddress="http://px:3128" bypassonlocal="true" />'),
     "intranet", 443, None, WEBPROXY + " IsLocal"),
    ("bypassonlocal: a loopback address is local",
     config('<proxy proxyaddress="http://px:3128" bypassonlocal="true" />'), "127.0.0.1", 443, None, WEBPROXY),
    ("bypassonlocal: a dotted public name is not", config('<proxy proxyaddress="http://px:3128" '
     'bypassonlocal="true" />'), "login.microsoftonline.com", 443, "http://px:3128", WEBPROXY),
    ("enabled=false: no proxy at all", config('<proxy proxyaddress="http://px:3128" />', enabled="false"),
     "login.microsoftonline.com", 443, None, "learn.microsoft.com/dotnet/framework/configure-apps/file-schema/"
     "network/defaultproxy-element-network-settings"),
    ("usesystemdefault: the system (WinINET) proxy", config('<proxy usesystemdefault="true" />'),
     "login.microsoftonline.com", 443, "http://198.18.1.1:3128", DOC),
    ("usesystemdefault absent reads as true", config("<proxy />"), "login.microsoftonline.com", 443,
     "http://198.18.1.1:3128", DOC + " (unspecified)"),
    ("usesystemdefault=false without an address: no proxy", config('<proxy usesystemdefault="false" />'),
     "login.microsoftonline.com", 443, None, DOC),
    ("usesystemdefault unspecified beside another attribute: an empty WebProxy, the system is not read",
     config('<proxy bypassonlocal="true" />'), "login.microsoftonline.com", 443, None,
     SECTION + " DefaultProxySectionInternal: new WebProxy() unless UseSystemDefault is True"),
    ("usesystemdefault=true beside bypassonlocal: still the system's proxy (WebProxy(false))",
     config('<proxy usesystemdefault="true" bypassonlocal="true" />'), "login.microsoftonline.com", 443,
     "http://198.18.1.1:3128", SECTION),
]  # fmt: skip
SYSTEM = WinInetSettings(True, {"*": "198.18.1.1:3128"}, BypassList(()), None)


@pytest.mark.parametrize(("text", "host", "port", "expected", "source"), [r[1:] for r in ROUTES],
                         ids=[r[0] for r in ROUTES])  # fmt: skip
def test_routes_follow_dotnet(text: str, host: str, port: int, expected: str | None, source: str) -> None:
    route = settings_for(text, SYSTEM).route(host, port, tls=port != 80)
    assert (route.proxy.display if route.proxy else None) == expected, route.source
    assert source  # every rule names where .NET says so


def test_bypassonlocal_counts_this_machines_domain() -> None:
    settings = settings_for(config('<proxy proxyaddress="http://px:3128" bypassonlocal="true" />'))
    local = proxy_settings(connector=settings.inputs.connector, local_domain="corp.contoso.com")
    assert local.route("app.corp.contoso.com", 443, tls=True).proxy is None
    assert local.route("app.other.corp.contoso.com", 443, tls=True).proxy is not None  # IsLocal: one label only


SCRIPTS: list[tuple[str, str, WinInetSettings | None, Any]] = [
    ("scriptLocation is the connector's script", config('<proxy scriptLocation="http://wpad.contoso.com/p.pac" '
     'usesystemdefault="false" />'), None, ("scriptLocation in connector.exe.config", "http://wpad.contoso.com/p.pac")),
    ("scriptLocation wins over proxyaddress (the script decides, the address is the fallback)",
     config('<proxy proxyaddress="http://px:3128" scriptLocation="file://C:/pac/proxy.pac" />'), None,
     ("scriptLocation in connector.exe.config", "file://C:/pac/proxy.pac")),
    ("no proxy attribute: .NET's WebProxy(true) takes WinINET's AutoConfigURL", config("<proxy />"),
     WinInetSettings(False, {}, BypassList(()), "http://pac.contoso.com/x.pac"),
     ("WinINET AutoConfigURL (usesystemdefault in connector.exe.config)", "http://pac.contoso.com/x.pac")),
    ("an explicit usesystemdefault=true is WebProxy(false): no system script",
     config('<proxy usesystemdefault="true" />'), WinInetSettings(False, {}, BypassList(()),
                                                                  "http://pac.contoso.com/x.pac"), None),
    ("usesystemdefault=false ignores WinINET's AutoConfigURL", config('<proxy usesystemdefault="false" />'),
     WinInetSettings(False, {}, BypassList(()), "http://pac.contoso.com/x.pac"), None),
    ("enabled=false: no script either", config('<proxy scriptLocation="http://p/x.pac" />', enabled="false"), None,
     None),
]  # fmt: skip


@pytest.mark.parametrize(("text", "wininet", "expected"), [s[1:] for s in SCRIPTS], ids=[s[0] for s in SCRIPTS])
def test_the_script_the_connector_follows(text: str, wininet: WinInetSettings | None, expected: Any) -> None:
    found = requested(settings_for(text, wininet).inputs, None)
    assert (found.origin, found.location) == expected if expected else found is None


def test_pac_decisions_come_before_proxyaddress_but_after_the_bypass_list() -> None:
    text = config('<proxy proxyaddress="http://px:3128" scriptLocation="http://p/x.pac" />', r"crl")
    base = settings_for(text)
    decided = proxy_settings(
        connector=base.inputs.connector,
        pac_origin="p",
        pac_decisions={
            ("login.microsoftonline.com", 443): "PROXY pacproxy:8080",
            ("crl3.digicert.com", 80): "PROXY pacproxy:8080",
        },
    )
    assert decided.route("login.microsoftonline.com", 443, tls=True).proxy.display == "http://pacproxy:8080"
    assert decided.route("crl3.digicert.com", 80, tls=False).proxy is None  # bypassed before the script is asked
    assert decided.route("other.example", 443, tls=True).proxy.display == "http://px:3128"  # no answer: the address


def test_auto_detect_is_read_as_a_tristate() -> None:
    assert parse_dotnet_config(config('<proxy autoDetect="true" />'), "c").auto_detect is True
    assert parse_dotnet_config(config('<proxy autoDetect="false" />'), "c").auto_detect is False
    assert parse_dotnet_config(config('<proxy autoDetect="unspecified" />'), "c").auto_detect is None
    assert parse_dotnet_config(config("<proxy />"), "c").auto_detect is None


def test_a_pac_answer_without_a_port_uses_80() -> None:
    decided = proxy_settings(pac_origin="p", pac_decisions={("a.test", 443): "PROXY pacproxy"})
    assert decided.route("a.test", 443, tls=True).proxy.display == "http://pacproxy:80"


@pytest.mark.parametrize("codec", ["utf-16", "utf-8-sig"])
def test_a_config_saved_as_utf16_or_with_a_bom_is_read(tmp_path: Any, codec: str) -> None:
    from preflight.proxy.windows import FileReader

    path = tmp_path / "c.exe.config"
    declared = "utf-16" if codec == "utf-16" else "utf-8"
    path.write_bytes((f'<?xml version="1.0" encoding="{declared}"?>' + config(
        '<proxy scriptLocation="http://p/x.pac" />')).encode(codec))  # fmt: skip
    text = FileReader().config_text(str(path))
    assert text is not None
    assert parse_dotnet_config(text, str(path)).script_location == "http://p/x.pac"


def test_an_explicit_usesystemdefault_keeps_the_systems_bypass_list_under_a_proxyaddress() -> None:
    """WebProxy(false) reads the system's address and bypass list; proxyaddress replaces the address only, and the
    element's own <bypasslist> would replace the list (DefaultProxySectionInternal)."""
    system = WinInetSettings(True, {"*": "198.18.1.1:3128"}, BypassList.parse("*.contoso.com"), None)
    text = config('<proxy usesystemdefault="true" proxyaddress="http://px:3128" />')
    settings = settings_for(text, system)
    assert settings.route("app.contoso.com", 443, tls=True).proxy is None
    assert settings.route("login.microsoftonline.com", 443, tls=True).proxy is not None
    unspecified = settings_for(config('<proxy proxyaddress="http://px:3128" />'), system)  # an empty WebProxy
    assert unspecified.route("app.contoso.com", 443, tls=True).proxy is not None
