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


def test_an_unprivileged_run_gives_the_same_verdicts() -> None:
    """As uid 65534 with no capabilities. The interpreter lives under /root (mode 0700 here), so it is
    bind-mounted to a world-readable path in a private mount namespace for that one command."""
    view = Path(tempfile.mkdtemp(prefix="preflight-pyview-"))
    view.chmod(0o755)
    prefix = Path(sys.base_prefix)
    python = view / "python" / Path(sys.executable).relative_to(prefix)
    shutil.copytree(lab_pki()[1], view / "pki")  # the lab's own folder is private to root
    subprocess.run(["chmod", "-R", "a+rX", str(view / "pki")], check=True)
    profile_path = view / "pki" / "lab-profile.toml"
    profile_path.write_text(profile_path.read_text().replace(str(lab_pki()[1]), str(view / "pki")))
    args = [str(python), "-m", "preflight", "run", "--profile", str(profile_path), "--tenant-id", TENANT,
            "--format", "json", "--timeout", "1.5"]  # fmt: skip
    # LD_LIBRARY_PATH: the interpreter finds libpython through an absolute /root path it may not read.
    drop = "setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs"
    script = f"mount --bind {prefix} {view}/python && LD_LIBRARY_PATH={view}/python/lib exec {drop} {' '.join(args)}"
    (view / "python").mkdir()
    env = cli_env(PREFLIGHT_GUARD_ALLOW=LAB_NETWORKS, PREFLIGHT_GUARD_ALLOW_NAMES="1", HOME="/tmp")
    try:
        with lab_world() as lab:
            as_root = lab.preflight()
            proc = subprocess.run([*lab.topo.prefix(lab.topo.host), "unshare", "-m", "sh", "-c", script],
                                  capture_output=True, text=True, env=env, timeout=120, cwd=str(ROOT))  # fmt: skip
    finally:
        subprocess.run(["rm", "-rf", str(view)], check=False)
    unprivileged = CliRun(proc)
    assert unprivileged.code == as_root.code == 0, unprivileged.stderr[-1500:]
    verdicts: Any = lambda run: sorted((r["id"], r["status"], r["code"]) for r in run.report["results"])  # noqa: E731
    assert verdicts(unprivileged) == verdicts(as_root)
