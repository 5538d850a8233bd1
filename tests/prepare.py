"""Everything the test suite needs, installed into the virtual environment that runs this script: the README's
test command is `python3 -m venv .venv && .venv/bin/python tests/prepare.py && .venv/bin/python -m pytest`, and
.ci/run runs exactly that.

- The test extras of this checkout (pytest pinned below 9.2, hypothesis, ruff, mypy, shiv...), into this venv.
- As root on a system with apt-get (Debian, Ubuntu): the Debian packages the network-namespace lab runs, with
  service starts refused while installing (a dnsmasq or squid started in the machine's own namespace would reach
  real networks; the lab starts its own, per namespace). mitmproxy comes from the distribution where it has a
  package (Debian 12) and from PyPI into its own virtual environment, `.venv/mitmproxy`, where not (Debian 13):
  the lab looks there too.
- Not root, or no apt-get: nothing is installed system-wide, and one line says which lane will skip and why
  (tests/conftest.py skips each namespace test with that reason; in CI a skip there is a failure).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# command the lab runs → the Debian package that has it
LAB_PACKAGES = {
    "ip": "iproute2",
    "unshare": "util-linux",
    "setpriv": "util-linux",
    "dnsmasq": "dnsmasq",
    "nft": "nftables",
    "chronyd": "chrony",
    "faketime": "faketime",
    "squid": "squid-openssl",
    "openssl": "openssl",
    "chromium": "chromium",
    "curl": "curl",  # benchmarks/sequential.sh
}
MITMPROXY_VENV = ROOT / ".venv" / "mitmproxy"


def main() -> int:
    if sys.prefix == sys.base_prefix:
        print("tests/prepare.py: run it with the virtual environment's Python (.venv/bin/python tests/prepare.py)")
        return 2
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "-e", f"{ROOT}[test]"], check=True)
    why_not = _install_lab_packages()
    if why_not is not None:
        print(f"tests/prepare.py: the namespace tests (tests/lab, -m netns) will skip: {why_not}")
    return 0


def _missing() -> list[str]:
    wanted = [pkg for cmd, pkg in LAB_PACKAGES.items() if not _found(cmd)]
    if not Path("/usr/bin/time").exists():
        wanted.append("time")  # GNU time, for the benchmarks' peak-RSS figures
    return sorted(set(wanted))


def _found(command: str) -> bool:
    return shutil.which(command) is not None or Path("/usr/sbin", command).exists()


def _install_lab_packages() -> str | None:
    """None when the lab can run; else why not."""
    if os.geteuid() != 0:
        return "not root (the lab builds network namespaces)"
    missing = _missing()
    if missing:
        if shutil.which("apt-get") is None:
            return f"no apt-get to install {', '.join(missing)}"
        _apt_install(missing)
    if not _found("mitmdump") and not (MITMPROXY_VENV / "bin" / "mitmdump").exists():
        _apt_install(["mitmproxy"], required=False)  # Debian 12 has it; Debian 13 does not
        if not _found("mitmdump"):
            subprocess.run([sys.executable, "-m", "venv", str(MITMPROXY_VENV)], check=True)
            subprocess.run(
                [str(MITMPROXY_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "mitmproxy"], check=True
            )
    still = _missing()
    return f"{', '.join(still)} could not be installed" if still else None


def _apt_install(packages: list[str], *, required: bool = True) -> None:
    """apt-get install, with every service start refused meanwhile (policy-rc.d exit 101, Debian's own way)."""
    policy = Path("/usr/sbin/policy-rc.d")
    ours = not policy.exists()
    if ours:
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    try:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)  # one unsigned mirror must not stop it
        done = subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages], env=env, check=False
        )
        if done.returncode != 0 and required:
            raise SystemExit(f"tests/prepare.py: apt-get install {' '.join(packages)} failed")
    finally:
        if ours:
            policy.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
