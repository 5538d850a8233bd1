"""A locked-down network: every direct connection is dropped without an answer, names resolve as Microsoft's do
(several A and AAAA records each, IPv6 routed in the lab). DNS + TCP only (`--only dns.resolve --only
tcp.connect`): how long until the verdict, against the stage timeout, and when the silent connects started
(from the evidence: the spread between the first and the last start). Root needed: it builds the lab.

Run: python3 benchmarks/bench_lockdown.py [--timeout 2] [--repeat 3] [--shapes all|small]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "support"))

# (names, A records each, AAAA records each, ports): the two measurements, then realistic shapes
SHAPES = [
    (3, 8, 0, (443, 8398)),
    (18, 2, 0, (443,)),
    (3, 8, 8, (443, 8398)),
    (18, 8, 8, (443,)),
    (64, 8, 8, (443,)),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--shapes", choices=("all", "small"), default="all")
    args = parser.parse_args()

    from lab.lockdown import lockdown_world

    shapes = SHAPES if args.shapes == "all" else SHAPES[:3]
    print(f"--timeout {args.timeout:g}; target: wall ≤ 1.1 × timeout + 0.5 s = {1.1 * args.timeout + 0.5:.2f} s\n")
    print("| names | A each | AAAA each | ports | connects | wall s (median) | spread s | × timeout | "
          "starts spread s | all filtered |")  # fmt: skip
    print("|---:|---:|---:|---|---:|---:|---:|---:|---:|---|")
    for count, v4, v6, ports in shapes:
        with lockdown_world(count, v4, v6, ports) as (lab, profile, names):
            walls: list[float] = []
            report: dict[str, Any] = {}
            for _ in range(args.repeat):
                start = time.perf_counter()
                run = lab.run("run", "--profile", str(profile), "--only", "dns.resolve", "--only", "tcp.connect",
                              "--timeout", f"{args.timeout:g}", "--deadline", "300", "--format", "json",
                              timeout=600)  # fmt: skip
                walls.append(time.perf_counter() - start)
                report = run.report
        attempts = [a for r in report["results"] if r["check"] == "tcp.connect"
                    for a in r["evidence"].get("attempts", [])]  # fmt: skip
        starts = [a["started_s"] for a in attempts if a.get("started_s") is not None]
        spread = f"{max(starts) - min(starts):.2f}" if starts else "n/a"
        expected = sum(len(a) for a in names.values()) * len(ports)
        filtered = sum(1 for a in attempts if a["outcome"] == "filtered")
        wall = statistics.median(walls)
        print(
            f"| {count} | {v4} | {v6} | {', '.join(map(str, ports))} | {expected} | {wall:.2f} | "
            f"{max(walls) - min(walls):.2f} | {wall / args.timeout:.2f} | {spread} | "
            f"{'yes' if filtered == expected == len(attempts) else f'no ({filtered}/{len(attempts)}/{expected})'} |"
        )


if __name__ == "__main__":
    main()
