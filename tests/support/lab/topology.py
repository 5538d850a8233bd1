"""Network-namespace topologies for tests: host ↔ router ↔ internet, with only lab addresses.

Only 198.18.0.0/15 and 2001:db8::/32 are used; nothing touches the machine's own namespace except creating and
deleting ours. Everything (namespaces, /etc/netns entries, processes) is torn down on exit, and leftovers of an
interrupted earlier run are removed on start.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

PREFIX = "pft"
ETC_NETNS = Path("/etc/netns")
LAB_NETWORKS = "198.18.0.0/15,2001:db8::/32"

HOST_ADDR, ROUTER_HOST_SIDE = "198.18.1.2", "198.18.1.1"
ROUTER_NET_SIDE, INTERNET_ADDR = "198.18.2.1", "198.18.2.2"
HOST_ADDR6, ROUTER_HOST_SIDE6 = "2001:db8:1::2", "2001:db8:1::1"
ROUTER_NET_SIDE6, INTERNET_ADDR6 = "2001:db8:2::1", "2001:db8:2::2"

_counter = itertools.count()


def sh(*args: str, check: bool = True, input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(args), capture_output=True, text=True, input=input_text)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {proc.stderr.strip()}")
    return proc


def owner_pid(name: str) -> int | None:
    """The pid of the process that made a lab namespace (or /etc/netns entry): pft-<pid>-<n>-<role>."""
    parts = name.split("-")
    if len(parts) < 3 or parts[0] != PREFIX or not parts[1].isdigit():
        return None
    return int(parts[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_leftover(name: str) -> bool:
    """A lab namespace this process made, or one whose maker is gone (an interrupted earlier run). Another live
    process's (a second pytest worker, a second session) is never ours to remove."""
    pid = owner_pid(name)
    if pid is None:
        return name.startswith(f"{PREFIX}-")  # the unnumbered names of older versions: nobody alive owns them
    return pid == os.getpid() or not _alive(pid)


def clean_leftovers() -> None:
    """Remove the namespaces and /etc/netns entries that `is_leftover`: ours, and those of dead processes."""
    listing = sh("ip", "netns", "list", check=False).stdout.split()
    for name in listing:
        if name.startswith(f"{PREFIX}-") and is_leftover(name):
            _kill_namespace_processes(name)
            sh("ip", "netns", "del", name, check=False)
    if ETC_NETNS.is_dir():
        for entry in ETC_NETNS.iterdir():
            if entry.name.startswith(f"{PREFIX}-") and is_leftover(entry.name):
                shutil.rmtree(entry, ignore_errors=True)


def _kill_namespace_processes(name: str) -> None:
    pids = sh("ip", "netns", "pids", name, check=False).stdout.split()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)


