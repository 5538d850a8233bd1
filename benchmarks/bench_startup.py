"""Start-up: how long `preflight --version`, `--help`, `explain` and `checks` take, from process start to exit,
over repeated runs (median and spread). Measure it as a user installs it, not editable (an editable install adds
its own import hook): python3 -m venv /tmp/v && /tmp/v/bin/pip install . && /tmp/v/bin/python
benchmarks/bench_startup.py [--repeat 30]"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def timed(command: list[str], repeat: int) -> list[float]:
    subprocess.run(command, capture_output=True, check=True)  # warm the page cache and .pyc files
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    # The console script next to this interpreter: a version manager's shim (pyenv) would add its own start-up.
    beside = Path(sys.executable).parent / "preflight"
    entry = str(beside) if beside.exists() else shutil.which("preflight")
    commands = {
        "python -c pass (the interpreter alone)": [sys.executable, "-c", "pass"],
        "preflight --version": [entry or "preflight", "--version"],
        "preflight --help": [entry or "preflight", "--help"],
        "preflight explain tcp.filtered": [entry or "preflight", "explain", "tcp.filtered"],
        "preflight checks": [entry or "preflight", "checks"],
    }
    print("| command | median ms | min ms | max ms |")
    print("|---|---:|---:|---:|")
    for label, command in commands.items():
        times = timed(command, args.repeat)
        print(f"| `{label}` | {statistics.median(times):.0f} | {min(times):.0f} | {max(times):.0f} |")


if __name__ == "__main__":
    main()
