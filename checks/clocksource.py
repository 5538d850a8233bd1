"""The clock measurement the checks share: SNTP against the profile's ntp_servers (or --ntp-server), and the Date
of the first TLS endpoint whose path opens, trusted only when its chain leads to the profile's expected anchors
(an intercepting proxy may rewrite Date). Measured once per run (memoised in the run context): `clock.skew`
judges it, and the TLS checks judge certificate validity at the time it corrects to. Not a check itself.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from preflight import Context, Target, lazy
from preflight.netutil import is_ip_literal, split_host_port, usable_addresses
from preflight.pki.certs import load_der, matches_host
from preflight.pki.pathverify import judging_time, verified_path
from preflight.pki.truststore import expected_roots
from preflight.probes.ntp import DateReading, NtpReading

if TYPE_CHECKING:
    import asyncio
else:
    asyncio = lazy.module("asyncio")


if TYPE_CHECKING:
    from cryptography import x509

    from preflight.probes.tls import Opener

DEFAULT_NTP_PORT = 123
CLOCK_CHECK = "clock.skew"  # the check whose presence in a run means: measure, and correct the TLS checks' time
CLOCK_TARGET = "system clock"


@dataclasses.dataclass(frozen=True)
class ClockObserved:
    readings: tuple[NtpReading, ...]
    date: DateReading | None
    date_trusted: bool
    dns_root: str | None  # the failed dns.resolve result that kept every HTTPS Date candidate from opening


@dataclasses.dataclass(frozen=True)
class Offset:
    seconds: float  # positive: real time is later than this host's clock
    uncertainty_s: float
    source: str


def measured_offset(readings: Sequence[NtpReading], date: DateReading | None, date_trusted: bool) -> Offset | None:
    """The best NTP answer (the smallest uncertainty), else a trusted HTTPS Date, else None. Pure."""
    good = [r for r in readings if r.outcome == "ok" and r.sample is not None and r.uncertainty_s is not None]
    if good:
        best = min(good, key=lambda r: r.uncertainty_s or 0.0)
        assert best.sample is not None and best.uncertainty_s is not None
        return Offset(best.sample.offset_s, best.uncertainty_s, f"NTP {best.server}")
    if date is not None and date.outcome == "ok" and date_trusted and date.offset_s is not None:
        return Offset(date.offset_s, date.uncertainty_s or 0.5, f"HTTPS Date of {date.host}")
    return None


async def observe(ctx: Context) -> ClockObserved:
    """The run's clock measurement, made once however many checks ask."""
    return await ctx.memo(("clock-observed",), lambda: _observe(ctx))


async def corrected_now(ctx: Context) -> dt.datetime:
    """This host's time corrected by the measured offset when the run measures the clock (clock.skew selected);
    otherwise, or when nothing could be measured, this host's own clock."""
    now = ctx.now()
    if not ctx.runs(CLOCK_CHECK):
        return now
    seen = await observe(ctx)
    offset = measured_offset(seen.readings, seen.date, seen.date_trusted)
    return now + dt.timedelta(seconds=offset.seconds) if offset is not None else now


async def _observe(ctx: Context) -> ClockObserved:
    servers = list(ctx.ntp_servers)
    # The NTP servers and the HTTPS Date are asked at once: one silent source must not hold up the others.
    readings, (date, trusted) = await asyncio.gather(asyncio.gather(*(_ntp(ctx, s) for s in servers)), _https_date(ctx))
    dns_root = await _dns_root(ctx) if date is None else None
    return ClockObserved(tuple(readings), date, trusted, dns_root)


async def _ntp(ctx: Context, server: str) -> NtpReading:
    host, port = split_server(server)
    if is_ip_literal(host):
        addresses = [host]
    else:
        resolution = await ctx.resolve(host)
        addresses, _ = usable_addresses(host, resolution.addresses)
    if not addresses:
        answered = ", ".join(sorted({a.outcome for a in resolution.servers})) or "no answer"
        return NtpReading(server, None, port, "unresolved", reason=f"{host} did not resolve ({answered})")
    address = sorted(addresses, key=lambda a: ":" in a)[0]  # IPv4 first: NTP is most often allowed there
    return await ctx.ntp(server, address, port)


async def _dns_root(ctx: Context) -> str | None:
    """The dns.resolve result of the first TLS endpoint whose name did not resolve (the resolutions are shared:
    nothing is asked again), when no HTTPS Date could be had."""
    for target in ctx.port_targets(tls_only=True):
        if target.wildcard or target.missing or ctx.proxied(target):
            continue
        resolution = await ctx.resolve(target.host)
        if not usable_addresses(target.host, resolution.addresses)[0]:
            return ctx.result_id_for("dns.resolve", Target(target.host))
    return None


async def _https_date(ctx: Context) -> tuple[DateReading | None, bool]:
    """The Date of the first TLS endpoint whose path opens (in the order they open: a filtered endpoint first in
    the profile must not cost a whole timeout), trusted only if its chain is clean."""

    async def opened(target: Target) -> tuple[Target, list[tuple[str, Opener | None]]]:
        assert target.port is not None
        return target, await ctx.paths(target.host, target.port)

    candidates = [
        asyncio.ensure_future(opened(t))
        for t in ctx.port_targets(tls_only=True)
        if not (t.wildcard or t.missing or t.port is None)
    ]
    try:
        for next_open in asyncio.as_completed(candidates):
            target, paths = await next_open
            if not paths:
                continue
            assert target.port is not None
            label, opener = paths[0]
            reading = await ctx.https_date(target.host, label, target.port, opener)
            if reading.outcome == "error":
                continue
            return reading, chain_is_clean(target.host, reading.chain, ctx.now(), expected_roots(ctx.expected_roots))
        return None, False
    finally:
        for candidate in candidates:
            candidate.cancel()


def chain_is_clean(
    host: str, chain_der: Sequence[bytes], now: dt.datetime, expected: Sequence[x509.Certificate]
) -> bool:
    """Whether a served chain names the host and leads to one of the expected anchors (what tls.interception
    calls tls.clean), judged inside the chain's validity window. Pure."""
    chain = [c for c in (load_der(d) for d in chain_der) if c is not None]
    if not chain or not matches_host(chain[0], host):
        return False
    when = judging_time(chain, now.replace(microsecond=0))
    return verified_path(chain[0], chain[1:], expected, host, when, relaxed=False) is not None


def split_server(server: str) -> tuple[str, int]:
    """An NTP server (the profile's or --ntp-server, both checked when read) as (host, port)."""
    return split_host_port(server, option="NTP server", default_port=DEFAULT_NTP_PORT, valid_name=bool)