class Topology:
    """host (runs preflight) ↔ router (firewall, routes) ↔ internet (fake services on its loopback)."""

    def __init__(self) -> None:
        # The maker's pid in every name: parallel workers never share a name, and cleanup tells its own (or a
        # dead process's) namespaces from a live neighbour's. Interface names must fit 15 bytes: pft + pid (7
        # digits at most on Linux) + x + counter (3) + a letter.
        pid, number = os.getpid(), next(_counter) % 1000
        self.host = f"{PREFIX}-{pid}-{number}-h"
        self.router = f"{PREFIX}-{pid}-{number}-r"
        self.internet = f"{PREFIX}-{pid}-{number}-i"
        self._veths = tuple(f"{PREFIX}{pid}x{number}{letter}" for letter in "abcd")
        self._processes: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Topology:
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _build(self) -> None:
        for ns in (self.host, self.router, self.internet):
            # No process in the lab may fall back to the machine's own resolver: each namespace gets its own
            # resolv.conf (loopback) and hosts, which `ip netns exec` mounts over /etc.
            folder = ETC_NETNS / ns
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
            (folder / "hosts").write_text(f"127.0.0.1 localhost {ns}\n::1 localhost\n")
            sh("ip", "netns", "add", ns)
            # Duplicate address detection on fresh veths stalls the first IPv6 packets for ~2 s.
            for scope in ("all", "default"):
                self.ns_exec(ns, "sysctl", "-qw", f"net.ipv6.conf.{scope}.accept_dad=0")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        self.ns_exec(self.router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        self.ns_exec(self.router, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
        a, b, c, d = self._veths
        sh("ip", "link", "add", a, "netns", self.host, "type", "veth", "peer", "name", b, "netns", self.router)
        sh("ip", "link", "add", c, "netns", self.router, "type", "veth", "peer", "name", d, "netns", self.internet)
        for ns, dev, v4, v6 in (
            (self.host, a, HOST_ADDR, HOST_ADDR6),
            (self.router, b, ROUTER_HOST_SIDE, ROUTER_HOST_SIDE6),
            (self.router, c, ROUTER_NET_SIDE, ROUTER_NET_SIDE6),
            (self.internet, d, INTERNET_ADDR, INTERNET_ADDR6),
        ):
            sh("ip", "-n", ns, "addr", "add", f"{v4}/24", "dev", dev)
            sh("ip", "-n", ns, "-6", "addr", "add", f"{v6}/64", "dev", dev, "nodad")
            sh("ip", "-n", ns, "link", "set", dev, "up")
        sh("ip", "-n", self.host, "route", "add", "default", "via", ROUTER_HOST_SIDE)
        sh("ip", "-n", self.host, "-6", "route", "add", "default", "via", ROUTER_HOST_SIDE6)
        sh("ip", "-n", self.internet, "route", "add", "default", "via", ROUTER_NET_SIDE)
        sh("ip", "-n", self.internet, "-6", "route", "add", "default", "via", ROUTER_NET_SIDE6)
        sh("ip", "-n", self.router, "route", "add", "default", "via", INTERNET_ADDR)
        sh("ip", "-n", self.router, "-6", "route", "add", "default", "via", INTERNET_ADDR6)
        self._wait_for_ipv6()
        self._pin_neighbours()

    def _pin_neighbours(self) -> None:
        """Static ARP/ND entries on every link: the first packet must not wait for neighbour discovery."""
        a, b, c, d = self._veths
        ends = {
            a: (self.host, HOST_ADDR, HOST_ADDR6), b: (self.router, ROUTER_HOST_SIDE, ROUTER_HOST_SIDE6),
            c: (self.router, ROUTER_NET_SIDE, ROUTER_NET_SIDE6), d: (self.internet, INTERNET_ADDR, INTERNET_ADDR6),
        }  # fmt: skip
        mac = {dev: json.loads(sh("ip", "-n", ns, "-j", "link", "show", "dev", dev).stdout)[0]["address"]
               for dev, (ns, _v4, _v6) in ends.items()}  # fmt: skip
        for near, far in ((a, b), (b, a), (c, d), (d, c)):
            ns = ends[near][0]
            for address in ends[far][1:]:
                sh("ip", "-n", ns, "neigh", "replace", address, "lladdr", mac[far], "dev", near, "nud", "permanent")

    def _wait_for_ipv6(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not any(sh("ip", "-n", ns, "-6", "addr", "show", "tentative").stdout.strip()
                       for ns in (self.host, self.router, self.internet)):  # fmt: skip
                return
            time.sleep(0.05)
        raise RuntimeError("IPv6 addresses in the lab stayed tentative")

    def ns_exec(self, ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return sh("ip", "netns", "exec", ns, *args, check=check)

    def prefix(self, ns: str) -> list[str]:
        return ["ip", "netns", "exec", ns]

    def add_service_address(self, address: str) -> None:
        """An extra address on the internet namespace's loopback (the 'dummy' link type is unavailable here)."""
        plen = "128" if ":" in address else "32"
        sh("ip", "-n", self.internet, "addr", "add", f"{address}/{plen}", "dev", "lo")

    def router_route(self, kind: str, prefix: str) -> None:
        """kind: blackhole (filtered), prohibit (ICMP admin-prohibited), unreachable (ICMP host unreachable)."""
        family = ["-6"] if ":" in prefix else []
        sh("ip", "-n", self.router, *family, "route", "add", kind, prefix)

    def host_route(self, kind: str, prefix: str) -> None:
        family = ["-6"] if ":" in prefix else []
        sh("ip", "-n", self.host, *family, "route", "add", kind, prefix)

    def host_etc(self, *, resolv_conf: str | None = None, hosts: str | None = None) -> None:
        """Files `ip netns exec` bind-mounts over /etc for the host namespace."""
        folder = ETC_NETNS / self.host
        folder.mkdir(parents=True, exist_ok=True)
        if resolv_conf is not None:
            (folder / "resolv.conf").write_text(resolv_conf)
        if hosts is not None:
            (folder / "hosts").write_text(hosts)

    def start(
        self,
        ns: str,
        args: Sequence[str],
        *,
        ready_line: str | None = None,
        timeout: float = 10,
        ready_on_stderr: bool = False,
    ) -> subprocess.Popen[bytes]:
        """A process inside a namespace, ended on teardown. Waits for `ready_line` on its output if given."""
        proc = subprocess.Popen([*self.prefix(ns), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._processes.append(proc)
        if ready_line is None:
            return proc
        stream = proc.stderr if ready_on_stderr else proc.stdout
        assert stream is not None
        seen = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([stream], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            chunk = os.read(stream.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
            if ready_line.encode() in seen:
                return proc
        proc.kill()
        raise RuntimeError(f"{' '.join(args[:3])} did not become ready in {ns}: {seen.decode(errors='replace')[-500:]}")

    def start_python(self, ns: str, script: Path, *args: str, ready_line: str = "READY") -> subprocess.Popen[bytes]:
        return self.start(ns, [sys.executable, str(script), *args], ready_line=ready_line)

    def host_trust_store(self, extra_pem: bytes) -> None:
        """Give the host namespace its own OS trust store: a copy of /etc/ssl with `extra_pem` appended to the
        bundle, the way an enterprise deploys its inspection CA."""
        folder = ETC_NETNS / self.host / "ssl"
        if not folder.exists():  # a second CA is appended to the first one's store
            shutil.copytree("/etc/ssl", folder, symlinks=True)
        bundle = folder / "certs" / "ca-certificates.crt"
        original = bundle.read_bytes() if bundle.exists() else b""
        if bundle.is_symlink():
            bundle.unlink()
        bundle.write_bytes(original + b"\n" + extra_pem)

    def wait_tcp(self, ns: str, address: str, port: int, timeout: float = 15.0) -> None:
        probe = f"import socket; socket.create_connection(({address!r}, {port}), 0.2).close()"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ns_exec(ns, sys.executable, "-c", probe, check=False).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"nothing listens on {address}:{port} in {ns}")

    def firewall(self, ns: str, ruleset: str) -> None:
        """Load an nftables ruleset (multi-line text, as `nft -f -` wants it) into a namespace."""
        sh("ip", "netns", "exec", ns, "nft", "-f", "-", input_text=ruleset)

    def close(self) -> None:
        for proc in self._processes:
            if proc.poll() is None:
                proc.terminate()
        for proc in self._processes:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        for ns in (self.host, self.router, self.internet):
            _kill_namespace_processes(ns)
            sh("ip", "netns", "del", ns, check=False)
            shutil.rmtree(ETC_NETNS / ns, ignore_errors=True)
