"""The route per target: each source alone (RouteSource), and the order the connector consults them in
(ProxySettings.route). Pure; the settings are built by hand."""

from __future__ import annotations

import dataclasses

import pytest
from proxysettings import proxy_settings, with_inputs

from preflight.proxy import from_environment, parse_proxy_url
from preflight.proxy.sources import (
    ConnectorProxy,
    EnvironmentProxy,
    ExplicitProxy,
    RouteSource,
    ScriptAnswers,
    WinHttpProxy,
    WinInetProxy,
)
from preflight.proxy.windows import BypassList, DotNetProxy, WinHttpSettings, WinInetSettings

HOST = "login.contoso.test"
CONFIG = (
    "C:/Program Files/Microsoft Entra private network connector/MicrosoftEntraPrivateNetworkConnectorService.exe.config"
)
ENV = from_environment({"HTTPS_PROXY": "http://198.18.0.9:8080", "NO_PROXY": ".internal.test"})
WININET = WinInetSettings(enabled=True, servers={"*": "198.18.0.7:8080"}, bypass=BypassList.parse("<local>"),
                          autoconfig_url=None)  # fmt: skip
WINHTTP = WinHttpSettings(version=0x28, counter=1, flags=1, proxy="", bypass="", autoconfig_url="")


def connector(**fields: object) -> DotNetProxy:
    return dataclasses.replace(DotNetProxy(source=CONFIG, found=True), **fields)  # type: ignore[arg-type]


def pac(answer: str, host: str = HOST, port: int = 443) -> dict[str, object]:
    return {"pac_origin": "--pac", "pac_decisions": {(host, port): answer}}


# (settings, host, tls, the route's source, the route's proxy or None)
PRECEDENCE = [
    ({}, HOST, True, "direct (no proxy configured)", None),
    ({"environment": ENV}, HOST, True, "HTTPS_PROXY", "http://198.18.0.9:8080"),
    ({"environment": ENV}, HOST, False, "direct (no proxy configured)", None),  # no HTTP_PROXY for port 80
    ({"environment": ENV}, "app.internal.test", True, "direct (NO_PROXY rule '.internal.test')", None),
    (
        {"environment": ENV, "explicit": parse_proxy_url("http://198.18.0.5:3128")},
        HOST,
        True,
        "--proxy",
        "http://198.18.0.5:3128",
    ),
    (
        {"environment": ENV, "explicit_none": True, "connector": connector(proxy_address="http://198.18.0.6:80")},
        HOST,
        True,
        "direct (--proxy none)",
        None,
    ),
    # The connector's .NET stack: its bypass list, then the script, then proxyaddress, then the system default.
    (
        {
            "connector": connector(proxy_address="http://198.18.0.6:80", bypass_regexes=(r"contoso\.test",)),
            **pac("PROXY 198.18.0.4:3128"),
        },
        HOST,
        True,
        f"direct ({CONFIG} bypass 'contoso\\\\.test')",
        None,
    ),
    (
        {"connector": connector(proxy_address="http://198.18.0.6:80"), **pac("PROXY 198.18.0.4:3128")},
        HOST,
        True,
        "PAC --pac: PROXY 198.18.0.4:3128",
        "http://198.18.0.4:3128",
    ),
    (
        {"connector": connector(proxy_address="http://198.18.0.6:80"), **pac("PROXY 198.18.0.4:3128", port=8398)},
        HOST,
        True,
        f"connector ({CONFIG})",
        "http://198.18.0.6:80",
    ),  # the script was asked about another port
    (
        {"connector": connector(proxy_address="http://198.18.0.6:80"), "environment": ENV},
        HOST,
        True,
        f"connector ({CONFIG})",
        "http://198.18.0.6:80",
    ),
    (
        {"connector": connector(), "wininet": WININET, "environment": ENV},
        HOST,
        True,
        f"connector → system default ({CONFIG})",
        "http://198.18.0.7:8080",
    ),
    (
        {"connector": connector(use_system_default=False), "environment": ENV},
        HOST,
        True,
        "HTTPS_PROXY",
        "http://198.18.0.9:8080",
    ),  # the connector's config has no say: the next source decides
    (
        {"connector": connector(enabled=False, bypass_regexes=(r"contoso",)), "environment": ENV},
        HOST,
        True,
        f"direct (<defaultProxy enabled=false> in {CONFIG})",
        None,
    ),
    (
        {"connector": connector(found=False, proxy_address="http://198.18.0.6:80"), "environment": ENV},
        HOST,
        True,
        "HTTPS_PROXY",
        "http://198.18.0.9:8080",
    ),  # a file without <defaultProxy>
    (
        {"connector": connector(proxy_address="bad url with spaces")},
        HOST,
        True,
        f"direct (unusable proxyaddress in {CONFIG})",
        None,
    ),
    (
        pac("SOCKS 198.18.0.4:1080"),
        HOST,
        True,
        "direct (PAC --pac: SOCKS 198.18.0.4:1080: not an HTTP proxy, which the connector cannot use)",
        None,
    ),
    (pac("DIRECT"), HOST, True, "direct (PAC --pac: DIRECT)", None),
    # Sources the route never follows: a WPAD script the connector does not use, WinHTTP, WinINET alone.
    (
        {"wpad_decisions": {(HOST, 443): "PROXY 198.18.0.4:3128"}, "winhttp": WINHTTP, "wininet": WININET},
        HOST,
        True,
        "direct (no proxy configured)",
        None,
    ),
]


