"""PAC evaluation: what real PAC files do, what is refused, and the bounds that keep a hostile script harmless."""

from __future__ import annotations

import datetime as dt

import pytest

from preflight.pac import PacError, PacScript, parse_result
from preflight.proxy import ProxySettings

CORPORATE = """
/* A typical corporate PAC */
function isMicrosoft(host) {
    return dnsDomainIs(host, ".microsoftonline.com") || dnsDomainIs(host, ".msappproxy.net");
}
function FindProxyForURL(url, host) {
    host = host.toLowerCase();
    var proxy = "PROXY 198.18.1.1:3128";
    if (isPlainHostName(host) || shExpMatch(host, "*.contoso.local")) return "DIRECT";
    if (isMicrosoft(host)) return proxy + "; DIRECT";
    if (isInNet(dnsResolve(host), "198.18.60.0", "255.255.255.0")) return "DIRECT";
    if (url.substring(0, 5) === "http:") { return "PROXY 198.18.1.1:8080"; }
    else if (localHostOrDomainIs(host, "www.microsoft.com")) return "SOCKS 198.18.1.1:1080";
    return typeof host == "string" ? proxy : "DIRECT";
}
"""
RESOLVER = {"internal.contoso.com": "198.18.60.7"}.get


@pytest.mark.parametrize(
    ("url", "host", "expected"),
    [
        ("https://intranet/", "intranet", "DIRECT"),
        ("https://app.contoso.local/", "app.contoso.local", "DIRECT"),
        ("https://login.microsoftonline.com/", "LOGIN.MicrosoftOnline.com", "PROXY 198.18.1.1:3128; DIRECT"),
        ("https://internal.contoso.com/", "internal.contoso.com", "DIRECT"),
        ("http://crl3.digicert.com/", "crl3.digicert.com", "PROXY 198.18.1.1:8080"),
        ("https://www.microsoft.com/", "www.microsoft.com", "SOCKS 198.18.1.1:1080"),
        ("https://management.azure.com/", "management.azure.com", "PROXY 198.18.1.1:3128"),
    ],
)
def test_corporate_pac(url: str, host: str, expected: str) -> None:
    assert PacScript(CORPORATE, "corp.pac").find_proxy(url, host, resolver=RESOLVER) == expected


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("function FindProxyForURL(u, h) { while (true) {} }", ["line 1", "'while' is not supported"]),
        ("function FindProxyForURL(u, h) {\n  return eval('x'); }", ["line 2", "'eval'"]),
        ("function FindProxyForURL(u, h) { return new Date(); }", ["'new'"]),
        ("function FindProxyForURL(u, h) { return /x/.test(h); }", ["line 1"]),
        ("function FindProxyForURL(u, h) { return 'DIRECT' ", ["missing '}'"]),
        ("function Other(u, h) { return 'DIRECT'; }", ["no function FindProxyForURL"]),
        ("function FindProxyForURL(u, h) { return 1; }", ["returned number"]),
        ("function FindProxyForURL(u, h) { return missing(h); }", ["'missing' is not defined"]),
        ("function FindProxyForURL(u, h) { return h.constructor(); }", ["not supported"]),
    ],
)
def test_unsupported_or_broken_scripts_are_one_line_errors(body: str, words: list[str]) -> None:
    with pytest.raises(PacError) as caught:
        PacScript(body, "bad.pac").find_proxy("https://a.test/", "a.test", resolver=RESOLVER)
    message = str(caught.value)
    assert message.startswith("bad.pac: ") and "\n" not in message
    for word in words:
        assert word in message


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("function f(x) { return f(x); } function FindProxyForURL(u, h) { return f(h); }", "nested more than"),
        ("function FindProxyForURL(u, h) { var s = 'x'; " + "s = s + s; " * 40 + "return s; }", "grew past"),
        ("function g(n) { return n > 0 ? g(n - 1) + g(n - 1) : 1; }"
         "function FindProxyForURL(u, h) { g(40); return 'DIRECT'; }", "steps"),
    ],
)  # fmt: skip
def test_hostile_scripts_are_bounded(body: str, words: str) -> None:
    with pytest.raises(PacError, match=words):
        PacScript(body, "hostile.pac").find_proxy("https://a.test/", "a.test", resolver=RESOLVER)


def test_time_helpers_use_the_given_clock() -> None:
    script = PacScript("function FindProxyForURL(u, h) { return weekdayRange('MON', 'FRI') && timeRange(8, 18)"
                       " ? 'PROXY p:1' : 'DIRECT'; }")  # fmt: skip
    tuesday_noon = dt.datetime(2026, 11, 24, 12, 0)
    sunday = dt.datetime(2026, 11, 29, 12, 0)
    assert script.find_proxy("https://a/", "a", resolver=RESOLVER, now=tuesday_noon) == "PROXY p:1"
    assert script.find_proxy("https://a/", "a", resolver=RESOLVER, now=sunday) == "DIRECT"


def test_results_and_routes() -> None:
    assert [d.kind for d in parse_result("PROXY a:1; PROXY b:2;DIRECT")] == ["PROXY", "PROXY", "DIRECT"]
    settings = ProxySettings(pac_origin="corp.pac", pac_decisions={
        ("login.microsoftonline.com", 443): "PROXY 198.18.1.1:3128; DIRECT",
        ("www.microsoft.com", 443): "SOCKS 198.18.1.1:1080",
        ("crl3.digicert.com", 80): "DIRECT",
    })  # fmt: skip
    login = settings.route("login.microsoftonline.com", 443, tls=True)
    assert login.proxy is not None and login.source == "PAC corp.pac: PROXY 198.18.1.1:3128"
    assert "cannot use" in settings.route("www.microsoft.com", 443, tls=True).source
    assert settings.route("crl3.digicert.com", 80, tls=False).direct
