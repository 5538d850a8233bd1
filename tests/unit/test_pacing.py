"""Connection starts are paced (a token bucket overall and per host), not queued behind slots; sockets in flight
are capped by the descriptor limit. The bucket is pure: each start reserves its time."""

from __future__ import annotations

import asyncio
import resource
import sys

import pytest

from preflight.engine import pacing
from preflight.engine.pacing import StartBucket, StartPacer, open_socket_limit


def waits(bucket: StartBucket, times: list[float]) -> list[float]:
    return [round(bucket.reserve(now), 6) for now in times]


BUCKET_ROWS = [
    # (rate, burst, request times, waits)
    (10.0, 3, [0, 0, 0, 0, 0], [0, 0, 0, 0.1, 0.2]),  # a burst, then one every 1/rate
    (10.0, 1, [0, 0, 0], [0, 0.1, 0.2]),  # no burst: strictly paced
    (10.0, 2, [0, 0, 1.0, 1.0, 1.0], [0, 0, 0, 0, 0.1]),  # idle time refills the burst, never beyond it
    (2000.0, 512, [0] * 514, [0] * 512 + [0.0005, 0.001]),  # the defaults: 512 at once, then 2,000 a second
]


@pytest.mark.parametrize(("rate", "burst", "times", "expected"), BUCKET_ROWS)
def test_bucket(rate: float, burst: int, times: list[float], expected: list[float]) -> None:
    assert waits(StartBucket(rate, burst), times) == pytest.approx(expected)


def test_a_thousand_silent_starts_all_begin_within_the_first_second_by_default() -> None:
    """64 names x 16 addresses: the overall bucket lets them all start in well under a second, and no name's
    own bucket holds its 16 back."""
    overall = StartBucket(pacing.RATE, pacing.BURST)
    hosts = {f"svc{n}": StartBucket(pacing.HOST_RATE, pacing.HOST_BURST) for n in range(64)}
    last = max(max(overall.reserve(0.0), hosts[f"svc{n}"].reserve(0.0)) for n in range(64) for _ in range(16))
    assert last < 0.3


def test_sockets_in_flight_are_capped() -> None:
    async def run() -> list[str]:
        pacer = StartPacer(max_open=2)
        events: list[str] = []
        release = asyncio.Event()

        async def connect(name: str) -> None:
            async with pacer.start("h"):
                events.append(f"start {name}")
                await release.wait()
            events.append(f"end {name}")

        tasks = [asyncio.create_task(connect(n)) for n in "abc"]
        await asyncio.sleep(0.05)
        started = list(events)
        release.set()
        await asyncio.gather(*tasks)
        return started

    assert asyncio.run(run()) == ["start a", "start b"]  # the third waits for a socket to end


def test_the_socket_limit_follows_the_descriptor_limit() -> None:
    limit = open_socket_limit()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert 2 <= limit <= pacing.MAX_OPEN_CAP
    assert limit <= soft - pacing.RESERVED_FDS or soft == resource.RLIM_INFINITY
    wanted = pacing.MAX_OPEN_CAP + pacing.RESERVED_FDS + 2 * 512
    assert soft >= min(wanted, hard)  # raised towards the hard limit when it was lower


@pytest.mark.parametrize("limit", [16, 40, 48, 64, 100, 256, 1024, 4096, 65536, 1 << 20])
@pytest.mark.parametrize("concurrency", [1, 8, 32, 512])
def test_connects_slots_and_parked_connections_never_pass_the_descriptor_limit(limit: int, concurrency: int) -> None:
    budget = pacing.descriptor_budget(concurrency, limit)
    assert 1 <= budget.slots <= concurrency and 2 <= budget.connects <= pacing.MAX_OPEN_CAP
    # connects in flight + one descriptor per slot + one parked connection per slot + the reserve
    if limit >= pacing.RESERVED_FDS + 8:
        assert budget.connects + 2 * budget.slots + pacing.RESERVED_FDS <= limit
    if limit >= 4 * concurrency + 3 * pacing.RESERVED_FDS:
        assert budget.slots == concurrency  # a roomy limit keeps --concurrency as asked


def test_without_a_descriptor_limit_the_caps_alone_apply() -> None:
    assert pacing.descriptor_budget(32, None if sys.platform == "win32" else 1 << 30).slots == 32
