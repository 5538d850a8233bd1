"""A host whose only DNS server is dead, on the default profile's endpoints in the lab (issue 27): the tenant
given as a domain (so the run looks it up) and WPAD discovery on (a DNS suffix to try), so every stage that
resolves names meets the dead resolver. The wall time against --timeout: one wait per dead resolver means about
one timeout, not one per stage. Root needed: it builds the lab's network namespaces.

Run: python3 benchmarks/bench_dead_resolver.py [--timeout 5] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "support"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from lab.world import BLACKHOLE_RESOLVER, LAB_DNS_SUFFIX, TENANT_DOMAIN, LabSpec, lab_pki, lab_world

    profile = str(lab_pki()[1] / "lab-profile.toml")
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    times: list[float] = []
    causes: list[str] = []
    spec = LabSpec(resolver=BLACKHOLE_RESOLVER, dns_search=(LAB_DNS_SUFFIX,))
    with lab_world(spec) as lab:
        for _ in range(args.repeat):
            started = time.monotonic()
            run = lab.run("run", "--profile", profile, "--tenant-id", TENANT_DOMAIN, "--timeout", str(args.timeout),
                          "--format", "json", timeout=300)  # fmt: skip
            times.append(time.monotonic() - started)
            causes = [c["code"] for c in json.loads(run.stdout).get("diagnosis", [])]
    median = statistics.median(times)
    print(f"commit {commit.stdout.strip()}: dead resolver, --timeout {args.timeout:g}: median {median:.1f} s "
          f"({median / args.timeout:.2f} x the timeout) over {args.repeat} runs {[round(t, 1) for t in times]}; "
          f"causes {causes}")  # fmt: skip


if __name__ == "__main__":
    main()
