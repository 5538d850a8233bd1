"""The default profile against the lab, with one port black-holed (443 dropped by the router, so every 443
endpoint is filtered): the tool's wall time against its stage timeout, and side by side the sequential way
admins check the same endpoints by hand (benchmarks/sequential.sh: per endpoint a TCP connect, then
`openssl s_client` and `curl`, each bounded by the same timeout), in full and in its minimal form (one probe
after the connect). The all-clear lab is measured the same way, for the case where nothing waits. Root needed:
it builds the lab's network namespaces.

Run: python3 benchmarks/bench_blackhole.py [--timeout 5] [--port 443] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "support"))
LOOP = Path(__file__).resolve().parent / "sequential.sh"
LOOPS = (
    ("sequential loop: connect, openssl s_client, curl", []),
    ("sequential loop, minimal: connect, then openssl or curl", ["--minimal"]),
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--port", type=int, default=443)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from lab.world import TENANT, LabSpec, lab_pki, lab_world

    from preflight import profile
    from preflight.engine import plan

    folder = lab_pki()[1]
    built = plan.build(profile.load(str(folder / "lab-profile.toml")), tenant_id=TENANT)
    endpoints = [(t.host, t.port) for t in built.port_targets() if not t.wildcard and t.port is not None]
    listing = Path(tempfile.mkdtemp(prefix="preflight-bench-")) / "endpoints.txt"
    listing.write_text("".join(f"{host} {port}\n" for host, port in endpoints))
    anchors = str(folder / "expected-roots.pem")
    rows: list[tuple[str, str, float, float]] = []
    filtered = 0
    for condition, spec in ((f"port {args.port} dropped", LabSpec(router_rules=f"tcp dport {args.port} drop")),
                            ("all clear", LabSpec())):  # fmt: skip
        with lab_world(spec) as lab:
            tool_times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                run = lab.preflight("--timeout", str(args.timeout), "--deadline", "120")
                tool_times.append(time.perf_counter() - start)
                if condition != "all clear":
                    filtered = sum(1 for r in run.report["results"] if r["code"] == "tcp.filtered")
            tool = statistics.median(tool_times)
            rows.append((condition, f"preflight run (median of {args.repeat}, spread "
                                    f"{max(tool_times) - min(tool_times):.2f} s)", tool, 1.0))  # fmt: skip
            for label, flags in LOOPS:
                loop = _timed(lab, [*flags, str(listing), str(args.timeout), anchors])
                rows.append((condition, label, loop, loop / tool))
    print(f"endpoints: {len(endpoints)} (port {args.port} dropped: {filtered} tcp.filtered results), "
          f"stage timeout {args.timeout:g} s\n")  # fmt: skip
    print("| lab | way | wall s | × stage timeout | × preflight |")
    print("|---|---|---:|---:|---:|")
    for condition, label, wall, ratio in rows:
        print(f"| {condition} | {label} | {wall:.2f} | {wall / args.timeout:.2f} | {ratio:.1f} |")


def _timed(lab: Any, arguments: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([*lab.topo.prefix(lab.topo.host), "bash", str(LOOP), *arguments], capture_output=True,
                   check=True)  # fmt: skip
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
