"""WPAD discovery and WinHTTP's own answers inside the run, against fakes with Windows semantics: a resolver
table, HTTP answers as the run's probe gives them, and a WinHTTP API that returns WINHTTP_PROXY_INFO strings and
ERROR_WINHTTP_* numbers (or never returns). The scripts run in the real PAC worker."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from dnsserver import Behaviour, DnsServer
from helpers import run_cli
from proxysettings import proxy_settings

from checks.proxy import judge_effective, observe_effective
from preflight import profile as profile_mod
from preflight.engine import plan as plan_mod
from preflight.probes.dns import Resolution
from preflight.probes.http import HttpFetch
from preflight.proxy import ProxySettings
from preflight.proxy.autoconfig import AutoConfig
from preflight.proxy.automatic import AutomaticProxy, AutomaticRequest, plan_request
from preflight.proxy.windows import DotNetProxy
from preflight.proxy.winhttp_api import WinHttpAnswer

PROXY = "198.18.1.1:3128"
WPAD = f"""function FindProxyForURL(url, host) {{
  if (/\\.microsoftonline\\.com$/.test(host)) return "PROXY {PROXY}; DIRECT";
  return "DIRECT";
}}"""
CONFIGURED = 'function FindProxyForURL(url, host) { return "PROXY 198.18.2.2:8080"; }'
AUTO_DETECT = DotNetProxy(source="Connector.exe.config", found=True, auto_detect=True, use_system_default=False)


class FakeContext:
    """What AutomaticProxy uses of the run's context: its resolver, its HTTP probe and the plan."""

    def __init__(self, names: dict[str, list[str]], pages: dict[str, HttpFetch]) -> None:
        self.names, self.pages = names, pages
        self.plan = plan_mod.build(profile_mod.load("entra-private-access"))
        self.asked: list[str] = []
        self.fetched: list[str] = []

    async def resolve(self, host: str) -> Resolution:
        self.asked.append(host)
        return Resolution(host, "dns-server", tuple(self.names.get(host, ())), None, (), ())

    async def http(self, url: str, address: str, *, host: str, max_body: int) -> HttpFetch:
        self.fetched.append(url)
        missing = HttpFetch(url, address, "GET", "refused", error="connection refused")
        return self.pages.get(url, missing)


def script_page(url: str, body: str, kind: str = "application/x-ns-proxy-autoconfig") -> HttpFetch:
    return HttpFetch(url, "198.18.1.1", "GET", "response", 200, kind, body=body.encode())


def settle(request: AutomaticRequest, ctx: FakeContext, settings: ProxySettings,
           timeout: float = 5.0) -> tuple[ProxySettings, AutomaticProxy]:  # fmt: skip
    async def run() -> tuple[ProxySettings, AutomaticProxy]:
        automatic = AutomaticProxy(request, ctx, timeout)
        try:
            await automatic.load()
            return await automatic.decide(settings, ctx.plan.port_targets()), automatic
        finally:
            await automatic.close()

    return asyncio.run(run())


def judged(settings: ProxySettings) -> Any:
    return judge_effective(observe_effective(plan_mod.build(profile_mod.load("entra-private-access"), proxy=settings)))


def test_dns_discovery_takes_the_first_name_in_order_and_the_route_follows_it() -> None:
    settings = proxy_settings(connector=AUTO_DETECT, local_domain="emea.corp.contoso.test")
    request = plan_request(settings.inputs, None)
    assert request.wpad_names == ("wpad.emea.corp.contoso.test", "wpad.corp.contoso.test", "wpad.contoso.test")
    ctx = FakeContext({"wpad.corp.contoso.test": ["198.18.1.1"], "wpad.contoso.test": ["198.18.9.9"]},
                      {"http://wpad.corp.contoso.test/wpad.dat": script_page("", WPAD)})  # fmt: skip
    settled, automatic = settle(request, ctx, settings)
    assert set(request.wpad_names) <= set(ctx.asked)  # every name asked (at once), the first in order wins
    assert ctx.fetched == ["http://wpad.corp.contoso.test/wpad.dat"]
    route = settled.route("login.microsoftonline.com", 443, tls=True)
    assert route.proxy is not None and route.proxy.display == f"http://{PROXY}"
    assert route.source.startswith("PAC http://wpad.corp.contoso.test/wpad.dat (WPAD via wpad.corp.contoso.test)")
    assert settled.route("crl3.digicert.com", 80, tls=False).proxy is None
    assert automatic.scripts == {"evidence/wpad.dat": WPAD}
    finding = judged(settled)
    assert (finding.code, finding.evidence["wpad"]["used"]) == ("proxy.configured", True)
    assert [t["name"] for t in finding.evidence["wpad"]["tried"]] == list(request.wpad_names)


