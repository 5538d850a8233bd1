"""WPAD as Windows does it, as pure rules: which names discovery asks, where the suffixes come from, whether the
connector's route follows what is found, and WinHTTP's answers read as routes. Each row cites its source.

WinHTTP AutoProxy: https://learn.microsoft.com/en-us/windows/win32/winhttp/winhttp-autoproxy-support
DNS devolution (never below two labels since MS09-008):
  https://learn.microsoft.com/en-us/previous-versions/windows/it-pro/windows-server-2008-R2-and-2008/ee683928(v=ws.10)
.NET <proxy autoDetect usesystemdefault>:
  https://learn.microsoft.com/en-us/dotnet/framework/configure-apps/file-schema/network/proxy-element-network-settings
WINHTTP_PROXY_INFO / error codes: https://learn.microsoft.com/en-us/windows/win32/winhttp/error-messages
"""

from __future__ import annotations

import pytest
from proxysettings import proxy_settings

from preflight.errors import UsageError
from preflight.proxy.automatic import plan_request
from preflight.proxy.windows import (
    BypassList,
    DotNetProxy,
    WinInetSettings,
    build_connection_settings,
    build_winhttp_settings,
    parse_wininet,
)
from preflight.proxy.winhttp_api import WinHttpAnswer
from preflight.proxy.wpad import (
    candidate_names,
    devolve,
    parse_domain_option,
    resolv_conf_suffixes,
    route_follows_wpad,
)

DEVOLUTION = [
    ("a.b.contoso.com", ["a.b.contoso.com", "b.contoso.com", "contoso.com"]),  # one label at a time
    ("contoso.com", ["contoso.com"]),  # two labels: no devolution, never wpad.com
    ("Corp.Contoso.COM.", ["corp.contoso.com", "contoso.com"]),  # case and a trailing dot do not matter
    ("corp", ["corp"]),  # a single-label suffix is asked as is
    ("", []),
]


@pytest.mark.parametrize(("suffix", "expected"), DEVOLUTION)
def test_devolution(suffix: str, expected: list[str]) -> None:
    assert devolve(suffix) == expected


def test_names_are_the_devolved_primary_then_the_search_list_once_each() -> None:
    names = candidate_names("emea.corp.contoso.com", ["corp.contoso.com", "fabrikam.test", " "])
    assert names == ["wpad.emea.corp.contoso.com", "wpad.corp.contoso.com", "wpad.contoso.com", "wpad.fabrikam.test"]
    assert candidate_names(None, []) == []


RESOLV_CONF = [
    ("nameserver 198.18.0.53\n", (None, ())),
    ("search corp.contoso.test contoso.test\n", ("corp.contoso.test", ("corp.contoso.test", "contoso.test"))),
    ("domain corp.contoso.test\n", ("corp.contoso.test", ())),
    # the last of 'domain' and 'search' wins, as in glibc
    ("domain a.test\nsearch b.test c.test\n", ("b.test", ("b.test", "c.test"))),
    ("search b.test\ndomain a.test\n", ("a.test", ())),
    ("search Corp.Test. # a comment\n; another\n", ("corp.test", ("corp.test",))),
]


@pytest.mark.parametrize(("text", "expected"), RESOLV_CONF)
def test_resolv_conf_suffixes(text: str, expected: tuple[str | None, tuple[str, ...]]) -> None:
    assert resolv_conf_suffixes(text) == expected


def wininet(detect: bool | None) -> WinInetSettings:
    return WinInetSettings(False, {}, BypassList(()), None, detect)


def config(**fields: object) -> DotNetProxy:
    return DotNetProxy(source="Connector.exe.config", found=True, **fields)  # type: ignore[arg-type]


FOLLOWS = [
    # (.exe.config, WinINET, --pac, expected reason prefix or None)
    (config(auto_detect=True, use_system_default=False), None, None, "autoDetect=true in Connector.exe.config"),
    (config(auto_detect=False), wininet(True), None, None),  # autoDetect=false wins over the system setting
    (config(), wininet(True), None, "the system's settings (Connector.exe.config) → WinINET 'Automatically detect"),
    (config(), wininet(None), None, "the system's settings (Connector.exe.config) → WinINET"),  # absent: on
    # An explicit usesystemdefault="true" is .NET's WebProxy(false): the system's address, not its detection.
    (config(use_system_default=True), wininet(True), None, None),
    (config(bypass_on_local=True), wininet(True), None, None),  # another attribute: the system is not read
    (config(), wininet(False), None, None),
    (config(use_system_default=False), wininet(True), None, None),  # unspecified without the system: no detection
    (config(enabled=False, auto_detect=True), None, None, None),  # enabled=false: no proxy at all
    (None, wininet(True), None, "no <defaultProxy>: .NET's default usesystemdefault"),
    (None, None, None, None),  # nothing read (off Windows): not known, so not followed
    (config(auto_detect=True), None, "x.pac", None),  # --pac decides
]


