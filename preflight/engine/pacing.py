"""How fast the run starts connections, and how many may wait at once.

A connect that waits for a SYN-ACK that never comes costs a socket and nothing else; holding one of a few
concurrency slots for it made a locked-down network's silent addresses wait in waves, one timeout per wave. So
the starts of connections (and DNS queries) are paced instead: a token bucket overall and one per host name
(the generic cell rate algorithm: each start reserves its time at once, so every waiter sleeps once), and the
sockets in flight are capped by the process's file-descriptor limit. Active work (TLS handshakes, HTTP, CONNECT)
keeps its per-host and global slots in the run context.

Defaults, and why they stay polite: at most 2,000 starts a second after a burst of 512, and 200 a second per
name after a burst of 32 (a name's 16 addresses on two ports). Firewalls' SYN-flood protections count SYNs per
destination address (Fortinet's tcp_syn_flood: 2,000 a second; Palo Alto's zone protection: 10,000 a second by
default), and the run sends one SYN per address and port, so no destination sees more than two.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

RATE = 2000.0  # starts per second, overall
BURST = 512
HOST_RATE = 200.0  # starts per second, per host name
HOST_BURST = 32
MAX_OPEN_CAP = 4096  # sockets in flight, at most; fewer when the descriptor limit is lower
RESERVED_FDS = 32  # files, pipes (the PAC worker) and the event loop's own descriptors


@dataclasses.dataclass
class StartBucket:
    """A token bucket as virtual scheduling: `reserve()` says how long to wait before the next start."""

    rate: float
    burst: int
    _tat: float = 0.0  # the theoretical arrival time of the next start

    def reserve(self, now: float) -> float:
        interval = 1.0 / self.rate
        tat = max(self._tat, now)
        allowed = tat - (self.burst - 1) * interval
        self._tat = tat + interval
        return max(0.0, allowed - now)


class StartPacer:
    """Paces starts overall and per host, and caps what is in flight. `async with pacer.start(host):` around one
    connect (or query): the wait for its turn happens before, the socket count is held until the block ends."""

    def __init__(
        self,
        *,
        rate: float = RATE,
        burst: int = BURST,
        host_rate: float = HOST_RATE,
        host_burst: int = HOST_BURST,
        max_open: int | None = None,
    ) -> None:
        self._overall = StartBucket(rate, burst)
        self._host_rate, self._host_burst = host_rate, host_burst
        self._hosts: dict[str, StartBucket] = {}
        self.max_open = max_open if max_open is not None else open_socket_limit()
        self._open = asyncio.Semaphore(self.max_open)

    @contextlib.asynccontextmanager
    async def start(self, host: str) -> AsyncIterator[None]:
        async with self._open:
            now = time.monotonic()
            bucket = self._hosts.setdefault(host, StartBucket(self._host_rate, self._host_burst))
            wait = max(self._overall.reserve(now), bucket.reserve(now))
            if wait > 0:
                await asyncio.sleep(wait)
            yield


@dataclasses.dataclass(frozen=True)
class Budget:
    """How the run's descriptors are shared: `connects` sockets may wait on a connect; `slots` pieces of active
    work (a DNS query, a handshake, an HTTP exchange) hold one each, and as many parked connections may wait for
    their handshake. With the reserve, that never passes the process's descriptor limit (`limit`, None when
    there is none), so no probe fails with EMFILE and is reported as the network's fault."""

    connects: int
    slots: int
    limit: int | None


def descriptor_budget(concurrency: int, limit: int | None = None) -> Budget:
    """The budget for `--concurrency` under the descriptor limit (raised to its hard limit first), or `limit` when
    given (for tests). Under a low limit the slots shrink before the connects do: a quarter of what is usable."""
    if limit is None:
        limit = None if sys.platform == "win32" else _posix_descriptor_limit()
    if limit is None:  # Windows' sockets on the proactor loop have no such limit: the caps alone
        return Budget(MAX_OPEN_CAP, concurrency, None)
    usable = max(0, limit - RESERVED_FDS)
    slots = max(1, min(concurrency, usable // 4))
    return Budget(max(2, min(MAX_OPEN_CAP, usable - 2 * slots)), slots, limit)


def open_socket_limit() -> int:
    """How many sockets may wait on a connect at once, with the default concurrency's slots set aside."""
    return descriptor_budget(32).connects


def _posix_descriptor_limit() -> int | None:
    resource: Any = importlib.import_module("resource")  # POSIX only

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = MAX_OPEN_CAP + RESERVED_FDS + 2 * 512  # the connects' cap and the largest --concurrency's slots
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    return None if soft == resource.RLIM_INFINITY else int(soft)
