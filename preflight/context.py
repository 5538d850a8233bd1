"""What a check may ask of the run, and what the proxy package and the tenant lookup need: two protocols, so that
none of them depends on the engine's class (preflight/engine/context.py implements both) and each can be tested
against a fake (tests/support/fakecontext.py), as httpx's MockTransport stands in for the network.

`Probes` is the network, shared and memoised for the whole run: each name resolved once, each HTTP exchange made
once, every wait bounded by `timeout`. `Context` adds what checks need besides: the run's facts (its routes, its
clock policy, its anchors, its tenant), the other probes (connects, handshakes, tunnels), and `memo` for a
measurement several checks share.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from preflight.host.hostsfile import HostsEntry
    from preflight.model import Endpoint, Target
    from preflight.probes.dns import OverTcp, Resolution
    from preflight.probes.http import HttpFetch
    from preflight.probes.ntp import DateReading, NtpReading
    from preflight.probes.proxy import Carrier, TunnelResult
    from preflight.probes.tcp import ConnectAttempt
    from preflight.probes.tls import Handshake, Opener
    from preflight.profile import ClockPolicy
    from preflight.proxy.settings import ProxySettings
    from preflight.proxy.sources import Route
    from preflight.proxy.url import ProxyConfig
    from preflight.tenant.discovery import TenantResolution

T = TypeVar("T")


class Probes(Protocol):
    """The run's shared probes that need no plan: name resolution and HTTP (a PAC or discovery document, a CRL)."""

    @property
    def timeout(self) -> float:
        """Seconds for each network wait (--timeout)."""
        ...

    async def resolve(self, host: str) -> Resolution: ...

    async def resolver_over_tcp(self, server: str) -> OverTcp | None:
        """What TCP 53 showed of a resolver the run asked (`server` as answers name it); None: not asked."""
        ...

    def port_targets(self, *, tls_only: bool = False) -> list[Target]:
        """The run's (host, port) targets in profile order (myIpAddress() takes the route to the first)."""
        ...

    async def http(
        self,
        url: str,
        address: str,
        *,
        host: str,
        method: str = "GET",
        content: bytes | None = None,
        content_type: str | None = None,
        proxy: ProxyConfig | None = None,
        ssl_context: Any = None,
        max_body: int = ...,
    ) -> HttpFetch: ...


class Context(Probes, Protocol):
    """Everything a check's `observe` may ask: the run's facts, then its probes. Nothing here changes the run."""

    # --- facts -------------------------------------------------------------------------------------------------
    @property
    def proxy(self) -> ProxySettings:
        """The proxy settings the routes come from (what proxy.effective judges)."""
        ...

    @property
    def ntp_servers(self) -> tuple[str, ...]:
        """The NTP servers to ask: --ntp-server, else the profile's."""
        ...

    @property
    def clock_policy(self) -> ClockPolicy: ...

    @property
    def expected_roots(self) -> Path | None:
        """The profile's anchors for the connector's endpoints (tls.expected_roots), if it names a file."""
        ...

    @property
    def known_intermediates(self) -> Path | None:
        """The profile's known intermediates (tls.known_intermediates): untrusted, offered to path building."""
        ...

    @property
    def public_roots(self) -> str | None:
        """--public-roots: the PEM bundle that stands for the public web PKI (None: certifi's)."""
        ...

    @property
    def tenant(self) -> TenantResolution | None: ...

    @property
    def cloud_instance_name(self) -> str:
        """The cloud the profile is for (microsoftonline.com, microsoftonline.us, ...)."""
        ...

    def now(self) -> dt.datetime:
        """This host's clock (clocksource.corrected_now corrects it by the measured offset)."""
        ...

    def hosts_file(self) -> tuple[str, list[HostsEntry]]:
        """This host's hosts file: its path and its entries (empty when missing or unreadable)."""
        ...

    def runs(self, check_id: str) -> bool:
        """Whether a check is part of this run."""
        ...

    def settings_for(self, check: Any) -> Mapping[str, Any]:
        """A check's settings: the profile's [checks."<id>"] and --set over its declared defaults."""
        ...

    def route(self, host: str, port: int) -> Route:
        """How the connector's traffic to host:port leaves this host (direct, or through which proxy and why)."""
        ...

    def revocation_route(self, host: str, port: int) -> Route:
        """How Windows' chain engine fetches from host:port (CRL, OCSP, AIA): WinHTTP's system proxy when this
        host's WinHTTP settings were read, else the connector's route."""
        ...

    def proxied(self, target: Target) -> bool: ...

    def endpoints_for(self, host: str) -> tuple[Endpoint, ...]:
        """The profile rows of one host."""
        ...

    def result_id_for(self, check_id: str, target: Target) -> str | None:
        """The id of the selected check's result that covers `target` (for a finding's caused_by), if it runs."""
        ...

    # --- probes ------------------------------------------------------------------------------------------------
    async def connect(self, address: str, port: int, *, host: str) -> ConnectAttempt: ...

    async def handshake(self, address: str, port: int, *, host: str) -> Handshake: ...

    async def handshakes(self, host: str, port: int) -> list[Handshake]:
        """One TLS handshake per path the connector's traffic to host:port takes (each open address, or the
        proxy's tunnel)."""
        ...

    async def paths(self, host: str, port: int) -> list[tuple[str, Opener | None]]: ...

    async def routed_handshake(self, label: str, opener: Opener | None, port: int, *, host: str) -> Handshake:
        """A handshake naming `host` on one path of `paths` (its label and opener: an address, or a proxy tunnel
        to the path's own host and port), memoised like the rest."""
        ...

    async def open_addresses(self, host: str, port: int) -> list[str]: ...

    async def tunnel(self, proxy: ProxyConfig, host: str, port: int) -> TunnelResult: ...

    async def carrier(self, host: str, port: int) -> Carrier:
        """Through a proxied route: every CONNECT tried down its proxy list, and what carried the traffic."""
        ...

    async def ntp(self, server: str, address: str, port: int) -> NtpReading:
        """NTP exchanges with one server's address (at most 2 s of waiting, however long --timeout is)."""
        ...

    async def https_date(self, host: str, label: str, port: int, opener: Opener | None) -> DateReading:
        """The Date header of a HEAD over TLS on one path (`label`: an address, or the proxy's tunnel)."""
        ...

    def memo(self, key: Any, factory: Callable[[], Awaitable[T]]) -> Awaitable[T]:
        """`factory()` once per key for the whole run; every caller awaits the same result."""
        ...

    def slot(self, host: str) -> AbstractAsyncContextManager[None]:
        """A place in the run's concurrency limits for one piece of active work outside the probes above."""
        ...
