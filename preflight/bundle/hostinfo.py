"""host.json: the facts a support engineer needs about a host they cannot reach. The OS-specific part is one
function per platform returning the same shape; commands run with a timeout and their output is bounded."""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from preflight import __version__
from preflight.host import hostsfile
from preflight.host.schannel import read_policy
from preflight.host.winhost import HostReader, default_reader

COMMAND_TIMEOUT_S = 5.0
MAX_TEXT_BYTES = 256 * 1024
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def collect(
    profile: Mapping[str, Any], environ: Mapping[str, str] | None = None, report: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """`report`: the run's report (JSON), whose host.* results' facts are kept here too (on Windows)."""
    env = os.environ if environ is None else environ
    facts: dict[str, Any] = {
        "tool": {"name": "connector-preflight", "version": __version__},
        "profile": {"name": profile.get("name"), "sha256": profile.get("sha256"), "origin": profile.get("origin")},
        "hostname": socket.gethostname(),
        "os": platform.system(),
        "os_release": platform.release(),
        "os_version": platform.version(),
        "machine": platform.machine(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "executable": sys.executable,
        "user": _user(env),
        "proxy_environment": proxy_environment(env),
    }
    collector = _PLATFORMS.get(sys.platform, _posix)
    facts.update(collector(run_command))
    if report is not None:
        facts["host_checks"] = host_check_facts(report)
    return facts


def host_check_facts(report: Mapping[str, Any]) -> dict[str, Any]:
    """The host.* checks' readings (registry values, services, the connector's certificate) by check, for the
    ones that read something: off Windows they are skipped and there is nothing to keep."""
    return {
        result["check"]: {key: result.get(key) for key in ("status", "code", "summary", "evidence")}
        for result in report.get("results", [])
        if str(result.get("check", "")).startswith("host.") and result.get("status") != "skip"
    }


def proxy_environment(env: Mapping[str, str]) -> dict[str, str]:
    """Proxy variables in either case, as set (secrets are removed later by the bundle's redactor)."""
    return {k: v for k, v in sorted(env.items()) if k.lower() in PROXY_VARIABLES}


Runner = Callable[[Sequence[str]], dict[str, Any]]


def run_command(argv: Sequence[str]) -> dict[str, Any]:
    record: dict[str, Any] = {"command": " ".join(argv)}
    try:
        done = subprocess.run(list(argv), capture_output=True, timeout=COMMAND_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        record["error"] = f"{argv[0]} not found"
        return record
    except subprocess.TimeoutExpired:
        record["error"] = f"timed out after {COMMAND_TIMEOUT_S:g} s"
        return record
    except OSError as exc:
        record["error"] = f"{type(exc).__name__}: {exc}"
        return record
    record["exit_code"] = done.returncode
    record["stdout"] = _bounded(done.stdout)
    if done.stderr:
        record["stderr"] = _bounded(done.stderr)
    return record


def read_text(path: str | Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_TEXT_BYTES + 1)
    except OSError as exc:
        return {"path": str(path), "error": exc.strerror or str(exc)}
    return {"path": str(path), "text": _bounded(data)}


def _bounded(data: bytes) -> str:
    text = data[:MAX_TEXT_BYTES].decode("utf-8", errors="replace")
    return text + ("\n[truncated]" if len(data) > MAX_TEXT_BYTES else "")


def _user(env: Mapping[str, str]) -> str | None:
    for name in ("USER", "USERNAME", "LOGNAME"):
        if env.get(name):
            return env[name]
    return None


def parse_ip_addr_json(text: str) -> list[dict[str, Any]]:
    """`ip -j addr show` → [{name, state, mtu, addresses: [cidr, ...]}]."""
    interfaces = []
    for entry in json.loads(text):
        interfaces.append(
            {
                "name": entry.get("ifname"),
                "state": entry.get("operstate"),
                "mtu": entry.get("mtu"),
                "addresses": [f"{a['local']}/{a['prefixlen']}" for a in entry.get("addr_info", []) if "local" in a],
            }
        )
    return interfaces


def parse_ip_route_json(text: str) -> list[str]:
    """`ip -j route show` → one readable line per route ("default via 198.18.0.1 dev eth0")."""
    lines = []
    for route in json.loads(text):
        parts = [str(route.get("dst", "?"))]
        for key in ("gateway", "dev", "src", "metric"):
            if key in route:
                parts.append(f"{'via' if key == 'gateway' else key} {route[key]}")
        lines.append(" ".join(parts))
    return lines


def parse_resolv_conf(text: str) -> dict[str, list[str]]:
    servers, search, options = [], [], []
    for raw in text.splitlines():
        fields = raw.split("#", 1)[0].split(";", 1)[0].split()
        if len(fields) < 2:
            continue
        if fields[0] == "nameserver":
            servers.append(fields[1])
        elif fields[0] in ("search", "domain"):
            search.extend(fields[1:])
        elif fields[0] == "options":
            options.extend(fields[1:])
    return {"nameservers": servers, "search": search, "options": options}


def parse_hosts(text: str) -> list[dict[str, Any]]:
    return [{"address": entry.address, "names": list(entry.names)} for entry in hostsfile.parse(text)]


def _linux(run: Runner) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    addr = run(["ip", "-j", "addr", "show"])
    facts["interfaces"] = _parsed(addr, parse_ip_addr_json)
    if "not found" in str(addr.get("error", "")):  # no iproute2 (a minimal container): the names, at least
        facts["interfaces"] = [{"name": name, "index": index} for index, name in socket.if_nameindex()]
        facts["interfaces_note"] = "iproute2 is not installed: interface names only (socket.if_nameindex)"
    routes: list[str] | dict[str, Any] = []
    for family in ("-4", "-6"):
        shown = run(["ip", "-j", family, "route", "show"])
        parsed = _parsed(shown, parse_ip_route_json)
        if isinstance(parsed, list) and isinstance(routes, list):
            routes.extend(parsed)
        else:
            routes = parsed
    facts["routes"] = routes
    facts.update(_resolver_files("/etc/resolv.conf", "/etc/hosts"))
    os_release = read_text("/etc/os-release")
    if "text" in os_release:
        facts["os_release_file"] = dict(
            line.split("=", 1) for line in os_release["text"].splitlines() if "=" in line and not line.startswith("#")
        )
    return facts


def _posix(run: Runner) -> dict[str, Any]:
    facts: dict[str, Any] = {"interfaces_text": run(["ifconfig", "-a"]), "routes_text": run(["netstat", "-rn"])}
    facts.update(_resolver_files("/etc/resolv.conf", "/etc/hosts"))
    return facts


def _windows(run: Runner, reader: HostReader | None = None) -> dict[str, Any]:
    root = os.environ.get("SYSTEMROOT", r"C:\Windows")
    hosts = read_text(Path(root) / "System32" / "drivers" / "etc" / "hosts")
    facts: dict[str, Any] = {
        # Windows keeps interface, route and resolver facts in command output; kept as text for the reader.
        "interfaces_text": run(["ipconfig", "/all"]),
        "routes_text": run(["route", "print"]),
        "winhttp_proxy_text": run(["netsh", "winhttp", "show", "proxy"]),
        "hosts_file": hosts,
    }
    if "text" in hosts:
        facts["hosts"] = parse_hosts(hosts["text"])
    registry = reader if reader is not None else default_reader()
    if registry is not None:  # what decides the connector's TLS, also when tls.handshake did not run
        facts["schannel"] = read_policy(registry).to_json()
    return facts


def _resolver_files(resolv: str, hosts: str) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    resolv_file = read_text(resolv)
    facts["resolver_file"] = resolv_file
    if "text" in resolv_file:
        facts["resolver"] = parse_resolv_conf(resolv_file["text"])
    hosts_file = read_text(hosts)
    facts["hosts_file"] = hosts_file
    if "text" in hosts_file:
        facts["hosts"] = parse_hosts(hosts_file["text"])
    return facts


def _parsed(record: dict[str, Any], parser: Callable[[str], Any]) -> Any:
    if "stdout" not in record or record.get("exit_code") != 0:
        return record
    try:
        return parser(record["stdout"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return {**record, "parse_error": f"{type(exc).__name__}: {exc}"}


_PLATFORMS: dict[str, Callable[[Runner], dict[str, Any]]] = {"linux": _linux, "win32": _windows}
