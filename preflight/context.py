"""The run context: options, limits and the memoised probes every check shares.

One DNS resolution per host and one TCP connect per address and port, however many checks read them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from preflight.model import Target, result_id
from preflight.netutil import usable_addresses
from preflight.plan import Plan
from preflight.probes import dns as dns_probe
from preflight.probes import http as http_probe
from preflight.probes import tcp as tcp_probe
from preflight.probes import tls as tls_probe

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class RunOptions:
    timeout: float = 5.0
    deadline: float = 90.0
    concurrency: int = 32
    per_host: int = 4
    dns_servers: tuple[tuple[str, int], ...] = ()
    tenant_id: str | None = None
    public_roots: str | None = None  # PEM bundle standing for the public web PKI; None = certifi
    ntp_servers: tuple[str, ...] = ()  # --ntp-server HOST[:PORT]; empty = the profile's


class RunContext:
    def __init__(self, plan: Plan, options: RunOptions, selected: dict[str, list[Target]] | None = None) -> None:
        self.plan = plan
        self.options = options
        self._selected = selected or {}
        self._memo: dict[Any, asyncio.Task[Any]] = {}
        self._global = asyncio.Semaphore(options.concurrency)
        self._per_host: dict[str, asyncio.Semaphore] = {}
        # Set by the clock check once it has measured one: TLS validity is judged at the corrected time.
        self.clock_offset_s: float | None = None

    def now(self) -> dt.datetime:
        """The corrected current time (this host's clock plus the measured offset, when there is one)."""
        return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.clock_offset_s or 0.0)

    @contextlib.asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        """A place in the global and the per-host concurrency limits, for one network operation."""
        host_limit = self._per_host.setdefault(host, asyncio.Semaphore(self.options.per_host))
        async with host_limit, self._global:
            yield

    async def memo(self, key: Any, factory: Callable[[], Awaitable[T]]) -> T:
        """Run `factory` once per key for the whole run; every caller awaits the same task."""
        task = self._memo.get(key)
        if task is None:
            task = asyncio.ensure_future(factory())
            self._memo[key] = task
        return await asyncio.shield(task)

    async def resolve(self, host: str) -> dns_probe.Resolution:
        async def probe() -> dns_probe.Resolution:
            async with self.slot(host):
                servers = list(self.options.dns_servers) or None
                return await dns_probe.resolve(
                    host, timeout=self.options.timeout, dns_servers=servers, use_system=servers is None
                )

        return await self.memo(("dns", host), probe)

    async def connect(self, address: str, port: int, *, host: str) -> tcp_probe.ConnectAttempt:
        async def probe() -> tcp_probe.ConnectAttempt:
            async with self.slot(host):
                return await tcp_probe.connect(address, port, self.options.timeout)

        return await self.memo(("tcp", address, port), probe)

    async def handshake(self, address: str, port: int, *, host: str) -> tls_probe.Handshake:
        async def probe() -> tls_probe.Handshake:
            async with self.slot(host):
                return await tls_probe.observe(address, port, host, self.options.timeout)

        return await self.memo(("tls", address, port, host), probe)

    async def http(self, url: str, address: str, *, host: str, method: str = "GET", content: bytes | None = None,
                   content_type: str | None = None) -> http_probe.HttpFetch:  # fmt: skip
        async def probe() -> http_probe.HttpFetch:
            async with self.slot(host):
                return await http_probe.fetch(url, address, self.options.timeout, method=method, content=content,
                                              content_type=content_type)  # fmt: skip

        return await self.memo(("http", method, url, address, content), probe)

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
