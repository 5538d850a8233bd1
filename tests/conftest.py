from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUPPORT = ROOT / "tests" / "support"
sys.path.insert(0, str(SUPPORT))  # helpers, servers, the lab package

import netguard  # noqa: E402

_GUARD_LOG = Path(tempfile.mkdtemp(prefix="preflight-guard-")) / "violations.log"


def pytest_configure(config: pytest.Config) -> None:
    os.environ["PREFLIGHT_GUARD"] = "1"
    os.environ["PREFLIGHT_GUARD_LOG"] = str(_GUARD_LOG)
    netguard.install()


@pytest.fixture(autouse=True)
def _network_guard() -> Iterator[None]:
    netguard.violations.clear()
    _GUARD_LOG.write_text("")
    yield
    found = netguard.violations + [line for line in _GUARD_LOG.read_text().splitlines() if line]
    if found:
        pytest.fail("network guard: the test tried to reach outside loopback/its namespaces: " + "; ".join(found))


def netns_available() -> str | None:
    """Why namespace tests cannot run here, or None if they can."""
    if os.geteuid() != 0:
        return "needs root"
    if shutil.which("ip") is None:
        return "iproute2 ('ip') is not installed"
    from lab.world import mitmdump

    tools = {"dnsmasq": "dnsmasq", "nft": "nftables", "squid": "squid-openssl", "chronyd": "chrony",
             "faketime": "faketime", "setpriv": "util-linux"}  # fmt: skip
    missing = [
        package for tool, package in tools.items() if not (shutil.which(tool) or Path("/usr/sbin", tool).exists())
    ]
    if not Path(mitmdump()).exists() and shutil.which(mitmdump()) is None:
        missing.append("mitmproxy")
    if missing:
        return f"the lab's packages are missing ({', '.join(missing)}): python tests/prepare.py installs them as root"
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if probe.returncode != 0:
        return f"cannot create a network namespace: {probe.stderr.decode().strip()}"
    return None


@pytest.hookimpl(tryfirst=True)  # before xdist reads the group markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Namespace tests run on one xdist worker (`--dist loadgroup`), one after another, while the other lanes run
    beside them: the lab scenarios' timeouts are sized for a machine they do not share with another lab."""
    for item in items:
        if item.get_closest_marker("netns") is not None:
            item.add_marker(pytest.mark.xdist_group("lab"))


def _lab_owner_file(controller_pid: int) -> Path:
    return Path(tempfile.gettempdir()) / f"preflight-lab-worker-of-{controller_pid}"


def _assert_the_lab_has_one_worker() -> None:
    """Fail loudly when namespace tests reach a second xdist worker of the same session: --dist loadgroup is not
    grouping them (pytest 9.2 with xdist 3.8 silently stops: pytest-dev/pytest-xdist#1386). Their namespaces no
    longer collide (each carries its maker's pid), but side by side they compete for the CPU the timeouts of
    the lab scenarios are sized for."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    owner = _lab_owner_file(os.getppid())
    try:
        with open(owner, "x", encoding="utf-8") as handle:
            handle.write(worker)
        return
    except FileExistsError:
        first = owner.read_text(encoding="utf-8").strip()
    if first and first != worker:
        pytest.fail(
            f"namespace tests ran on xdist workers {first} and {worker}: --dist loadgroup did not group them "
            "(pytest-dev/pytest-xdist#1386); install the pinned test extras: pip install -e '.[test]'"
        )


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("netns") is None:
        return
    _assert_the_lab_has_one_worker()
    reason = netns_available()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"namespace test cannot run in CI: {reason} (CI runs as root; a skip here is a failure)")
    pytest.skip(f"namespace test: {reason}")


@pytest.fixture
def listener() -> Iterator[Any]:
    """Factory for TCP listeners on loopback that accept and hold connections."""
    sockets: list[socket.socket] = []

    def make(host: str = "127.0.0.1") -> int:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.bind((host, 0))
        sock.listen(128)
        sockets.append(sock)
        return int(sock.getsockname()[1])

    yield make
    for sock in sockets:
        sock.close()


@pytest.fixture(scope="session")
def report_schema() -> dict[str, Any]:
    return json.loads((ROOT / "reports" / "schema" / "report.schema.json").read_text())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Every lab namespace and /etc/netns entry must be gone when the suite ends, whatever happened. Under xdist a
    worker hands its property-case counts to the controller, which alone looks for leftovers (when every worker
    is done: a worker that finishes early would see the lab worker's namespaces in use)."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        from casecount import COUNTS

        workeroutput["casecounts"] = dict(COUNTS)
        workeroutput["pid"] = os.getpid()
        return
    _lab_owner_file(os.getpid()).unlink(missing_ok=True)
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return
    from lab.topology import is_leftover, owner_pid

    ours = _WORKER_PIDS | {os.getpid()}

    def left_by_this_session(name: str) -> bool:
        return name.startswith("pft-") and (owner_pid(name) in ours or is_leftover(name))

    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    names = [line.split()[0] for line in listing.splitlines() if line.strip()]
    leftovers = [name for name in names if left_by_this_session(name)]
    etc = Path("/etc/netns")
    leftovers += [p.name for p in etc.glob("pft-*") if left_by_this_session(p.name)] if etc.is_dir() else []
    if leftovers:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print(f"\nlab leftovers after the test session: {', '.join(sorted(set(leftovers)))}", file=sys.stderr)


_WORKER_PIDS: set[int] = set()


def pytest_testnodedown(node: Any, error: Any) -> None:
    """The controller adds up the case counts of every xdist worker, and learns their pids (whose namespaces are
    this session's)."""
    from casecount import COUNTS

    pid = getattr(node, "workeroutput", {}).get("pid")
    if isinstance(pid, int):
        _WORKER_PIDS.add(pid)

    for name, number in getattr(node, "workeroutput", {}).get("casecounts", {}).items():
        COUNTS[name] = COUNTS.get(name, 0) + number


def pytest_terminal_summary(terminalreporter: Any) -> None:
    from casecount import COUNTS

    if COUNTS:
        terminalreporter.write_sep("-", "property-based cases run per parser")
        for name, number in sorted(COUNTS.items()):
            terminalreporter.write_line(f"{name:32} {number:>7,} cases")