@pytest.mark.parametrize(("connector", "system", "pac", "expected"), FOLLOWS)
def test_when_the_route_follows_wpad(connector: DotNetProxy | None, system: WinInetSettings | None,
                                     pac: str | None, expected: str | None) -> None:  # fmt: skip
    reason = route_follows_wpad(proxy_settings(connector=connector, wininet=system).inputs, pac)
    if expected is None:
        assert reason is None
    else:
        assert reason is not None and reason.startswith(expected)


def test_explicit_proxy_means_wpad_is_evidence_only() -> None:
    settings = proxy_settings(connector=config(auto_detect=True), explicit_none=True)
    request = plan_request(settings.inputs, None, ["corp.contoso.test"])
    assert request.wpad_use is None and request.wpad_ignored == "--proxy decides the route"
    assert request.wpad_names == ("wpad.corp.contoso.test", "wpad.contoso.test")


def test_domain_option_overrides_the_host_and_none_turns_discovery_off() -> None:
    settings = proxy_settings(connector=config(auto_detect=True), local_domain="corp.fabrikam.test")
    assert plan_request(settings.inputs, None).wpad_names == ("wpad.corp.fabrikam.test", "wpad.fabrikam.test")
    off = plan_request(settings.inputs, None, ["none"])
    assert (off.wpad_names, off.wpad_use, off.active) == ((), None, False)
    both = plan_request(settings.inputs, None, ["a.test", "b.a.test"])
    assert both.wpad_names == ("wpad.a.test", "wpad.b.a.test")


@pytest.mark.parametrize("bad", ["http://wpad.test", "corp..test", "-corp.test", "corp test", ""])
def test_domain_option_errors_name_the_option(bad: str) -> None:
    with pytest.raises(UsageError, match="--wpad-domain"):
        parse_domain_option(bad)
    assert parse_domain_option("Corp.Contoso.Test.") == "corp.contoso.test"


def test_wininet_auto_detect_flag_comes_from_default_connection_settings() -> None:
    """DefaultConnectionSettings has WinHttpSettings' layout; flag 8 is 'Automatically detect settings'."""
    on = parse_wininet({"DefaultConnectionSettings": build_connection_settings(flags=1 | 8)})
    off = parse_wininet({"DefaultConnectionSettings": build_connection_settings(flags=1)})
    absent = parse_wininet({})
    assert (on.auto_detect_flag, off.auto_detect_flag, absent.auto_detect_flag) == (True, False, None)
    assert (on.auto_detect, off.auto_detect, absent.auto_detect) == (True, False, True)
    # A record whose first DWORD is below IE 5's size (60) is, to .NET, no record at all: detection on.
    short = parse_wininet({"DefaultConnectionSettings": build_winhttp_settings(flags=1)})
    assert short.auto_detect and not short.enabled
    with pytest.raises(ValueError, match="DefaultConnectionSettings"):
        parse_wininet({"DefaultConnectionSettings": b"\x01\x00"})


ANSWERS = [
    # WINHTTP_PROXY_INFO → the route, as a FindProxyForURL string
    (WinHttpAnswer(3, "198.18.1.1:3128"), "https", "PROXY 198.18.1.1:3128"),
    (WinHttpAnswer(3, "http=198.18.1.1:80;https=198.18.1.2:8443"), "https", "PROXY 198.18.1.2:8443"),
    (WinHttpAnswer(3, "http=198.18.1.1:80"), "https", "DIRECT"),  # no proxy for this scheme
    (WinHttpAnswer(1), "https", "DIRECT"),  # WINHTTP_ACCESS_TYPE_NO_PROXY
    (WinHttpAnswer(error=12180), "https", "DIRECT"),  # ERROR_WINHTTP_AUTODETECTION_FAILED: goes without
    (WinHttpAnswer(error=12167), "http", "DIRECT"),  # ERROR_WINHTTP_UNABLE_TO_DOWNLOAD_SCRIPT
]


@pytest.mark.parametrize(("answer", "scheme", "expected"), ANSWERS)
def test_winhttp_answers_as_routes(answer: WinHttpAnswer, scheme: str, expected: str) -> None:
    assert answer.as_pac(scheme) == expected


def test_winhttp_errors_keep_their_number_and_name() -> None:
    assert WinHttpAnswer(error=12180).to_json() == {"error": 12180, "error_name": "ERROR_WINHTTP_AUTODETECTION_FAILED"}
    assert WinHttpAnswer(error=87).to_json() == {"error": 87, "error_name": "unknown WinHTTP error"}
    assert WinHttpAnswer(3, "198.18.1.1:3128", "<local>").to_json() == {
        "access_type": "named proxy", "proxy": "198.18.1.1:3128", "bypass": "<local>"}  # fmt: skip
