"""How long does a run take as the profile grows, and what does --concurrency buy?

Everything is on loopback: a DNS server that answers after DNS_DELAY_S (a resolver's round trip) and TCP
listeners. Each configuration runs the real CLI in a subprocess REPEAT times; the median wall time is reported.
Run: python3 benchmarks/bench_run.py [--hosts 30,200,1000] [--concurrency 8,32,128]
(results are written to benchmarks/RESULTS.md by hand, with the date)
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "support"))

from dnsserver import Behaviour, DnsServer  # noqa: E402

DNS_DELAY_S = 0.02
REPEAT = 3


def listeners(count: int) -> tuple[list[socket.socket], list[int]]:
    socks = []
    for _ in range(count):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(4096)
        socks.append(sock)
    return socks, [s.getsockname()[1] for s in socks]


def profile_text(hosts: int, ports: list[int]) -> str:
    rows = "".join(
        f'[[endpoint]]\nhost = "h{i}.bench.test"\nports = [{", ".join(map(str, ports))}]\npurpose = "b"\nsource = "b"\n'
        for i in range(hosts)
    )
    return f'name = "bench"\n{rows}'


def run_once(profile: Path, dns: DnsServer, concurrency: int) -> float:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "preflight", "run", "--profile", str(profile), "--dns-server", dns.address,
         "--concurrency", str(concurrency), "--format", "json", "--output", "/dev/null", "--quiet"],
        capture_output=True, text=True,
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"run failed ({proc.returncode}): {proc.stderr[:500]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", default="30,200,1000", help="comma-separated host counts (3 ports each)")
    parser.add_argument("--concurrency", default="8,32,128", help="comma-separated --concurrency values")
    args = parser.parse_args()
    socks, ports = listeners(3)
    print(f"python {sys.version.split()[0]}, DNS answer delay {DNS_DELAY_S * 1000:g} ms, median of {REPEAT}")
    print("| hosts | checks | concurrency | wall s |")
    print("|---:|---:|---:|---:|")
    try:
        for hosts in [int(n) for n in args.hosts.split(",")]:
            zone = {f"h{i}.bench.test": Behaviour(a=("127.0.0.1",), delay_s=DNS_DELAY_S) for i in range(hosts)}
            with DnsServer(zone) as dns, tempfile.TemporaryDirectory() as tmp:
                profile = Path(tmp) / "bench.toml"
                profile.write_text(profile_text(hosts, ports))
                for concurrency in [int(n) for n in args.concurrency.split(",")]:
                    times = [run_once(profile, dns, concurrency) for _ in range(REPEAT)]
                    print(f"| {hosts} | {hosts * (1 + len(ports))} | {concurrency} | {statistics.median(times):.2f} |")
    finally:
        for sock in socks:
            sock.close()
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "preflight", "--version"], capture_output=True, check=True)
    print(f"\nstart-up (`preflight --version`): {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
