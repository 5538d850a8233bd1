"""preflight watch in the namespace lab: the unmodified CLI's rounds against real middleboxes that change between
rounds (the test changes the router's nftables rules when a round's line arrives on stderr), and a stateful
firewall that forgets idle flows (the router's conntrack established timeout set to seconds)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import ROOT, cli_env, validate_report
from lab.topology import LAB_NETWORKS, ROUTER_HOST_SIDE
from lab.world import PROXY_URL, SERVICE6, TENANT, LabSpec, LabWorld, SquidSpec, lab_pki, lab_world

pytestmark = pytest.mark.netns

BOOT = f"{TENANT}.bootstrap.msappproxy.net"
SCHEMA = json.loads((ROOT / "reports" / "schema" / "report.schema.json").read_text())
CONNTRACK_IDLE_S = 5
# A stateful firewall: established flows pass, a new flow must start with a SYN; anything else (a packet of a
# flow whose state expired) is dropped, or refused with a reset.
STATEFUL = """
ct state established,related accept
meta l4proto { udp, icmp, ipv6-icmp } accept
tcp flags & (syn | ack) == syn ct state new accept
"""


def profile(folder: Path) -> Path:
    """One service row (the tenant's bootstrap name, 443): rounds stay short."""
    roots = lab_pki()[1] / "expected-roots.pem"
    path = folder / "watch-lab.toml"
    path.write_text(
        f'name = "watch-lab"\n[tls]\nexpected_roots = "{roots}"\n[clock]\nntp_servers = []\n'
        f'[[endpoint]]\nhost = "{BOOT}"\nports = [443]\npurpose = "t"\nsource = "t"\ntls = true\nrole = "service"\n'
    )
    return path


def typed(tmp_path: Path, options: str, *checks: str) -> list[str]:
    """The watch's command line as typed (`options` split on spaces) over the one-row profile; the rounds run the
    DNS and TCP checks unless `checks` says otherwise."""
    selected = [arg for pattern in checks or ("dns.*", "tcp.*") for arg in ("--only", pattern)]
    return ["--profile", str(profile(tmp_path)), *selected, *options.split()]


def watch(lab: LabWorld, args: list[str], on_round: Callable[[int], None] | None = None) -> dict[str, Any]:
    """The CLI's watch in the lab's host namespace; `on_round(n)` runs as round n's line arrives."""
    env = cli_env(PREFLIGHT_GUARD_ALLOW=LAB_NETWORKS, PREFLIGHT_GUARD_ALLOW_NAMES="1")
    command = [*lab.topo.prefix(lab.topo.host), sys.executable, "-m", "preflight", "watch", *args, "--format", "json"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stderr is not None and proc.stdout is not None
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if line.startswith("round ") and on_round is not None:
            on_round(int(line.split()[1].split("/")[0]))
    out = proc.stdout.read()
    proc.wait(60)
    assert out, "".join(lines)[-3000:]
    report: dict[str, Any] = json.loads(out)
    validate_report(report, SCHEMA)
    report["_stderr"] = "".join(lines)
    return report


def only(report: dict[str, Any], check: str) -> list[dict[str, Any]]:
    return [r for r in report["results"] if r["check"] == check]


def toggler(lab: LabWorld, table: str, chain_spec: str, rule: str, on: Callable[[int], bool]) -> Callable[[int], None]:
    """Between rounds: the rule in its own table on the router while `on(next round)`, flushed otherwise."""
    lab.topo.firewall(lab.topo.router, f"table {table} {{\n  chain c {{\n    {chain_spec}\n  }}\n}}\n")
    family, name = table.split()

    def before_next(done: int) -> None:
        lab.topo.ns_exec(lab.topo.router, "nft", "flush", "chain", family, name, "c")
        if on(done + 1):
            lab.topo.ns_exec(lab.topo.router, "nft", "add", "rule", family, name, "c", *rule.split())

    return before_next


@pytest.mark.parametrize("refusal", ["drop", "reject with tcp reset"])
def test_a_firewall_that_forgets_idle_flows_is_found_within_the_ladders_resolution(
    tmp_path: Path, refusal: str
) -> None:
    with lab_world(LabSpec(router_rules=STATEFUL + refusal)) as lab:
        # per namespace: only the router's flows forget after a few seconds idle
        lab.topo.ns_exec(lab.topo.router, "sysctl", "-qw",
                         f"net.netfilter.nf_conntrack_tcp_timeout_established={CONNTRACK_IDLE_S}")  # fmt: skip
        report = watch(
            lab,
            typed(tmp_path, "--timeout 1.5 --for 16s --every 8s --idle-ladder 2s,4s,6s,8s --idle-needed 4m"),
        )
    (idle,) = only(report, "watch.idle")
    expected = "idle.dropped" if refusal == "drop" else "idle.reset"
    assert (idle["status"], idle["code"]) == ("fail", expected), idle["summary"]
    holds = {h["seconds"]: h["outcome"] for h in idle["evidence"]["holds"]}
    failed = "dropped" if refusal == "drop" else "reset"
    assert holds == {2.0: "alive", 4.0: "alive", 6.0: failed, 8.0: failed}, idle["evidence"]["holds"]
    assert idle["evidence"]["resolution"] == "between 4s and 6s"  # the router forgets after 5 s
    assert idle["evidence"]["path"] == "direct"
    assert report["summary"]["exit_code"] == 1
    # the rounds themselves were fine: only the idle probe sees this firewall
    assert [r["code"] for r in only(report, "watch.stability")] == ["watch.steady"]


def test_a_connection_the_firewall_keeps_state_for_survives_every_hold(tmp_path: Path) -> None:
    with lab_world(LabSpec(router_rules=STATEFUL + "drop")) as lab:
        report = watch(
            lab,
            typed(tmp_path, "--timeout 1.5 --for 12s --every 6s --idle-ladder 2s,4s,6s --idle-needed 5s"),
        )
    (idle,) = only(report, "watch.idle")
    assert (idle["status"], idle["code"]) == ("pass", "idle.ok"), idle["summary"]


def test_an_address_black_holed_every_third_round_is_named_with_its_rate(tmp_path: Path) -> None:
    with lab_world() as lab:
        flip = toggler(
            lab,
            "inet flap",
            "type filter hook forward priority -10;",
            f"ip6 daddr {SERVICE6} tcp dport 443 drop",
            lambda n: n % 3 == 0,
        )
        report = watch(
            lab,
            typed(tmp_path, "--timeout 1 --for 10s --every 2s --idle-ladder none"),
            flip,
        )
    assert report["watch"]["rounds"] == 6, report["_stderr"]
    (found,) = [r for r in only(report, "watch.stability") if r["code"] == "watch.address_intermittent"]
    assert f"port 443 to 1 of 2 addresses of {BOOT} fails 33 % of the time ({SERVICE6} 33 %)" in found["summary"]
    assert found["evidence"]["addresses"][SERVICE6]["failed_rounds"] == [3, 6]
    assert found["evidence"]["addresses"][SERVICE6]["outcomes"].get("filtered") == 2  # silent: a black hole
    assert report["summary"]["exit_code"] == 1


def test_one_member_of_a_proxy_pool_that_inspects_tls_is_seen_across_rounds(tmp_path: Path) -> None:
    """The proxy address is a pool: in some rounds the load balancer (a nat rule on the router) sends the
    connector's connections to a member that re-signs TLS (mitmproxy), in the others to one that does not
    (squid)."""
    with lab_world(LabSpec(squid=SquidSpec(), mitmproxy_explicit=True)) as lab:
        flip = toggler(
            lab,
            "ip pool",
            "type nat hook prerouting priority -100;",
            f"ip daddr {ROUTER_HOST_SIDE} tcp dport 3128 redirect to :8082",
            lambda n: n % 2 == 0,
        )
        report = watch(
            lab,
            typed(
                tmp_path,
                f"--proxy {PROXY_URL} --timeout 2 --for 12s --every 3s --idle-ladder none",
                "dns.*",
                "tcp.*",
                "proxy.*",
                "tls.*",
            ),
            flip,
        )
    assert report["watch"]["rounds"] == 5, report["_stderr"]
    (found,) = [r for r in only(report, "watch.stability") if r["code"] == "watch.intercepted_sometimes"]
    assert found["target"]["host"] == BOOT and found["evidence"]["path"] == f"via {PROXY_URL}"
    assert f"via {PROXY_URL} was re-signed in 2 of 5 rounds and clean in 3" in found["summary"], found["summary"]
    assert report["summary"]["exit_code"] == 1
