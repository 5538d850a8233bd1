"""Automatic proxy configuration for one run: the script the connector's configuration names, the WPAD script
discovery finds, which of them the route follows (WinHTTP's order: detection first, the configured URL as the
fallback), and, on Windows, what WinHTTP itself answers for each endpoint.

Everything here runs in the run's event loop with the run's resolver and HTTP probe: bounded by --timeout,
counted in --deadline, ended by Ctrl-C.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from preflight.blocking import in_daemon_thread
from preflight.netutil import usable_addresses
from preflight.proxy.autoconfig import AutoConfig, Evaluation, requested, target_url
from preflight.proxy.settings import ProxyInputs, ProxySettings, ScriptOutcome
from preflight.proxy.wpad import (
    Discovery,
    candidate_names,
    discover,
    host_suffixes,
    route_follows_wpad,
)

if TYPE_CHECKING:
    from preflight.context import Probes
    from preflight.model import Target
    from preflight.proxy.winhttp_api import AutoProxyApi, WinHttpAnswer


@dataclasses.dataclass(frozen=True)
class AutomaticRequest:
    """What the run must do about automatic configuration, decided from the settings before anything is asked."""

    configured: AutoConfig | None  # --pac, scriptLocation, or WinINET's AutoConfigURL under usesystemdefault
    wpad_names: tuple[str, ...]  # the DNS names discovery asks, in order; () with --wpad-domain none
    wpad_use: str | None  # why the route follows WPAD; None: what discovery finds is evidence only
    wpad_ignored: str  # when wpad_use is None: why not
    api: AutoProxyApi | None = None  # WinHTTP itself (Windows): DHCP option 252 and WinHttpGetProxyForUrl
    winhttp_auto_detect: bool = False  # WinHttpSettings flag 8: WinHTTP's own clients (revocation fetches) detect
    discover: bool = True  # False with --wpad-domain none: neither DNS nor DHCP is asked

    @property
    def active(self) -> bool:
        return self.configured is not None or bool(self.wpad_names) or self.api is not None


def plan_request(
    settings: ProxyInputs, pac_option: str | None, wpad_domains: Sequence[str] = (), api: AutoProxyApi | None = None
) -> AutomaticRequest:
    """`wpad_domains`: --wpad-domain values (each devolved as a primary suffix), ['none'] to turn discovery off,
    empty for this host's own suffixes."""
    off = list(wpad_domains) == ["none"]
    if off:
        names: tuple[str, ...] = ()
    elif wpad_domains:
        names = tuple(dict.fromkeys(name for domain in wpad_domains for name in candidate_names(domain, ())))
    else:
        primary, search = host_suffixes(settings)
        names = tuple(candidate_names(primary, search))
    use = None if off else route_follows_wpad(settings, pac_option)
    winhttp_detects = settings.winhttp is not None and settings.winhttp.auto_detect
    return AutomaticRequest(
        requested(settings, pac_option),
        names,
        use,
        _why_not(settings, pac_option),
        api,
        winhttp_detects,
        discover=not off,
    )


def _why_not(settings: ProxyInputs, pac_option: str | None) -> str:
    if pac_option is not None:
        return "--pac names the script"
    if settings.explicit is not None or settings.explicit_none:
        return "--proxy decides the route"
    config = settings.connector
    if config is not None and config.found:
        if not config.enabled:
            return f"<defaultProxy enabled=false> in {config.source}"
        if config.auto_detect is False:
            return f"autoDetect=false in {config.source}"
        web = config.web_proxy()
        if not web.system_automatic:
            return f"{config.source}: {web.why}"
    if settings.wininet is not None:
        return "WinINET's 'Automatically detect settings' is off"
    scope = settings.wininet_scope
    if scope is not None:
        return f"the WinINET settings of {scope.account}, the connector's account, cannot be read"
    return (
        "no connector configuration or Windows setting was read (off Windows, or no --connector-config): "
        "whether the connector auto-detects is not known"
    )


