"""Memory and size of a long `preflight watch`: the summary (preflight/watch/series.py) fed the rounds of a 24-hour
watch, each round the results of a default-profile-sized run (--results, with DNS/TCP/TLS evidence shaped like
a real run's, 1 % of them failing at random), without the network: the summary's own cost is what is measured.

    python3 benchmarks/bench_watch.py [--hours 24] [--every 60,5] [--results 150]

Prints, per interval: rounds, peak Python memory (tracemalloc) while folding them, the summary's JSON size, and
the time to fold one round."""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from preflight.model import CheckResult, Status, Target
from preflight.watch.series import WatchLog


def round_results(count: int, rng: random.Random) -> list[CheckResult]:
    results = []
    for index in range(count // 3):
        host = f"host{index}.example.test"
        addresses = [f"192.0.2.{(index + k) % 250 + 1}" for k in range(4)]
        failing = rng.random() < 0.01
        answers = [
            {
                "server": "192.0.2.53:53",
                "qtype": q,
                "outcome": "answer",
                "rcode": "NOERROR",
                "addresses": addresses,
                "cnames": [f"edge{index}.example.test"],
                "ttl": 300,
                "elapsed_ms": rng.uniform(1, 20),
            }
            for q in ("A", "AAAA")
        ]  # fmt: skip (one literal)
        results.append(
            CheckResult(
                "dns.resolve",
                Target(host),
                Status.PASS,
                "dns.ok",
                "resolved",
                {"host": host, "addresses": addresses, "answers": answers},
            )
        )
        attempts = [
            {
                "address": a,
                "family": "ipv4",
                "port": 443,
                "outcome": "filtered" if failing and k == 0 else "open",
                "latency_ms": rng.uniform(5, 80),
            }
            for k, a in enumerate(addresses)
        ]
        results.append(
            CheckResult(
                "tcp.connect",
                Target(host, 443),
                Status.FAIL if failing else Status.PASS,
                "tcp.filtered" if failing else "tcp.open",
                "tcp",
                {"attempts": attempts},
            )
        )
        per_address = {
            a: {
                "code": "tls.ok",
                "outcome": "ok",
                "handshake_ms": rng.uniform(10, 120),
                "chain": [{"subject": "CN=" + host, "issuer": "CN=Issuing CA", "sha256": "ab" * 32}] * 3,
            }
            for a in addresses
        }
        results.append(
            CheckResult("tls.handshake", Target(host, 443), Status.PASS, "tls.ok", "tls", {"addresses": per_address})
        )
    return results


def measure(hours: float, every: float, count: int) -> dict[str, float]:
    rng = random.Random(7)
    rounds = int(hours * 3600 // every) + 1
    pool = [round_results(count, rng) for _ in range(20)]  # results are made once: only folding is measured
    passing = ["dns.ok", "tcp.open", "tls.ok"]
    tracemalloc.start()
    log = WatchLog(0.0, every, hours * 3600, passing)
    started = time.perf_counter()
    for number in range(rounds):
        log.add_round(number * every, pool[number % len(pool)])
    folded = time.perf_counter() - started
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    size = len(json.dumps(log.to_json()))
    return {
        "rounds": rounds,
        "peak_mb": peak / 2**20,
        "held_mb": current / 2**20,
        "json_mb": size / 2**20,
        "ms_per_round": 1000 * folded / rounds,
    }  # fmt: skip (one literal)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hours", type=float, default=24)
    parser.add_argument("--every", default="60,5")
    parser.add_argument("--results", type=int, default=150)
    args = parser.parse_args()
    print(f"{args.hours:g} h watch, {args.results} results per round")
    print("| --every | rounds | peak memory (MiB) | held at the end (MiB) | summary JSON (MiB) | ms per round |")
    print("|---:|---:|---:|---:|---:|---:|")
    for every in (float(e) for e in args.every.split(",")):
        m = measure(args.hours, every, args.results)
        print(
            f"| {every:g}s | {m['rounds']:,.0f} | {m['peak_mb']:.1f} | {m['held_mb']:.1f} | {m['json_mb']:.2f} | "
            f"{m['ms_per_round']:.2f} |"
        )  # fmt: skip (one line of the table)


if __name__ == "__main__":
    main()
