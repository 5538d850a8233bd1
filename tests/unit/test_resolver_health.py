"""One wait per dead resolver: once every query to a resolver timed out and none ever answered, later stages of
the same run do not wait on it again (preflight/probes/dns.py: ResolverHealth), and the run's context uses it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from preflight.engine import context as context_mod
from preflight.engine import plan as plan_mod
from preflight.engine.context import RunContext, RunOptions
from preflight.probes.dns import OverTcp, Resolution, ResolverHealth, ServerAnswer, SystemLookup
from preflight.profile import load

SERVER = ("198.18.0.53", 53)


def silent(host: str) -> Resolution:
    answers = tuple(ServerAnswer("198.18.0.53", q, "timeout", error="no answer") for q in ("A", "AAAA"))
    return Resolution(host, "dns-server", (), None, answers, ("198.18.0.53",))


def answered(host: str) -> Resolution:
    answers = (ServerAnswer("198.18.0.53", "A", "answer", addresses=("198.18.0.1",)),)
    return Resolution(host, "dns-server", ("198.18.0.1",), None, answers, ("198.18.0.53",))


def test_a_resolver_that_never_answered_is_not_asked_again() -> None:
    health = ResolverHealth()
    assert health.known_dead("b.example", [SERVER], use_system=False) is None  # nothing known yet
    health.learn(silent("a.example"))
    known = health.known_dead("b.example", [SERVER], use_system=False)
    assert known is not None and known.addresses == () and known.host == "b.example"
    assert {a.outcome for a in known.servers} == {"timeout"} and ResolverHealth.NOT_ASKED in known.servers[0].error


def test_a_resolver_that_answered_once_is_always_asked() -> None:
    health = ResolverHealth()
    health.learn(answered("a.example"))
    health.learn(silent("b.example"))
    assert health.known_dead("c.example", [SERVER], use_system=False) is None


def test_the_system_resolver_counts_only_when_it_was_silent_too() -> None:
    health = ResolverHealth()
    health.learn(silent("a.example"))
    assert health.known_dead("b.example", [SERVER], use_system=True) is None  # getaddrinfo not known silent
    with_system = Resolution("c.example", "system", (), SystemLookup(error="again"), silent("c.example").servers, ())
    health.learn(with_system)
    known = health.known_dead("d.example", [SERVER], use_system=True)
    assert known is not None and known.system is not None and known.system.error == "timeout"


def test_the_run_context_waits_once_for_a_dead_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    async def fake_resolve(host: str, **_: Any) -> Resolution:
        asked.append(host)
        return silent(host)

    async def fake_over_tcp(server: tuple[str, int], timeout: float) -> OverTcp:
        tried.append(server)
        return OverTcp("198.18.0.53", "filtered", error="no answer within 0.5s")

    tried: list[tuple[str, int]] = []
    monkeypatch.setattr(context_mod.dns_probe, "resolve", fake_resolve)
    monkeypatch.setattr(context_mod.dns_probe, "ask_over_tcp", fake_over_tcp)
    plan = plan_mod.build(load("entra-private-access"))
    options = RunOptions(timeout=0.5, dns_servers=(SERVER,))

    async def main() -> list[Resolution]:
        ctx = RunContext(plan, options)
        first = await ctx.resolve("login.microsoftonline.com")  # a stage before the checks (the tenant lookup)
        later = await asyncio.gather(*(ctx.resolve(h) for h in ("a.example", "b.example")))
        over_tcp = await ctx.resolver_over_tcp("198.18.0.53")
        assert over_tcp is not None and over_tcp.connect == "filtered"
        return [first, *later]

    results = asyncio.run(main())
    assert asked == ["login.microsoftonline.com"]  # the checks' names were not sent to the dead server
    assert all(r.addresses == () for r in results)
    assert tried == [SERVER]  # TCP 53 was tried once for the whole run, with the first query


def test_a_resolver_that_responded_to_anything_is_not_called_dead() -> None:
    health = ResolverHealth()
    refused = Resolution("a.example", "dns-server", (), None, (ServerAnswer("198.18.0.53", "A", "refused"),), ())
    health.learn(silent("b.example"))
    assert not health.answered("198.18.0.53")
    health.learn(refused)
    assert health.answered("198.18.0.53")  # a REFUSED is a DNS response: the server is alive
