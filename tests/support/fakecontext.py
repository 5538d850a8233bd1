"""A Context (preflight/context.py) backed by dicts, for unit tests of every check's `observe`: what the network
would answer is written down, nothing is sent. As httpx's MockTransport stands in for a server, this stands in for
the run: each probe looks up its answer and records that it was asked; a probe with no answer written raises, so
a test states everything the observation depends on."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from preflight.host.hostsfile import HostsEntry
from preflight.model import Endpoint, Target
from preflight.probes.dns import OverTcp, Resolution
from preflight.probes.http import HttpFetch
from preflight.probes.ntp import DateReading, NtpReading
from preflight.probes.proxy import Carrier, TunnelResult, follow_list
from preflight.probes.tcp import ConnectAttempt
from preflight.probes.tls import Handshake, Opener
from preflight.profile import ClockPolicy
from preflight.proxy.settings import ProxySettings
from preflight.proxy.sources import Route
from preflight.proxy.url import ProxyConfig

T = TypeVar("T")
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def resolution(host: str, *addresses: str) -> Resolution:
    return Resolution(host, "dns-server", tuple(addresses), None, (), ("198.18.0.53:53",))


@dataclasses.dataclass
class FakeContext:
    """Answers by key; `asked` lists every probe in the order it was asked."""

    endpoints: tuple[Endpoint, ...] = ()
    resolutions: dict[str, Resolution] = dataclasses.field(default_factory=dict)
    over_tcp: dict[str, OverTcp] = dataclasses.field(default_factory=dict)
    connects: dict[tuple[str, int], ConnectAttempt] = dataclasses.field(default_factory=dict)
    handshake_answers: dict[tuple[str, int], list[Handshake]] = dataclasses.field(default_factory=dict)
    path_answers: dict[tuple[str, int], list[tuple[str, Opener | None]]] = dataclasses.field(default_factory=dict)
    fetches: dict[tuple[str, str], HttpFetch] = dataclasses.field(default_factory=dict)
    tunnels: dict[tuple[str, int], TunnelResult] = dataclasses.field(default_factory=dict)
    tunnels_via: dict[tuple[str, str, int], TunnelResult] = dataclasses.field(default_factory=dict)  # per proxy
    ntp_answers: dict[str, NtpReading] = dataclasses.field(default_factory=dict)
    dates: dict[tuple[str, int], DateReading] = dataclasses.field(default_factory=dict)
    routes: dict[tuple[str, int], Route] = dataclasses.field(default_factory=dict)
    selected: set[str] = dataclasses.field(default_factory=set)
    check_settings: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    proxy: ProxySettings = dataclasses.field(default_factory=ProxySettings)
    ntp_servers: tuple[str, ...] = ()
    clock_policy: ClockPolicy = dataclasses.field(default_factory=ClockPolicy)
    expected_roots: Path | None = None
    known_intermediates: Path | None = None
    public_roots: str | None = None
    tenant: Any = None
    cloud_instance_name: str = "microsoftonline.com"
    timeout: float = 1.0
    clock: dt.datetime = NOW
    hosts: tuple[str, list[HostsEntry]] = ("/etc/hosts", [])
    asked: list[tuple[Any, ...]] = dataclasses.field(default_factory=list)
    _memo: dict[Any, Any] = dataclasses.field(default_factory=dict)

    # --- facts ---
    def now(self) -> dt.datetime:
        return self.clock

    def hosts_file(self) -> tuple[str, list[HostsEntry]]:
        return self.hosts

    def runs(self, check_id: str) -> bool:
        return check_id in self.selected

    def settings_for(self, check: Any) -> Mapping[str, Any]:
        return self.check_settings.get(check.id, dict(getattr(check, "settings", {}) or {}))

    def route(self, host: str, port: int) -> Route:
        return self.routes.get((host, port), Route(None, "direct"))

    def revocation_route(self, host: str, port: int) -> Route:
        return self.proxy.system_route(host, port) or self.route(host, port)

    def proxied(self, target: Target) -> bool:
        return target.port is not None and not self.route(target.host, target.port).direct

    def endpoints_for(self, host: str) -> tuple[Endpoint, ...]:
        return tuple(e for e in self.endpoints if e.host == host)

    def port_targets(self, *, tls_only: bool = False) -> list[Target]:
        roles: dict[tuple[str, int], tuple[str, ...]] = {}
        for e in self.endpoints:
            for port in e.ports:
                if not tls_only or e.tls_on(port):
                    had = roles.setdefault((e.host, port), ())
                    roles[(e.host, port)] = had + ((e.role,) if e.role and e.role not in had else ())
        return [Target(host, port, roles=found) for (host, port), found in roles.items()]

    def result_id_for(self, check_id: str, target: Target) -> str | None:
        return f"{check_id}/{target.host}" if check_id in self.selected else None

    # --- probes ---
    def _answer(self, table: Mapping[Any, T], key: Any, what: str) -> T:
        self.asked.append((what, *key) if isinstance(key, tuple) else (what, key))
        if key not in table:
            raise AssertionError(f"the test wrote no answer for {what} {key!r}")
        return table[key]

    async def resolve(self, host: str) -> Resolution:
        return self._answer(self.resolutions, host, "resolve")

    async def resolver_over_tcp(self, server: str) -> OverTcp | None:
        self.asked.append(("resolver_over_tcp", server))
        return self.over_tcp.get(server)

    async def connect(self, address: str, port: int, *, host: str) -> ConnectAttempt:
        return self._answer(self.connects, (address, port), "connect")

    async def handshake(self, address: str, port: int, *, host: str) -> Handshake:
        found = self._answer(self.handshake_answers, (host, port), "handshake")
        return next(h for h in found if h.address == address)

    async def handshakes(self, host: str, port: int) -> list[Handshake]:
        return list(self._answer(self.handshake_answers, (host, port), "handshakes"))

    async def paths(self, host: str, port: int) -> list[tuple[str, Opener | None]]:
        return list(self._answer(self.path_answers, (host, port), "paths"))

    async def routed_handshake(self, label: str, opener: Opener | None, port: int, *, host: str) -> Handshake:
        self.asked.append(("routed_handshake", label, host))
        found = self._answer(self.handshake_answers, (host, port), "routed_handshake")
        return next(h for h in found if h.address == label)

    async def open_addresses(self, host: str, port: int) -> list[str]:
        resolved = await self.resolve(host)
        attempts = [self.connects.get((a, port)) for a in resolved.addresses]
        return [a.address for a in attempts if a is not None and a.outcome == "open"]

    async def tunnel(self, proxy: ProxyConfig, host: str, port: int) -> TunnelResult:
        if (proxy.display, host, port) in self.tunnels_via:
            return self._answer(self.tunnels_via, (proxy.display, host, port), "tunnel")
        return self._answer(self.tunnels, (host, port), "tunnel")

    async def carrier(self, host: str, port: int) -> Carrier:
        """The run context's walk down the route's proxy list, over the written tunnel answers."""
        route = self.route(host, port)
        assert route.proxy is not None
        return await follow_list((route.proxy, *route.fallbacks), lambda p: self.tunnel(p, host, port))

    async def http(self, url: str, address: str, *, host: str, **_: Any) -> HttpFetch:
        return self._answer(self.fetches, (url, address), "http")

    async def ntp(self, server: str, address: str, port: int) -> NtpReading:
        return self._answer(self.ntp_answers, server, "ntp")

    async def https_date(self, host: str, label: str, port: int, opener: Opener | None) -> DateReading:
        return self._answer(self.dates, (host, port), "https_date")

    async def memo(self, key: Any, factory: Callable[[], Awaitable[T]]) -> T:
        if key not in self._memo:
            self._memo[key] = asyncio.ensure_future(factory())
        return await asyncio.shield(self._memo[key])  # type: ignore[no-any-return]

    @contextlib.asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        yield


def run(coroutine: Awaitable[T]) -> T:
    async def main() -> T:
        return await coroutine

    return asyncio.run(main())
