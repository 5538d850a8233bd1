"""The default profile against the lab, with one port black-holed (443 dropped by the router, so every 443
endpoint is filtered): the tool's wall time against its stage timeout, and side by side the sequential way
admins check the same endpoints by hand (benchmarks/sequential.sh: a TCP connect, `openssl s_client` or `curl`
per endpoint, with the same timeout). Root needed: it builds the lab's network namespaces.

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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "support"))
sys.path.insert(0, str(ROOT / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--port", type=int, default=443)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from lab.world import TENANT, LabSpec, lab_pki, lab_world

    from preflight import plan, profile

    lab_profile = lab_pki()[1] / "lab-profile.toml"
    built = plan.build(profile.load(str(lab_profile)), tenant_id=TENANT)
    endpoints = [(t.host, t.port) for t in built.port_targets() if not t.wildcard and t.port is not None]
    listing = Path(tempfile.mkdtemp(prefix="preflight-bench-")) / "endpoints.txt"
    listing.write_text("".join(f"{host} {port}\n" for host, port in endpoints))
    tool_times, loop_times = [], []
    with lab_world(LabSpec(router_rules=f"tcp dport {args.port} drop")) as lab:
        for _ in range(args.repeat):
            start = time.perf_counter()
            run = lab.preflight("--timeout", str(args.timeout), "--deadline", "120")
            tool_times.append(time.perf_counter() - start)
            filtered = sum(1 for r in run.report["results"] if r["code"] == "tcp.filtered")
        start = time.perf_counter()
        subprocess.run([*lab.topo.prefix(lab.topo.host), "bash", str(Path(__file__).parent / "sequential.sh"),
                        str(listing), str(args.timeout)], capture_output=True, check=True)  # fmt: skip
        loop_times.append(time.perf_counter() - start)
    tool, loop = statistics.median(tool_times), statistics.median(loop_times)
    print(
        f"endpoints: {len(endpoints)} (port {args.port} dropped: {filtered} tcp.filtered results), "
        f"stage timeout {args.timeout:g} s"
    )
    print("| way | wall s | × stage timeout |")
    print("|---|---:|---:|")
    print(f"| preflight run (median of {args.repeat}, spread {max(tool_times) - min(tool_times):.2f} s) | {tool:.2f} | "
          f"{tool / args.timeout:.2f} |")  # fmt: skip
    print(f"| sequential shell loop | {loop:.2f} | {loop / args.timeout:.2f} |")
    print(f"\nspeed-up: {loop / tool:.1f}x")


if __name__ == "__main__":
    main()
