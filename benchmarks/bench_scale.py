"""Scale: N endpoints served on loopback (distinct names and 127.0.0.0/8 addresses, one DNS server, TLS
listeners), the full DNS + TCP + TLS + interception verdict, against the same work done by the probes alone (no
engine, no report) and, at 1,000 endpoints, sslyze's certificate scan and the sequential shell loop
(benchmarks/sequential.sh) over the same endpoints, in the same run.

Everything runs in a network namespace of its own (root needed), so one TLS listener on 0.0.0.0 inside it answers
every 127.0.0.0/8 address and nothing outside the namespace can reach it; the namespace's resolv.conf (through
/etc/netns) points the loop's openssl and curl at the benchmark's DNS server.

Run: python3 benchmarks/bench_scale.py [--sizes 100,1000,5000] [--delays 0,30] [--no-sslyze] [--no-loop]
sslyze is installed on first use into build/bench-venv (its own environment: it pins its own cryptography).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
VENV = ROOT / "build" / "bench-venv"
SERVERS = 2  # TLS server processes sharing port 443 (SO_REUSEPORT)
CHECKS = ["dns.resolve", "tcp.connect", "tls.handshake", "tls.interception"]


def address(i: int) -> str:
    return f"127.{1 + i // 65536}.{(i // 256) % 256}.{i % 256}"


def sslyze_python() -> Path | None:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        done = subprocess.run([str(python), "-m", "pip", "install", "-q", "sslyze"], check=False)
        if done.returncode != 0:
            return None
    return python


def outer(args: argparse.Namespace) -> None:
    if os.geteuid() != 0:
        raise SystemExit("bench_scale needs root (it makes a network namespace)")
    sslyze = None if args.no_sslyze else sslyze_python()
    namespace = f"pfbench-{os.getpid()}"
    etc = Path("/etc/netns") / namespace  # `ip netns exec` mounts these files over /etc inside the namespace
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "resolv.conf").write_text("nameserver 127.0.0.1\n")
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    try:
        subprocess.run(["ip", "-n", namespace, "link", "set", "lo", "up"], check=True)
        inner_args = ["--inner", "--sizes", args.sizes, "--delays", args.delays, "--repeat", str(args.repeat)]
        if sslyze:
            inner_args += ["--sslyze", str(sslyze)]
        if args.no_loop:
            inner_args += ["--no-loop"]
        subprocess.run(["ip", "netns", "exec", namespace, sys.executable, __file__, *inner_args], check=True)
    finally:
        subprocess.run(["ip", "netns", "del", namespace], check=False)
        shutil.rmtree(etc, ignore_errors=True)


def run_measured(command: list[str], **kwargs: Any) -> tuple[float, int, None]:
    """(wall seconds, peak RSS in MiB) of a child process. GNU time measures the RSS: the child's own rusage
    would include the pages it briefly shared with this (large) process between fork and exec."""
    stats = Path(tempfile.mkstemp(prefix="bench-rss-")[1])
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(stats), *command],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False, **kwargs)  # fmt: skip
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{command[:3]} failed ({proc.returncode}): {proc.stderr.decode()[-800:]}")
    peak_kib = int(stats.read_text().split()[-1])
    stats.unlink()
    return wall, peak_kib // 1024, None


def inner(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT / "tests" / "support"))
    from dnsserver import Behaviour, DnsServer
    from pki import FakePki, write_bundle

    folder = Path(tempfile.mkdtemp(prefix="preflight-bench-"))
    pki = FakePki.build()
    chain, key = pki.server_files(folder, ["*.bench.test"])
    roots = write_bundle(folder / "roots.pem", pki.root, pki.ms_root)
    sizes = [int(s) for s in args.sizes.split(",")]
    delays = [float(d) for d in args.delays.split(",")]
    rows: list[dict[str, Any]] = []
    for delay_ms in delays:
        servers = [subprocess.Popen([sys.executable, str(HERE / "bench_servers.py"), str(chain), str(key),
                                     "--delay-ms", str(delay_ms)], stdout=subprocess.PIPE, text=True)
                   for _ in range(SERVERS)]  # fmt: skip
        for server in servers:
            assert server.stdout is not None and server.stdout.readline().strip() == "READY"
        try:
            for size in sizes:
                zone = {f"e{i}.bench.test": Behaviour(a=(address(i),), delay_s=delay_ms / 1000) for i in range(size)}
                profile = folder / f"bench-{size}.toml"
                profile.write_text(f'name = "bench-{size}"\n[tls]\nexpected_roots = "{roots}"\n[clock]\n'
                                   "ntp_servers = []\n" + "".join(
                                       f'[[endpoint]]\nhost = "e{i}.bench.test"\nports = [443]\npurpose = "b"\n'
                                       'source = "b"\ntls = true\n' for i in range(size)))  # fmt: skip
                with DnsServer(zone, host="127.0.0.1", port=53):
                    rows.append(measure(size, delay_ms, profile, folder, args))
        finally:
            for server in servers:
                server.terminate()
    (folder / "results.json").write_text(json.dumps(rows, indent=2))
    print_table(rows)


def measure(size: int, delay_ms: float, profile: Path, folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    tool = [sys.executable, "-m", "preflight", "run", "--profile", str(profile), "--dns-server", "127.0.0.1:53",
            "--format", "json", "--output", str(folder / "report.json"), "--quiet", "--timeout", "5",
            "--deadline", "600", *[arg for c in CHECKS for arg in ("--only", c)]]  # fmt: skip
    runs = [run_measured(tool, cwd=ROOT) for _ in range(args.repeat)]
    report = json.loads((folder / "report.json").read_text())
    codes: dict[str, int] = {}
    for result in report["results"]:
        codes[result["code"]] = codes.get(result["code"], 0) + 1
    roots = folder / "roots.pem"
    probe = [run_measured([sys.executable, __file__, "--probe-only", str(size), "--roots", str(roots)], cwd=ROOT)
             for _ in range(args.repeat)]  # fmt: skip
    row: dict[str, Any] = {
        "endpoints": size, "delay_ms": delay_ms, "checks": len(report["results"]),
        "wall_s": statistics.median(r[0] for r in runs), "spread_s": max(r[0] for r in runs) - min(r[0] for r in runs),
        "rss_mib": max(r[1] for r in runs), "probes_s": statistics.median(r[0] for r in probe), "codes": codes,
    }  # fmt: skip
    row["overhead_ms_per_check"] = (row["wall_s"] - row["probes_s"]) * 1000 / row["checks"]
    if not args.no_loop and size == 1000:
        listing = folder / "endpoints.txt"
        listing.write_text("".join(f"e{i}.bench.test 443\n" for i in range(size)))
        start = time.perf_counter()
        loop = subprocess.run(["bash", str(HERE / "sequential.sh"), str(listing), "5", str(roots)],
                              capture_output=True, text=True, check=True)  # fmt: skip
        row["loop_s"] = time.perf_counter() - start
        # Proof the loop did the work (a loop that fails fast would look quick): every line connected and verified.
        row["loop_ok"] = loop.stdout.count("tcp=open tls=ok http=ok")
    if args.sslyze and size == 1000:
        targets = folder / "targets.txt"
        targets.write_text("".join(f"e{i}.bench.test:443{{{address(i)}}}\n" for i in range(size)))
        sslyze = [args.sslyze, "-m", "sslyze", "--certinfo", "--targets_in", str(targets), "--quiet"]
        row["sslyze_s"] = run_measured(sslyze)[0]
    print(json.dumps(row), file=sys.stderr, flush=True)
    return row


def print_table(rows: list[dict[str, Any]]) -> None:
    print(
        "| endpoints | delay ms | checks | wall s (median) | spread s | probes alone s | overhead ms/check "
        "| peak RSS MiB | sslyze --certinfo s | sequential loop s |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        sslyze = f"{r['sslyze_s']:.2f} ({r['sslyze_s'] / r['wall_s']:.1f}×)" if "sslyze_s" in r else "-"
        loop = f"{r['loop_s']:.2f} ({r['loop_s'] / r['wall_s']:.1f}×)" if "loop_s" in r else "-"
        print(
            f"| {r['endpoints']} | {r['delay_ms']:g} | {r['checks']} | {r['wall_s']:.2f} | {r['spread_s']:.2f} | "
            f"{r['probes_s']:.2f} | {r['overhead_ms_per_check']:.3f} | {r['rss_mib']} | {sslyze} | {loop} |"
        )
    for r in rows:
        print(f"codes at {r['endpoints']} endpoints, {r['delay_ms']:g} ms: {r['codes']}")
        if "loop_ok" in r:
            print(
                f"sequential loop at {r['delay_ms']:g} ms: {r['loop_ok']} of {r['endpoints']} endpoints open, "
                "verified and answering"
            )


def probe_only(size: int, roots: str) -> None:
    """The same observations and verdicts without the engine: resolve, connect, handshake on that connection,
    judge; 32 at a time."""
    from checks.interception import judge as judge_interception
    from checks.tls import judge as judge_handshake
    from preflight.pki.certs import load_pem_bundle
    from preflight.pki.truststore import os_roots, public_roots
    from preflight.probes import dns, tcp, tls

    expected, public, os_store = load_pem_bundle(Path(roots).read_bytes()), public_roots(None), os_roots()
    slots = asyncio.Semaphore(32)

    async def one(i: int) -> None:
        name = f"e{i}.bench.test"
        async with slots:
            resolution = await dns.resolve(name, timeout=5, dns_servers=[("127.0.0.1", 53)], use_system=False)
        ip = resolution.addresses[0]
        async with slots:  # one connection for the connect and the handshake, as the tool does
            attempt, sock = await tcp.open_connection(ip, 443, 5)
            assert sock is not None, attempt
            shake = await tls.handshake(ip, 443, name, 5, connection=tls.Connected(sock, attempt.latency_ms))
        now = dt.datetime.now(dt.UTC)
        judge_handshake(name, 443, [shake], now)
        judge_interception(name, shake.chain, now, expected=expected, public=public, os_store=os_store)

    async def all_of_them() -> None:
        await asyncio.gather(*(one(i) for i in range(size)))

    asyncio.run(all_of_them())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--delays", default="0,30")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-sslyze", action="store_true")
    parser.add_argument("--no-loop", action="store_true", help="skip the sequential shell loop (minutes at 30 ms)")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sslyze", help=argparse.SUPPRESS)
    parser.add_argument("--probe-only", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--roots", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe_only:
        probe_only(args.probe_only, args.roots)
    elif args.inner:
        inner(args)
    else:
        outer(args)


if __name__ == "__main__":
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    main()
