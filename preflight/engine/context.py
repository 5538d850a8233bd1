"""The run context: options, limits and the memoised probes every check shares.

One DNS resolution per host and one TCP connect per address and port, however many checks read them. When a
direct TLS handshake will follow on that address and port, the connection the TCP probe opened is parked for it
instead of closed: the handshake starts from the connection whose connect `tcp.connect` reports, as any client
would, and the run opens one connection per endpoint instead of two.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from preflight.engine.pacing import StartPacer, descriptor_budget
from preflight.host import hostsfile
from preflight.model import Endpoint, Target, result_id
from preflight.netutil import bracketed, is_ip_literal, is_unspecified, usable_addresses
from preflight.probes import dns as dns_probe
from preflight.probes import http as http_probe
from preflight.probes import ntp as ntp_probe
from preflight.probes import proxy as proxy_probe
from preflight.probes import tcp as tcp_probe
from preflight.probes import tls as tls_probe

if TYPE_CHECKING:
    from preflight.engine.plan import Plan
    from preflight.host.hostsfile import HostsEntry
    from preflight.profile import ClockPolicy
    from preflight.proxy import ProxyConfig
    from preflight.proxy.settings import ProxySettings
    from preflight.proxy.sources import Route
    from preflight.tenant.discovery import TenantResolution

T = TypeVar("T")

# A parked connection older than this is closed rather than used: servers drop idle connections that never sent
# a ClientHello (a handshake on a stale one is retried on a new connection anyway, see tls_probe.observe).
PARKED_MAX_AGE_S = 2.0
# NTP answers in milliseconds or not at all: a silent server must not cost a whole --timeout per exchange.
NTP_WAIT_S = 2.0


@dataclasses.dataclass(frozen=True)
class RunOptions:
    timeout: float = 5.0
    deadline: float = 90.0
    concurrency: int = 32
    per_host: int = 4
    dns_servers: tuple[tuple[str, int], ...] = ()
    public_roots: str | None = None  # PEM bundle standing for the public web PKI; None = certifi
    ntp_servers: tuple[str, ...] = ()  # --ntp-server HOST[:PORT]; empty = the profile's


class RunContext:
    """One per run: the PAC and WPAD evaluation, the tenant lookup and the checks ask the same memoised probes, so
    a name is resolved once (and a dead resolver waited on once) whichever stage asked first. The plan it answers
    for changes between stages (`replan`: the script's routes, the tenant's names); the probes stay."""

    def __init__(
        self,
        plan: Plan,
        options: RunOptions,
        selected: dict[str, list[Target]] | None = None,
        reusing: set[str] | frozenset[str] = frozenset(),
    ) -> None:
        self.plan = plan
        self.options = options
        self._memo: dict[Any, asyncio.Task[Any]] = {}
        self.resolvers = dns_probe.ResolverHealth()  # resolvers found silent are not waited on again
        self._resolvers_asked_over_tcp = False
        # the descriptors shared out: slots for active work (fewer than --concurrency under a low descriptor
        # limit), as many parked connections, and the connects in flight
        self.budget = descriptor_budget(options.concurrency)
        self._global = asyncio.Semaphore(self.budget.slots)
        self._per_host: dict[str, asyncio.Semaphore] = {}
        # A connect only waits for an answer from its own destination: its start is paced, it holds no slot
        self._pacer = StartPacer(max_open=self.budget.connects)
        self.started = time.monotonic()
        self._parked: dict[tuple[str, int], tuple[tls_probe.Connected, float]] = {}  # → (connection, since)
        self._selected: dict[str, list[Target]] = {}
        self._handshake_planned: set[tuple[str, int | None]] = set()
        self.select(selected or {}, reusing)

    def replan(self, plan: Plan) -> None:
        """The plan of the run's next stage (its routes and names); what was probed stays probed."""
        self.plan = plan

    def select(self, selected: dict[str, list[Target]], reusing: set[str] | frozenset[str] = frozenset()) -> None:
        """The checks about to run and their targets. (host, port) pairs a direct handshake is planned for (the
        targets of checks that reuse the TCP probe's connection) get their connections parked, at most one per
        concurrency slot, so parked sockets never outnumber the run's own limit."""
        self._selected = selected
        self._handshake_planned = {
            (t.host, t.port)
            for check_id in reusing
            for t in selected.get(check_id, [])
            if t.port is not None and not t.wildcard and self.plan.route(t.host, t.port).direct
        }

    # The run's facts, as preflight.context.Context names them: what checks read instead of reaching into the plan.
    @property
    def timeout(self) -> float:
        return self.options.timeout

    @property
    def proxy(self) -> ProxySettings:
        return self.plan.proxy

    @property
    def ntp_servers(self) -> tuple[str, ...]:
        return tuple(self.options.ntp_servers) or tuple(self.plan.profile.clock.ntp_servers)

    @property
    def clock_policy(self) -> ClockPolicy:
        return self.plan.profile.clock

    @property
    def expected_roots(self) -> Path | None:
        return self.plan.profile.expected_roots

    @property
    def known_intermediates(self) -> Path | None:
        return self.plan.profile.known_intermediates

    @property
    def public_roots(self) -> str | None:
        return self.options.public_roots

    @property
    def tenant(self) -> TenantResolution | None:
        return self.plan.tenant

    @property
    def cloud_instance_name(self) -> str:
        return self.plan.profile.tenant.cloud_instance_name

    def settings_for(self, check: Any) -> Mapping[str, Any]:
        return self.plan.settings_for(check)

    def route(self, host: str, port: int) -> Route:
        return self.plan.route(host, port)

    def revocation_route(self, host: str, port: int) -> Route:
        return self.plan.proxy.system_route(host, port) or self.route(host, port)

    def proxied(self, target: Target) -> bool:
        return self.plan.proxied(target)

    def endpoints_for(self, host: str) -> tuple[Endpoint, ...]:
        return self.plan.endpoints_for(host)

    def port_targets(self, *, tls_only: bool = False) -> list[Target]:
        return self.plan.port_targets(tls_only=tls_only)

    def hosts_file(self) -> tuple[str, list[HostsEntry]]:
        return hostsfile.read()

    def now(self) -> dt.datetime:
        """This host's current time (checks that judge validity ask the shared clock measurement to correct it)."""
        return dt.datetime.now(dt.UTC)

    def runs(self, check_id: str) -> bool:
        """Whether a check is part of this run (selected, with at least one target)."""
        return bool(self._selected.get(check_id))

    @contextlib.asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        """A place in the global and the per-host concurrency limits, for one piece of active work (a handshake,
        an HTTP exchange, a CONNECT)."""
        async with self._host_slot(host), self._global:
            yield

    def _host_slot(self, host: str) -> asyncio.Semaphore:
        return self._per_host.setdefault(host, asyncio.Semaphore(self.options.per_host))

    async def memo(self, key: Any, factory: Callable[[], Awaitable[T]]) -> T:
        """Run `factory` once per key for the whole run; every caller awaits the same task."""
        task = self._memo.get(key)
        if task is None or task.cancelled():  # a stage cut short by a deadline leaves cancelled probes behind
            task = asyncio.ensure_future(factory())
            self._memo[key] = task
        return await asyncio.shield(task)

    async def resolve(self, host: str) -> dns_probe.Resolution:
        if is_ip_literal(host):  # an address is its own answer: asking DNS for "127.0.0.1" reaches the resolver
            return dns_probe.Resolution(host, "literal", (host.strip("[]"),), None, (), ())

        async def probe() -> dns_probe.Resolution:
            servers = list(self.options.dns_servers) or None
            if self.resolvers.any_silent:  # one wait per dead resolver: an earlier stage already waited on it
                known = self.resolvers.known_dead(host, servers or dns_probe.system_nameservers(), servers is None)
                if known is not None:
                    return known
            if not self._resolvers_asked_over_tcp:  # once per run: the resolvers do not change between names
                self._resolvers_asked_over_tcp = True
                self._ask_resolvers_over_tcp(servers or dns_probe.system_nameservers())
            # Every query goes to the same resolver: a burst of them is dropped (measured: 105 of 1,000 timed
            # out), so queries keep the active-work limit instead of the connects' pacing.
            async with self.slot(host):
                found = await dns_probe.resolve(
                    host, timeout=self.options.timeout, dns_servers=servers, use_system=servers is None
                )
            self.resolvers.learn(found)
            return found

        return await self.memo(("dns", host), probe)

    def _ask_resolvers_over_tcp(self, servers: Sequence[tuple[str, int]]) -> None:
        """Each resolver the run asks is also tried over TCP, once, at its first query: when one proves silent
        over UDP, what TCP showed (dropped too, refused, or answering) is ready when the UDP wait ends, at no
        second --timeout. One connection per resolver per run."""
        for server in dict.fromkeys(servers):  # --dns-server given twice is still one resolver
            self._memo[("resolver-tcp", dns_probe.server_label(server))] = asyncio.ensure_future(
                dns_probe.ask_over_tcp(server, self.options.timeout)
            )

    async def resolver_over_tcp(self, server: str) -> dns_probe.OverTcp | None:
        """None as well for a resolver that answered other queries: it is not dead, whatever TCP shows."""
        task = self._memo.get(("resolver-tcp", server))
        if task is None or self.resolvers.answered(server):
            return None
        found = await asyncio.shield(task)
        return None if self.resolvers.answered(server) else found

    async def connect(self, address: str, port: int, *, host: str) -> tcp_probe.ConnectAttempt:
        async def probe() -> tcp_probe.ConnectAttempt:
            async with self._pacer.start(host):
                started = round(time.monotonic() - self.started, 3)
                attempt, sock = await tcp_probe.open_connection(address, port, self.options.timeout)
            attempt = dataclasses.replace(attempt, started_s=started)
            if sock is not None:
                if (host, port) in self._handshake_planned and len(self._parked) < self.budget.slots:
                    self._parked[(address, port)] = (tls_probe.Connected(sock, attempt.latency_ms), time.monotonic())
                else:
                    sock.close()
            return attempt

        return await self.memo(("tcp", address, port), probe)

    def _take_parked(self, address: str, port: int) -> tls_probe.Connected | None:
        parked = self._parked.pop((address, port), None)
        if parked is None:
            return None
        connection, since = parked
        if time.monotonic() - since > PARKED_MAX_AGE_S:
            connection.sock.close()
            return None
        return connection

    async def handshake(self, address: str, port: int, *, host: str) -> tls_probe.Handshake:
        async def probe() -> tls_probe.Handshake:
            # The connect is the shared TCP probe (paced, one per address and port for the whole run): a filtered
            # or refused address costs no second --timeout, and an open one hands its connection over.
            attempt = await self.connect(address, port, host=host)
            if attempt.outcome != "open":
                why = f"connect: {attempt.outcome} ({attempt.error or attempt.errno_name})"
                return tls_probe.Handshake(address, port, host, "connect_failed", error=why)
            connected = self._take_parked(address, port)
            if connected is not None:
                # The connection already holds its place: it counted against the limit when it was opened and
                # parked connections are capped at the limit, so waiting in the queue again would only let it idle.
                try:
                    async with self._host_slot(host):
                        return await tls_probe.observe(address, port, host, self.options.timeout, connection=connected)
                finally:
                    connected.sock.close()  # the handshake closes it; this covers a cancellation before it began
            async with self.slot(host):
                return await tls_probe.observe(address, port, host, self.options.timeout)

        return await self.memo(("tls", address, port, host), probe)

    async def proxy_address(self, proxy: ProxyConfig) -> str | None:
        """The address to reach a proxy at (a name is resolved the way the run resolves names)."""
        if is_ip_literal(proxy.host):
            return proxy.host
        resolution = await self.resolve(proxy.host)
        usable = [a for a in resolution.addresses if not is_unspecified(a)]  # a proxy may well be on loopback
        return sorted(usable, key=lambda a: ":" in a)[0] if usable else None

    async def tunnel(self, proxy: ProxyConfig, host: str, port: int) -> proxy_probe.TunnelResult:
        """One CONNECT (then closed) per proxy, host and port."""

        async def probe() -> proxy_probe.TunnelResult:
            address = await self.proxy_address(proxy)
            if address is None:
                return proxy_probe.TunnelResult(
                    proxy.display, "", host, port, "unreachable", error=f"the proxy name {proxy.host} did not resolve"
                )
            async with self.slot(proxy.host):
                result, streams = await proxy_probe.open_tunnel(
                    proxy,
                    address,
                    host,
                    port,
                    self.options.timeout,
                    send_credentials=self.plan.proxy.inputs.use_credentials,
                )
                if streams is not None:
                    streams[1].transport.abort()
                return result

        return await self.memo(("tunnel", proxy.display, host, port), probe)

    async def ntp(self, server: str, address: str, port: int) -> ntp_probe.NtpReading:
        async def probe() -> ntp_probe.NtpReading:
            async with self.slot(server):
                return await ntp_probe.query(server, address, port, min(self.options.timeout, NTP_WAIT_S))

        return await self.memo(("ntp", server, address, port), probe)

    async def https_date(
        self, host: str, label: str, port: int, opener: tls_probe.Opener | None
    ) -> ntp_probe.DateReading:
        async def probe() -> ntp_probe.DateReading:
            async with self.slot(host):
                return await ntp_probe.https_date(host, label, port, self.options.timeout, opener=opener)

        return await self.memo(("https-date", host, label, port), probe)

    async def carrier(self, host: str, port: int) -> proxy_probe.Carrier:
        """The route's proxy, or, when it cannot be connected to, the next entry of its proxy list (a PAC answer
        "PROXY a; PROXY b; DIRECT"), as the connector fails over: every CONNECT tried, and what carried it."""
        route = self.plan.route(host, port)
        assert route.proxy is not None
        return await proxy_probe.follow_list((route.proxy, *route.fallbacks), lambda p: self.tunnel(p, host, port))

    async def paths(self, host: str, port: int) -> list[tuple[str, tls_probe.Opener | None]]:
        """The ways traffic to host:port leaves this host, as (label, opener): every open address when direct,
        or the tunnel through the proxy that carries it (the route's, or the one its proxy list fails over to)."""
        route = self.plan.route(host, port)
        if route.proxy is None:
            return [(a, None) for a in await self.open_addresses(host, port)]
        carrier = await self.carrier(host, port)
        if carrier.direct:
            return [(a, None) for a in await self.open_addresses(host, port)]
        entry, tunnel = carrier.proxy, carrier.tried[-1]
        if entry is None or tunnel.outcome != "ok":
            return []
        opener = proxy_probe.tunnel_opener(
            entry,
            tunnel.proxy_address,
            host,
            port,
            self.options.timeout,
            send_credentials=self.plan.proxy.inputs.use_credentials,
        )
        return [(f"via {entry.display}", opener)]

    async def handshakes(self, host: str, port: int) -> list[tls_probe.Handshake]:
        """One handshake per path the connector's traffic to host:port would take (shared, memoised)."""
        paths = await self.paths(host, port)
        return list(
            await asyncio.gather(*(self.routed_handshake(label, opener, port, host=host) for label, opener in paths))
        )

    async def routed_handshake(
        self, label: str, opener: tls_probe.Opener | None, port: int, *, host: str
    ) -> tls_probe.Handshake:
        if opener is None:
            return await self.handshake(label, port, host=host)

        async def probe() -> tls_probe.Handshake:
            async with self.slot(host):
                return await tls_probe.observe(label, port, host, self.options.timeout, opener=opener)

        return await self.memo(("tls-proxy", label, port, host), probe)

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
        max_body: int = http_probe.MAX_BODY,
    ) -> http_probe.HttpFetch:
        """One HTTP exchange, shared by every caller with the same request. https is verified with `ssl_context`
        (certifi when None)."""
        proxy_url = None
        if proxy is not None:
            proxy_address = await self.proxy_address(proxy)
            if proxy_address is None:
                return http_probe.HttpFetch(
                    url, address, method, "proxy_error", error=f"the proxy name {proxy.host} did not resolve"
                )
            proxy_url = _proxy_url(proxy, proxy_address, self.plan.proxy.inputs.use_credentials)

        async def probe() -> http_probe.HttpFetch:
            async with self.slot(host):
                return await http_probe.fetch(
                    url,
                    address,
                    self.options.timeout,
                    method=method,
                    content=content,
                    content_type=content_type,
                    proxy_url=proxy_url,
                    ssl_context=ssl_context,
                    max_body=max_body,
                )

        return await self.memo(("http", method, url, address, content, id(ssl_context), max_body), probe)

    async def open_addresses(self, host: str, port: int) -> list[str]:
        """The addresses of a host that accepted a TCP connection on a port (shared probes, no new connects)."""
        resolution = await self.resolve(host)
        usable, _ignored = usable_addresses(host, resolution.addresses)
        attempts = await asyncio.gather(*(self.connect(a, port, host=host) for a in usable))
        return [a.address for a in attempts if a.outcome == "open"]

    def result_id_for(self, check_id: str, target: Target) -> str | None:
        """The id of a selected check's result that covers this target (for caused_by), if that check runs."""
        for candidate in self._selected.get(check_id, []):
            if candidate.covers(target):
                return result_id(check_id, candidate)
        return None

    def cancel_probes(self) -> None:
        for task in self._memo.values():
            task.cancel()

    def close(self) -> None:
        """Close the connections no handshake came for (its check was skipped, or the run ended first)."""
        for connection, _since in self._parked.values():
            connection.sock.close()
        self._parked.clear()


def _proxy_url(proxy: ProxyConfig, address: str, use_credentials: bool) -> str:
    """The URL httpx needs for a proxy: credentials only if the user asked for them to be sent."""
    from urllib.parse import quote

    host = bracketed(address)
    auth = ""
    if use_credentials and proxy.username is not None:
        auth = f"{quote(proxy.username, safe='')}:{quote(proxy.password or '', safe='')}@"
    return f"http://{auth}{host}:{proxy.port}"