def test_detection_comes_before_the_configured_script_which_is_the_fallback() -> None:
    connector = DotNetProxy(source="c.config", found=True, auto_detect=True, use_system_default=False,
                            script_location="http://pac.contoso.test/proxy.pac")  # fmt: skip
    settings = proxy_settings(connector=connector)
    pages = {"http://pac.contoso.test/proxy.pac": script_page("", CONFIGURED),
             "http://wpad.contoso.test/wpad.dat": script_page("", WPAD)}  # fmt: skip
    names = {"wpad.contoso.test": ["198.18.1.1"], "pac.contoso.test": ["198.18.1.2"]}
    found, _ = settle(plan_request(settings.inputs, None, ["contoso.test"]), FakeContext(names, pages), settings)
    assert found.route("login.microsoftonline.com", 443, tls=True).proxy.display == f"http://{PROXY}"  # type: ignore[union-attr]
    # no WPAD record: the configured script decides
    fallback, _ = settle(plan_request(settings.inputs, None, ["contoso.test"]),
                         FakeContext({"pac.contoso.test": ["198.18.1.2"]}, pages), settings)  # fmt: skip
    assert fallback.route("login.microsoftonline.com", 443, tls=True).proxy.display == "http://198.18.2.2:8080"  # type: ignore[union-attr]
    assert fallback.wpad.evidence["url"] is None and fallback.wpad.evidence["route_follows_wpad"] is True


def test_a_broken_wpad_script_is_a_warning_and_the_route_goes_without_it() -> None:
    settings = proxy_settings(connector=AUTO_DETECT)
    url = "http://wpad.contoso.test/wpad.dat"
    page = HttpFetch(url, "198.18.1.1", "GET", "response", 200, "text/html", body=b"<html>login</html>")
    settled, automatic = settle(plan_request(settings.inputs, None, ["contoso.test"]),
                                FakeContext({"wpad.contoso.test": ["198.18.1.1"]}, {url: page}), settings)  # fmt: skip
    assert automatic.route_script is None
    assert settled.route("login.microsoftonline.com", 443, tls=True).proxy is None
    finding = judged(settled)
    assert (finding.status, finding.code) == ("warn", "proxy.wpad_error")
    assert "an HTML page" in finding.summary and url in finding.summary


def test_a_wpad_script_not_followed_is_compared_with_the_tested_route() -> None:
    settings = proxy_settings()  # nothing read: whether the connector auto-detects is unknown
    url = "http://wpad.contoso.test/wpad.dat"
    settled, _ = settle(plan_request(settings.inputs, None, ["contoso.test"]),
                        FakeContext({"wpad.contoso.test": ["198.18.1.1"]}, {url: script_page(url, WPAD)}),
                        settings)  # fmt: skip
    assert settled.route("login.microsoftonline.com", 443, tls=True).proxy is None
    finding = judged(settled)
    assert (finding.status, finding.code) == ("warn", "proxy.divergent")
    routes = finding.evidence["routes"]
    assert routes["login.microsoftonline.com:443"]["by_source"] == {"tested": "direct", "wpad": f"http://{PROXY}"}
    assert routes["crl3.digicert.com:80"]["by_source"] == {"tested": "direct", "wpad": "direct"}  # agreeing
    assert "whether the connector auto-detects is not known" in finding.summary


