"""A locked-down network (every direct connection dropped without an answer, names with 8 A and 8 AAAA records
each): every silent address is probed at once, not in waves behind concurrency slots, and each is reported on
its own. Asserted from the evidence's start times, not from the wall clock of a shared machine."""

from __future__ import annotations

import pytest
from lab.lockdown import lockdown_world

pytestmark = pytest.mark.netns


def test_every_silent_connect_starts_within_the_first_second() -> None:
    with lockdown_world(16, 8, 8, (443, 8398)) as (lab, profile, names):  # 256 addresses, 512 connects
        run = lab.run("run", "--profile", str(profile), "--only", "dns.resolve", "--only", "tcp.connect",
                      "--timeout", "3", "--format", "json")  # fmt: skip
    results = [r for r in run.report["results"] if r["check"] == "tcp.connect"]
    assert {r["code"] for r in results} == {"tcp.filtered"} and run.code == 1
    attempts = [a for r in results for a in r["evidence"]["attempts"]]
    expected = {(address, port) for addresses in names.values() for address in addresses for port in (443, 8398)}
    assert {(a["address"], a["port"]) for a in attempts} == expected and len(attempts) == len(expected)
    assert {a["outcome"] for a in attempts} == {"filtered"}
    assert {a["family"] for a in attempts} == {"ipv4", "ipv6"}
    starts = sorted(a["started_s"] for a in attempts)
    # one wave: the last silent connect started long before the first one's --timeout ran out
    assert starts[-1] - starts[0] < 1.0, f"starts spread over {starts[-1] - starts[0]:.2f} s"
