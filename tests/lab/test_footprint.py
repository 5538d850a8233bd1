"""What the tool touches, seen from outside the process: a full run of the lab profile in a network namespace
whose output is recorded by nftables (every new flow's destination address, protocol and port), compared with
what the profile, the resolver configuration and the NTP servers account for. And the same run as an
unprivileged user gives the same verdicts."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from helpers import ROOT, CliRun, cli_env
from lab.topology import sh
from lab.world import LAB_NETWORKS, NTP_SERVICE, TENANT, lab_pki, lab_world

from preflight import profile
from preflight.engine import plan

pytestmark = pytest.mark.netns

AUDIT = """table inet audit {
  set out4 { type ipv4_addr . inet_proto . inet_service; flags dynamic; size 65535; }
  set out6 { type ipv6_addr . inet_proto . inet_service; flags dynamic; size 65535; }
  chain output {
    type filter hook output priority -10; policy accept;
    ct state new meta nfproto ipv4 meta l4proto { tcp, udp } add @out4 { ip daddr . meta l4proto . th dport }
    ct state new meta nfproto ipv6 meta l4proto { tcp, udp } add @out6 { ip6 daddr . meta l4proto . th dport }
  }
}
"""


def recorded_flows(namespace: str) -> set[tuple[str, str, int]]:
    flows = set()
    for name in ("out4", "out6"):
        listing = sh("ip", "netns", "exec", namespace, "nft", "-j", "list", "set", "inet", "audit", name).stdout
        for item in json.loads(listing)["nftables"]:
            for element in item.get("set", {}).get("elem", []):
                address, proto, port = element["concat"]
                flows.add((address, proto, int(port)))
    return flows


def test_a_full_run_contacts_only_the_profile_resolvers_and_ntp() -> None:
    with lab_world() as lab:
        lab.topo.firewall(lab.topo.host, AUDIT)
        run = lab.preflight()
        flows = recorded_flows(lab.topo.host)
    assert run.code == 0, run.stdout[-1500:]

    lab_profile = profile.load(str(lab_pki()[1] / "lab-profile.toml"))
    built = plan.build(lab_profile, tenant_id=TENANT)
    answers = {r["target"]["host"]: r["evidence"]["addresses"] for r in run.report["results"]
               if r["check"] == "dns.resolve" and r["status"] == "pass"}  # fmt: skip
    expected = {(address, "tcp", port) for endpoint in built.endpoints if not endpoint.host.startswith("*.")
                for address in answers[endpoint.host] for port in endpoint.ports}  # fmt: skip
    resolvers = {("127.0.0.1", proto, 53) for proto in ("udp", "tcp")}  # the namespace's resolv.conf
    ntp = {(NTP_SERVICE, "udp", 123)}
    assert expected <= flows, f"profile targets never contacted: {sorted(expected - flows)}"
    assert ntp <= flows
    unexplained = flows - expected - resolvers - ntp
    assert not unexplained, f"contacted outside the profile, resolvers and NTP: {sorted(unexplained)}"


def _world_traversable_mounts(paths: list[Path], stash: Path) -> list[str]:
    """Shell commands for a private mount namespace in which uid 65534 can reach `paths` at their own absolute
    paths: over each ancestor it may not enter (/root is 0700 here), a 0755 tmpfs into which the needed child is
    bound back from a stash of the original. Works for any interpreter, venv (stock Debian's in a home folder, or
    one under /root) and checkout, since nothing moves."""
    commands: list[str] = []
    covered: set[tuple[Path, str]] = set()
    for path in paths:
        for ancestor in [*reversed(path.parents), path][:-1]:
            if ancestor.stat().st_mode & 0o001:
                continue
            child = path.relative_to(ancestor).parts[0]
            if (ancestor, child) in covered:
                break
            covered.add((ancestor, child))
            keep = stash / str(len(covered))
            commands += [
                f"mkdir -p {keep} && mount --bind {ancestor} {keep}",
                f"mount -t tmpfs -o mode=0755 tmpfs {ancestor}",
                f"mkdir -p {ancestor / child} && mount --bind {keep / child} {ancestor / child}",
            ]
            break
    return commands


def test_an_unprivileged_run_gives_the_same_verdicts() -> None:
    """As uid 65534 with no capabilities, with the same interpreter, packages and checkout as the suite."""
    import site

    view = Path(tempfile.mkdtemp(prefix="preflight-unprivileged-"))
    view.chmod(0o755)
    shutil.copytree(lab_pki()[1], view / "pki")  # the lab's own folder is private to root
    subprocess.run(["chmod", "-R", "a+rX", str(view / "pki")], check=True)
    profile_path = view / "pki" / "lab-profile.toml"
    profile_path.write_text(profile_path.read_text().replace(str(lab_pki()[1]), str(view / "pki")))
    needed = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent, ROOT}
    needed |= {Path(p) for p in site.getsitepackages() if Path(p).exists()}  # Debian lists some that are not
    stash = Path(tempfile.mkdtemp(prefix="preflight-stash-"))
    mounts = _world_traversable_mounts(sorted(needed), stash)
    args = [sys.executable, "-m", "preflight", "run", "--profile", str(profile_path), "--tenant-id", TENANT,
            "--format", "json", "--timeout", "1.5"]  # fmt: skip
    drop = "setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs"
    script = " && ".join([*mounts, f"exec {drop} {' '.join(args)}"])
    env = cli_env(PREFLIGHT_GUARD_ALLOW=LAB_NETWORKS, PREFLIGHT_GUARD_ALLOW_NAMES="1", HOME="/tmp")
    try:
        with lab_world() as lab:
            as_root = lab.preflight()
            proc = subprocess.run([*lab.topo.prefix(lab.topo.host), "unshare", "-m", "sh", "-c", script],
                                  capture_output=True, text=True, env=env, timeout=120, cwd="/")  # fmt: skip
    finally:
        subprocess.run(["rm", "-rf", str(view), str(stash)], check=False)
    unprivileged = CliRun(proc)
    assert unprivileged.code == as_root.code == 0, unprivileged.stderr[-1500:]
    verdicts: Any = lambda run: sorted((r["id"], r["status"], r["code"]) for r in run.report["results"])  # noqa: E731
    assert verdicts(unprivileged) == verdicts(as_root)
