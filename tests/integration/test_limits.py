"""Limits a run keeps whatever it is given: a low descriptor limit (the slots and connects shrink to fit, no probe
fails with EMFILE), a DNS answer of 4,000 records (the first 16 per family are probed), a profile larger than the
tool takes (refused in one line). On loopback; run_cli's timeout is the hang guard, never a measurement."""

from __future__ import annotations

import json
import resource
import socket
from pathlib import Path

from dnsserver import Behaviour, DnsServer
from helpers import CliRun, run_cli, run_cli_limited


def _profile(path: Path, names: list[str], ports: list[int]) -> Path:
    rows = "".join(
        f'[[endpoint]]\nhost = "{name}"\nports = {ports}\npurpose = "p"\nsource = "s"\ntls = false\n' for name in names
    )
    path.write_text('name = "limits"\n[clock]\nntp_servers = []\n' + rows)
    return path


def _run_capped(args: list[str], descriptors: int) -> CliRun:
    return run_cli_limited(*args, limits={resource.RLIMIT_NOFILE: descriptors})


def test_a_low_descriptor_limit_shrinks_the_run_instead_of_failing_probes(tmp_path: Path) -> None:
    names = [f"h{i}.test" for i in range(500)]
    silent = socket.socket()  # a full backlog: connects to it wait for their timeout (the sockets stay open)
    silent.bind(("127.0.0.1", 0))
    silent.listen(0)
    fillers = []
    for _ in range(4):  # fill the backlog: later SYNs are dropped, as a firewall would
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(silent.getsockname())
        fillers.append(filler)
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen(4096)
    try:
        with DnsServer({name: Behaviour(a=("127.0.0.1",)) for name in names}) as dns:
            profile = _profile(tmp_path / "p.toml", names, [silent.getsockname()[1], listening.getsockname()[1]])
            run = _run_capped(["run", "--profile", str(profile), "--dns-server", dns.address, "--timeout", "1",
                               "--deadline", "100", "--format", "json", "--quiet"], descriptors=48)  # fmt: skip
    finally:
        for sock in (silent, listening, *fillers):
            sock.close()
    assert run.code == 1, run.stderr
    report = json.loads(run.stdout)
    codes: dict[str, int] = {}
    for result in report["results"]:
        codes[result["code"]] = codes.get(result["code"], 0) + 1
    text = json.dumps(report)
    assert "Too many open files" not in text and "EMFILE" not in text
    assert codes.get("dns.ok") == 500, codes  # before: a quarter were dns.error, the resolver's socket refused
    assert codes.get("tcp.open") == 500 and codes.get("tcp.filtered") == 500, codes


def test_a_dns_answer_of_4000_records_is_probed_on_its_first_16_addresses(tmp_path: Path) -> None:
    many = tuple(f"127.0.{i // 250}.{1 + i % 250}" for i in range(4000))
    listening = socket.socket()
    listening.bind(("0.0.0.0", 0))
    listening.listen(64)
    try:
        with DnsServer({"many.test": Behaviour(a=many, truncate=True)}) as dns:
            profile = _profile(tmp_path / "p.toml", ["many.test"], [listening.getsockname()[1]])
            run = run_cli("run", "--profile", str(profile), "--dns-server", dns.address, "--timeout", "2",
                          "--format", "json", timeout=60)  # fmt: skip
    finally:
        listening.close()
    resolve = run.result("dns.resolve", "many.test")
    assert resolve["code"] == "dns.ok" and "3,984 more addresses in the answer are not probed" in resolve["summary"]
    assert resolve["evidence"]["addresses_not_probed"] == 3984
    key = f"many.test:{profile.read_text().split('ports = [')[1].split(']')[0]}"
    connect = run.result("tcp.connect", key)
    assert connect["code"] == "tcp.open", connect["summary"]  # before: check.timeout, 4,000 paced connects
    assert len(connect["evidence"]["attempts"]) == 16


def test_a_profile_larger_than_the_tool_takes_is_refused_in_one_line(tmp_path: Path) -> None:
    profile = _profile(tmp_path / "big.toml", [f"h{i}.test" for i in range(10_001)], [443])
    run = run_cli("run", "--profile", str(profile), timeout=60)
    assert run.code == 2 and run.stderr.count("\n") == 1, run.stderr
    assert "10,001 rows: a profile holds at most 10,000" in run.stderr