class FakeWinHttp:
    """WinHttpGetProxyForUrl and WinHttpDetectAutoProxyConfigUrl with WinHTTP's semantics."""

    def __init__(self, answers: dict[str, WinHttpAnswer], dhcp: str | None = None, hang: bool = False,
                 default: WinHttpAnswer | None = None) -> None:  # fmt: skip
        self.answers, self.dhcp, self.hang = answers, dhcp, hang
        self.default = default or WinHttpAnswer(error=12180)  # ERROR_WINHTTP_AUTODETECTION_FAILED
        self.calls: list[tuple[str, bool, str | None]] = []
        self.released = threading.Event()

    def detect_dhcp(self) -> str | None:
        return self.dhcp

    def proxy_for_url(self, url: str, *, auto_detect: bool, config_url: str | None) -> WinHttpAnswer:
        self.calls.append((url, auto_detect, config_url))
        if self.hang:
            self.released.wait(30)  # a call stuck in the auto-proxy service
        if not auto_detect and not config_url:
            return WinHttpAnswer(error=87)
        return self.answers.get(url, self.default)


def test_winhttp_disagreeing_with_the_tool_is_divergent_with_both_routes() -> None:
    settings = proxy_settings(connector=AUTO_DETECT)
    url = "http://wpad.contoso.test/wpad.dat"
    api = FakeWinHttp({"https://login.microsoftonline.com/": WinHttpAnswer(1)})  # WinHTTP says: no proxy
    ctx = FakeContext({"wpad.contoso.test": ["198.18.1.1"]}, {url: script_page(url, WPAD)})
    settled, _ = settle(plan_request(settings.inputs, None, ["contoso.test"], api), ctx, settings)
    assert ("https://login.microsoftonline.com/", True, None) in api.calls  # auto-detect on, as the connector
    assert ("https://{tenant_id}.bootstrap.msappproxy.net/", True, None) not in api.calls  # unfilled: not asked
    finding = judged(settled)
    assert (finding.status, finding.code) == ("warn", "proxy.divergent")
    row = finding.evidence["routes"]["login.microsoftonline.com:443"]
    assert row["by_source"] == {"tested": f"http://{PROXY}", "pac": f"http://{PROXY}", "winhttp_api": "direct"}
    answers = finding.evidence["winhttp_api"]["answers"]
    assert answers["login.microsoftonline.com:443"] == {"access_type": "no proxy", "proxy": None, "bypass": None}
    assert answers["login.windows.net:443"] == {"error": 12180, "error_name": "ERROR_WINHTTP_AUTODETECTION_FAILED"}


def test_winhttp_agreeing_is_not_divergent_and_dhcp_comes_first() -> None:
    settings = proxy_settings(connector=AUTO_DETECT)
    url = "http://198.18.1.1/proxy.pac"
    ctx = FakeContext({}, {url: script_page(url, 'function FindProxyForURL(u, h) { return "PROXY 198.18.1.1:3128"; }')})
    plain = {f"http://{t.host}/": WinHttpAnswer(3, f"http={PROXY}") for t in ctx.plan.port_targets() if t.port == 80}
    api = FakeWinHttp(plain, dhcp=url, default=WinHttpAnswer(3, PROXY))
    settled, _ = settle(plan_request(settings.inputs, None, ["contoso.test"], api), ctx, settings)
    assert ctx.asked == [] and settled.wpad.evidence["via"] == "DHCP option 252"  # DNS not needed
    finding = judged(settled)
    assert finding.code == "proxy.configured", finding.summary


def test_winhttp_that_never_returns_ends_the_asking_within_the_timeout() -> None:
    settings = proxy_settings(connector=AUTO_DETECT)
    api = FakeWinHttp({}, hang=True)
    ctx = FakeContext({}, {})
    try:
        settled, _ = settle(plan_request(settings.inputs, None, ["contoso.test"], api), ctx, settings, timeout=0.3)
    finally:
        api.released.set()
    assert len(api.calls) == 1  # the first call hung: no other call was started
    assert settled.winhttp_api.evidence["gave_up"].endswith("did not return within 1.3 s")
    assert judged(settled).code == "proxy.direct"  # no answer is no evidence either way