@pytest.mark.parametrize(("fields", "host", "tls", "source", "proxy"), PRECEDENCE)
def test_the_route_is_the_first_source_with_a_say(fields: dict[str, object], host: str, tls: bool, source: str,
                                                  proxy: str | None) -> None:  # fmt: skip
    route = proxy_settings(**fields).route(host, 443 if tls else 80, tls=tls)  # type: ignore[arg-type]
    assert (route.source, route.proxy.display if route.proxy else None) == (source, proxy)


def test_each_source_alone_is_reported_by_its_name() -> None:
    settings = proxy_settings(
        explicit=parse_proxy_url("http://198.18.0.5:3128"),
        environment=ENV,
        connector=connector(proxy_address="http://198.18.0.6:80"),
        winhttp=WINHTTP,
        wininet=WININET,
        wpad_evidence={"url": "http://wpad.corp.contoso.test/wpad.dat"},
        wpad_decisions={(HOST, 443): "PROXY 198.18.0.4:3128"},
        winhttp_answers={(HOST, 443): "DIRECT"},
        **pac("PROXY 198.18.0.3:3128"),  # type: ignore[arg-type]
    )
    shown = {name: (r.proxy.display if r.proxy else "direct", r.source)
             for name, r in settings.source_routes(HOST, 443, tls=True).items()}  # fmt: skip
    assert shown == {
        "--proxy": ("http://198.18.0.5:3128", "--proxy"),
        "connector": ("http://198.18.0.6:80", f"connector ({CONFIG})"),
        "pac": ("http://198.18.0.3:3128", "PAC --pac: PROXY 198.18.0.3:3128"),
        "wpad": ("http://198.18.0.4:3128", "WPAD http://wpad.corp.contoso.test/wpad.dat: PROXY 198.18.0.4:3128"),
        "winhttp_api": ("direct", "direct (WinHttpGetProxyForUrl: DIRECT)"),
        "winhttp": ("direct", "direct (WinHTTP: no proxy)"),
        "environment": ("http://198.18.0.9:8080", "HTTPS_PROXY"),
    }  # no "wininet": the connector's proxyaddress decides, so WinINET has no bearing on it
    # Another target: the scripts were not asked about it, so they have no say; the others still answer.
    assert list(settings.source_routes("other.contoso.test", 443, tls=True)) == [
        "--proxy", "connector", "winhttp", "environment"]  # fmt: skip
    deferring = with_inputs(settings, connector=connector())  # usesystemdefault, no proxyaddress
    assert deferring.source_routes(HOST, 443, tls=True)["wininet"].source == "WinINET"


def test_sources_with_nothing_configured_have_no_say() -> None:
    quiet: list[RouteSource] = [
        ConnectorProxy(connector(found=False)),
        ConnectorProxy(connector(use_system_default=False)),
        ConnectorProxy(connector(), wininet=None).bypass_list(),
        ScriptAnswers("pac", "PAC x", {}),
        EnvironmentProxy(from_environment({"NO_PROXY": "*"})),
    ]
    for source in quiet:
        assert source.route(HOST, 443, tls=True) is None, source
    speaking: list[RouteSource] = [
        ExplicitProxy(parse_proxy_url("http://198.18.0.5:3128")),
        WinHttpProxy(WINHTTP),  # "no proxy" is an answer: WinHTTP's clients go direct
        WinInetProxy(WININET),
    ]
    for source in speaking:
        assert source.route(HOST, 443, tls=True) is not None, source
    assert proxy_settings().source_routes(HOST, 443, tls=True) == {}


@pytest.mark.parametrize(
    ("answer", "first", "fallbacks"),
    [
        ("PROXY a.test:3128", "http://a.test:3128", ()),
        ("PROXY a.test:3128; PROXY b.test:8080; DIRECT", "http://a.test:3128", ("http://b.test:8080", "direct")),
        ("PROXY a.test:3128; SOCKS s.test:1080; HTTP c.test", "http://a.test:3128", ("http://c.test:80",)),
        ("DIRECT; PROXY a.test:3128", None, ()),  # DIRECT first: nothing to fail over from
        ("PROXY a:1; " + "; ".join(f"PROXY p{i}.test:3128" for i in range(50)), "http://a:1",
         ("http://p0.test:3128", "http://p1.test:3128", "http://p2.test:3128")),  # a list of 50: the first 4 tried
    ],
)  # fmt: skip
def test_a_pac_answer_s_later_entries_are_the_routes_fallbacks(
    answer: str, first: str | None, fallbacks: tuple[str, ...]
) -> None:
    from preflight.proxy.sources import MAX_FAILOVER, script_route

    route = script_route(answer, "PAC --pac")
    assert (route.proxy.display if route.proxy else None) == first
    assert tuple(p.display if p else "direct" for p in route.fallbacks) == fallbacks
    assert len(route.fallbacks) < MAX_FAILOVER