class AutomaticProxy:
    """`load()` once, `decide()` as targets become known (again after the tenant lookup), `close()`."""

    def __init__(self, request: AutomaticRequest, ctx: Probes, timeout: float) -> None:
        self.request = request
        self.ctx = ctx
        self.timeout = timeout
        self.configured = Evaluation(request.configured, ctx, timeout) if request.configured else None
        self.wpad: Evaluation | None = None
        self.discovery: Discovery | None = None
        self.winhttp: dict[tuple[str, int], WinHttpAnswer] = {}
        self.winhttp_gave_up: str | None = None

    @property
    def scripts(self) -> dict[str, str]:
        """The scripts read, for the bundle."""
        found = {}
        if self.configured is not None and self.configured.script is not None:
            found["evidence/proxy.pac"] = self.configured.script
        if self.wpad is not None and self.wpad.script is not None:
            found["evidence/wpad.dat"] = self.wpad.script
        return found

    async def load(self) -> None:
        await asyncio.gather(self._find_wpad(), self.configured.load() if self.configured else asyncio.sleep(0))

    async def _find_wpad(self) -> None:
        api = self.request.api
        # DHCP is asked only when something on this host auto-detects: the WinHTTP call can take seconds
        dhcp = api.detect_dhcp if api is not None and self.request.discover and self._api_auto_detect() else None
        if not self.request.wpad_names and dhcp is None:
            return
        self.discovery = Discovery(list(self.request.wpad_names))
        await discover(self.discovery, self._addresses, dhcp, self.timeout)
        if self.discovery.url is not None:
            origin = f"WPAD via {self.discovery.via}"
            self.wpad = Evaluation(AutoConfig(origin, self.discovery.url), self.ctx, self.timeout)
            await self.wpad.load()

    async def _addresses(self, name: str) -> list[str]:
        resolution = await self.ctx.resolve(name)
        return usable_addresses(name, resolution.addresses)[0]

    @property
    def route_script(self) -> Evaluation | None:
        """The script the route follows: a working WPAD script when the route auto-detects, else the configured
        one (WinHTTP's and .NET's order). A failed WPAD script is never the route's: Windows then goes without."""
        if self.request.wpad_use is not None and self.wpad is not None and self.wpad.failure is None:
            return self.wpad
        return self.configured

    async def decide(self, settings: ProxySettings, targets: Iterable[Target]) -> ProxySettings:
        targets = list(targets)
        chosen = self.route_script
        if chosen is not None:
            settings = await chosen.decide(settings, targets)
        wpad_decisions = dict(settings.wpad.decisions)
        if self.wpad is not None and self.wpad is not chosen:
            wpad_decisions = await self.wpad.answers(targets, wpad_decisions)
        if self.request.api is not None:
            await self._ask_winhttp(targets)
        answers = {key: answer.as_pac("http" if key[1] == 80 else "https") for key, answer in self.winhttp.items()}
        return settings.answered(
            wpad=ScriptOutcome(self._wpad_origin(), wpad_decisions, None, self.wpad_evidence()),
            winhttp_api=ScriptOutcome("WinHttpGetProxyForUrl", answers, None, self.winhttp_evidence()),
        )

    def interrupted(self, settings: ProxySettings) -> ProxySettings:
        """The settings when the deadline or a signal ended the work: what was found so far."""
        chosen = self.route_script
        if chosen is not None:
            settings = chosen.interrupted(settings)
        return settings.answered(
            wpad=ScriptOutcome(self._wpad_origin(), settings.wpad.decisions, None, self.wpad_evidence()),
            winhttp_api=ScriptOutcome(
                "WinHttpGetProxyForUrl", settings.winhttp_api.decisions, None, self.winhttp_evidence()
            ),
        )

    def _wpad_origin(self) -> str | None:
        return self.wpad.auto.shown if self.wpad is not None else None

    def wpad_evidence(self) -> dict[str, Any]:
        if self.discovery is None:
            return {}
        found: dict[str, Any] = self.discovery.to_json()
        found["used"] = self.wpad is not None and self.wpad is self.route_script
        found["route_follows_wpad"] = self.request.wpad_use is not None
        found["why"] = self.request.wpad_use if self.request.wpad_use is not None else self.request.wpad_ignored
        if self.wpad is not None:
            found["script"] = self.wpad.evidence()
            if self.wpad.failure is not None:
                found["error"] = {"code": self.wpad.failure.code, "message": self.wpad.failure.message}
        return found

    def winhttp_evidence(self) -> dict[str, Any]:
        if self.request.api is None or not (self.winhttp or self.winhttp_gave_up):
            return {}
        answers = {f"{host}:{port}": answer.to_json() for (host, port), answer in self.winhttp.items()}
        found: dict[str, Any] = {
            "auto_detect": self._api_auto_detect(),
            "config_url": self._api_config_url(),
            "answers": answers,
        }
        if self.winhttp_gave_up:
            found["gave_up"] = self.winhttp_gave_up
        return found

    def _api_auto_detect(self) -> bool:
        return self.request.wpad_use is not None or self.request.winhttp_auto_detect

    def _api_config_url(self) -> str | None:
        configured = self.request.configured
        if configured is None or configured.origin == "--pac":
            return None  # --pac is this tool's question, not a setting Windows has
        location = configured.location
        return location if location.lower().startswith(("http://", "https://", "file://")) else None

    async def _ask_winhttp(self, targets: Sequence[Target]) -> None:
        """WinHttpGetProxyForUrl for every endpoint, with the auto-detection and script the settings give.
        One call at a time (WinHTTP caches the script after the first); the first that does not return within
        --timeout ends the asking, since every later one would wait as long."""
        api = self.request.api
        auto_detect, config_url = self._api_auto_detect(), self._api_config_url()
        if api is None or self.winhttp_gave_up or not (auto_detect or config_url):
            return
        for target in targets:
            key = (target.host, target.port or 0)
            if target.port is None or target.wildcard or target.missing or key in self.winhttp:
                continue
            url = target_url(target)
            ask = functools.partial(api.proxy_for_url, url, auto_detect=auto_detect, config_url=config_url)
            try:
                self.winhttp[key] = await in_daemon_thread(ask, self.timeout + 1, name="preflight-winhttp")
            except TimeoutError:
                self.winhttp_gave_up = f"WinHttpGetProxyForUrl({url}) did not return within {self.timeout + 1:g} s"
                return
            except OSError as exc:
                self.winhttp_gave_up = f"WinHttpGetProxyForUrl({url}): {exc}"
                return

    async def close(self) -> None:
        for evaluation in (self.configured, self.wpad):
            if evaluation is not None:
                await evaluation.close()
        closer = getattr(self.request.api, "close", None)
        if callable(closer):
            closer()