@pytest.mark.parametrize("origin", ["--pac", "scriptLocation in c.config"])
def test_winhttp_is_given_only_the_configured_url_windows_knows(origin: str) -> None:
    settings = proxy_settings(connector=DotNetProxy(source="c.config", found=True, auto_detect=False))
    api = FakeWinHttp({})
    request = AutomaticRequest(AutoConfig(origin, "http://pac.contoso.test/p.pac"), (), None, "autoDetect=false", api)
    ctx = FakeContext({"pac.contoso.test": ["198.18.1.2"]},
                      {"http://pac.contoso.test/p.pac": script_page("", CONFIGURED)})  # fmt: skip
    settle(request, ctx, settings)
    if origin == "--pac":
        assert api.calls == []  # --pac is the tool's question, not a Windows setting: WinHTTP has nothing to say
    else:
        assert api.calls and all(call[1:] == (False, "http://pac.contoso.test/p.pac") for call in api.calls)


def test_a_silent_wpad_lookup_honours_the_deadline_and_the_run_still_reports(tmp_path: Path) -> None:
    """Discovery runs inside the run: a DNS server that never answers for wpad.<suffix> costs at most the
    deadline, and the report still comes out with every check's result."""
    profile = tmp_path / "p.toml"
    profile.write_text('name = "wpad-live"\n[clock]\nntp_servers = []\n'
                       '[[endpoint]]\nhost = "svc.test"\nports = [443]\npurpose = "p"\nsource = "s"\n')  # fmt: skip
    zone = {"svc.test": Behaviour(a=("127.0.0.1",)), "wpad.contoso.test": Behaviour(silent=True)}
    with DnsServer(zone) as dns:
        started = time.monotonic()
        run = run_cli("run", "--profile", str(profile), "--dns-server", dns.address, "--wpad-domain", "contoso.test",
                      "--timeout", "10", "--deadline", "2", "--format", "json")  # fmt: skip
        took = time.monotonic() - started
        asked = {name for _transport, name, _kind in dns.queries}
    assert took < 2 + 0.5 + 1.5, f"{took:.2f}s"  # the deadline, its grace, and the interpreter's start-up
    assert "wpad.contoso.test" in asked
    assert run.report["ended_by"] == "deadline" and run.code == 3
    wpad = run.result("proxy.effective", "proxy settings")["evidence"]["wpad"]
    assert (wpad["url"], wpad["unanswered"]) == (None, ["wpad.contoso.test"])  # what it asked, though unanswered


def test_wpad_domain_option_errors_are_one_line(tmp_path: Path) -> None:
    run = run_cli("run", "--wpad-domain", "http://wpad.contoso.test", "--format", "json")
    assert run.code == 2 and "--wpad-domain 'http://wpad.contoso.test': not a DNS suffix" in run.stderr
    both = run_cli("run", "--wpad-domain", "none", "--wpad-domain", "contoso.test")
    assert both.code == 2 and "cannot be combined" in both.stderr


def test_winhttp_auto_detect_of_its_own_is_asked_with_detection() -> None:
    """WinHttpSettings flag 8: WinHTTP's own clients detect even when the connector does not; WinHTTP is asked
    with auto-detection, and a script it finds that the route does not follow shows as a divergence."""
    from preflight.proxy.windows import build_winhttp_settings, parse_winhttp_settings

    winhttp = parse_winhttp_settings(build_winhttp_settings(flags=1 | 8))
    settings = proxy_settings(connector=DotNetProxy(source="c.config", found=True, auto_detect=False), winhttp=winhttp)
    api = FakeWinHttp({}, default=WinHttpAnswer(3, PROXY))
    request = plan_request(settings.inputs, None, ["none"], api)
    assert request.wpad_use is None and request.winhttp_auto_detect
    settled, _ = settle(request, FakeContext({}, {}), settings)
    assert settled.wpad.evidence == {}  # --wpad-domain none: DHCP is not asked either
    assert api.calls and all(call[1:] == (True, None) for call in api.calls)
    finding = judged(settled)
    assert finding.code == "proxy.divergent"
    assert finding.evidence["routes"]["login.microsoftonline.com:443"]["by_source"]["winhttp_api"] == f"http://{PROXY}"
