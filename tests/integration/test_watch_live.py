"""preflight watch end to end on loopback: the CLI's rounds against real servers whose behaviour the test changes
between rounds (read from the round lines on stderr), and the idle-timeout probe against real TLS servers."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from dnsserver import Behaviour, DnsServer
from helpers import ROOT, cli_env, run_cli, validate_report
from idleserver import IdleServer, MutualTlsServer
from pki import FakePki, write_bundle

SCHEMA = json.loads((ROOT / "reports" / "schema" / "report.schema.json").read_text())


@pytest.fixture(scope="module")
def pki() -> FakePki:
    return FakePki.build()


def listener(address: str, port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, port))
    sock.listen(64)
    return sock


def plain_profile(folder: Path, host: str, port: int) -> Path:
    """A profile of one plain-TCP endpoint (no TLS: the rounds stay short)."""
    path = folder / "plain.toml"
    path.write_text(
        'name = "plain"\n[clock]\nntp_servers = []\n'
        f'[[endpoint]]\nhost = "{host}"\nports = [{port}]\npurpose = "t"\nsource = "t"\ntls = false\n'
    )
    return path


@pytest.fixture
def ok_endpoint(tmp_path: Path) -> Any:
    """ok.test: one open plain-TCP endpoint on loopback, its profile, and a DNS server that names it: the
    profile and DNS options a watch over it takes."""
    server = listener("127.0.0.1", 0)
    profile = plain_profile(tmp_path, "ok.test", server.getsockname()[1])
    with DnsServer({"ok.test": Behaviour(a=("127.0.0.1",))}) as dns:
        yield ["--profile", str(profile), "--dns-server", dns.address, "--only", "dns.*", "--only", "tcp.*"]
    server.close()


def watch(args: list[str], on_round: Any = None, timeout: float = 90) -> tuple[int, dict[str, Any], list[str]]:
    """The CLI's watch as a subprocess; `on_round(number)` is called as each round's line arrives on stderr."""
    command = [sys.executable, "-m", "preflight", "watch", *args]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env())
    lines = []
    assert proc.stderr is not None and proc.stdout is not None
    for line in proc.stderr:
        lines.append(line.rstrip("\n"))
        if line.startswith("round ") and on_round is not None:
            on_round(int(line.split()[1].split("/")[0]))
    out = proc.stdout.read()
    code = proc.wait(timeout)
    report = json.loads(out)
    validate_report(report, SCHEMA)
    return code, report, lines


@pytest.fixture(scope="module")
def flapping(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One real watch: flap.test has two addresses, the second refusing connections in every third round."""
    tmp_path = tmp_path_factory.mktemp("flap")
    first = listener("127.0.0.1", 0)
    port = first.getsockname()[1]
    state: dict[str, socket.socket | None] = {"second": listener("127.0.0.2", port)}

    def before_next(done: int) -> None:
        """Round done+1 starts in about a second: the second address refuses in every third round."""
        refuse = (done + 1) % 3 == 0
        if refuse and state["second"] is not None:
            state["second"].close()
            state["second"] = None
        elif not refuse and state["second"] is None:
            state["second"] = listener("127.0.0.2", port)

    profile = plain_profile(tmp_path, "flap.test", port)
    try:
        with DnsServer({"flap.test": Behaviour(a=("127.0.0.1", "127.0.0.2"))}) as dns:
            code, report, lines = watch(
                [
                    "--profile",
                    str(profile),
                    "--dns-server",
                    dns.address,
                    "--timeout",
                    "1",
                    "--for",
                    "8s",
                    "--every",
                    "1.2s",
                    "--idle-ladder",
                    "none",
                    "--only",
                    "dns.*",
                    "--only",
                    "tcp.*",
                    "--format",
                    "json",
                ],  # fmt: skip (the command line as typed)
                before_next,
            )
    finally:
        first.close()
        if state["second"] is not None:
            state["second"].close()
    saved = tmp_path / "watch.json"
    saved.write_text(json.dumps(report))
    return {"code": code, "report": report, "lines": lines, "port": port, "saved": saved}


def test_an_address_that_fails_every_third_round_is_named_with_its_rate(flapping: dict[str, Any]) -> None:
    code, report, lines, port = flapping["code"], flapping["report"], flapping["lines"], flapping["port"]
    rounds = [line for line in lines if line.startswith("round ")]
    assert len(rounds) == report["watch"]["rounds"] == 7, lines
    assert code == 1
    found = {r["code"]: r for r in report["results"] if r["check"] == "watch.stability"}
    flapping = found["watch.address_intermittent"]
    assert flapping["status"] == "fail"
    assert (
        f"port {port} to 1 of 2 addresses of flap.test fails 29 % of the time (127.0.0.2 29 %)" in flapping["summary"]
    ), flapping["summary"]
    assert flapping["evidence"]["addresses"]["127.0.0.2"]["failed_rounds"] == [3, 6]
    assert flapping["evidence"]["addresses"]["127.0.0.1"]["failed"] == 0
    (tcp,) = [s for s in report["watch"]["series"] if s["check"] == "tcp.connect"]
    assert tcp["rounds"] == 7 and len(tcp["timeline"]) == 7
    assert tcp["latency"]["count"] == 7  # one open connect timed per round
    # the failures' evidence is kept in full: the refused attempt on 127.0.0.2
    failing = [s for s in report["watch"]["samples"] if s["first"]["check"] == "tcp.connect"]
    assert failing and failing[0]["first_round"] == 3 and failing[0]["latest_round"] == 6


def idle_run(
    tmp: Path, pki: FakePki, server: IdleServer | MutualTlsServer, *extra: str
) -> tuple[int, dict[str, Any], list[str]]:
    roots = write_bundle(tmp / "expected.pem", pki.root, pki.ms_root)
    profile = tmp / "idle.toml"
    profile.write_text(
        f'name = "idle"\n[tls]\nexpected_roots = "{roots}"\n[clock]\nntp_servers = []\n'
        f'[[endpoint]]\nhost = "svc.test"\nports = [{server.port}]\npurpose = "t"\nsource = "t"\ntls = true\n'
        'role = "service"\n'
    )
    with DnsServer({"svc.test": Behaviour(a=("127.0.0.1",))}) as dns:
        return watch(
            [
                "--profile",
                str(profile),
                "--dns-server",
                dns.address,
                "--timeout",
                "0.5",
                "--for",
                "7s",
                "--every",
                "3.5s",
                "--only",
                "dns.*",
                "--only",
                "tcp.*",
                "--idle-target",
                f"svc.test:{server.port}",
                "--format",
                "json",
                *extra,
            ]
        )  # fmt: skip (the command line as typed)


def test_the_idle_probe_finds_a_path_that_carries_data_after_every_hold(pki: FakePki, tmp_path: Path) -> None:
    chain, key = pki.server_files(tmp_path, ["svc.test"])
    with IdleServer(chain, key) as server:
        code, report, _lines = idle_run(tmp_path, pki, server, "--idle-ladder", "1s,2s,4s", "--idle-needed", "4s")
        answered = server.answered
    (result,) = [r for r in report["results"] if r["check"] == "watch.idle"]
    assert (result["status"], result["code"]) == ("pass", "idle.ok"), result["summary"]
    assert [h["outcome"] for h in result["evidence"]["holds"]] == ["alive", "alive", "alive"]
    assert result["evidence"]["longest_survived_s"] == 4 and result["evidence"]["path"] == "direct"
    assert answered == 3 and code == 0


def test_the_idle_probe_says_when_the_other_end_closes_an_idle_connection(pki: FakePki, tmp_path: Path) -> None:
    chain, key = pki.server_files(tmp_path, ["svc.test"])
    with IdleServer(chain, key, close_idle_after=2.5) as server:
        _code, report, _lines = idle_run(tmp_path, pki, server, "--idle-ladder", "1s,2s,4s", "--idle-needed", "4m")
    (result,) = [r for r in report["results"] if r["check"] == "watch.idle"]
    assert (result["status"], result["code"]) == ("warn", "idle.closed"), result["summary"]
    outcomes = {h["seconds"]: h for h in result["evidence"]["holds"]}
    assert outcomes[1.0]["outcome"] == outcomes[2.0]["outcome"] == "alive"
    assert outcomes[4.0]["outcome"] == "closed" and 2.0 <= outcomes[4.0]["closed_after_s"] <= 3.5
    assert result["evidence"]["resolution"].startswith("between 2s and ")


def test_a_watch_ended_by_ctrl_c_still_writes_its_report(tmp_path: Path, ok_endpoint: list[str]) -> None:
    import signal
    import time

    report_path = tmp_path / "watch.json"
    options = ["--for", "1h", "--every", "1s", "--quiet", "--format"]
    command = [sys.executable, "-m", "preflight", "watch", *ok_endpoint, *options, f"json={report_path}"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env())
    time.sleep(3.5)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    stopped_in = time.monotonic() - started
    assert proc.returncode == 130, err
    report = json.loads(report_path.read_text())
    validate_report(report, SCHEMA)
    assert report["ended_by"] == "SIGINT" and report["watch"]["ended_by"] == "SIGINT"
    assert report["watch"]["rounds"] >= 2
    assert stopped_in < 10  # the hour-long watch ended at once, not at its next slot
    (idle,) = [r for r in report["results"] if r["check"] == "watch.idle"]
    assert idle["status"] == "skip"


def test_the_table_shows_the_rate_and_the_timeline_of_what_changed(flapping: dict[str, Any]) -> None:
    run = run_cli("show", str(flapping["saved"]))
    assert "Watch: 7 rounds every 1.2s over 8s (one column per round)" in run.stdout
    port = flapping["port"]
    assert f"tcp.connect flap.test:{port}:" in run.stdout  # listed: its per-address outcomes changed
    assert "watch.address_intermittent" in run.stdout


def test_the_html_timeline_renders_in_a_real_browser(flapping: dict[str, Any], tmp_path: Path) -> None:
    from test_html import CHROMIUM_FLAGS, chromium, screenshot

    page = tmp_path / "watch.html"
    assert run_cli("show", str(flapping["saved"]), "--format", f"html={page}").code == 0
    text = page.read_text()
    assert "<script" not in text and "default-src 'none'" in text
    assert "<svg class='timeline'" in text and "<svg class='latency'" in text
    browser = chromium()
    common = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert "Watch: 7 rounds" in dom.stdout, dom.stderr[-2000:]
    cells = re.findall(r'<rect[^>]*data-status="(\w+)"', dom.stdout)
    assert len(cells) == 7 * len(flapping["report"]["watch"]["series"])  # one cell per round and result
    assert "polyline" in dom.stdout  # the latency line of the TCP connects
    screenshot(common, page, tmp_path / "watch-timeline.png")


def test_a_bundle_carries_the_watch_and_its_timeline(tmp_path: Path, ok_endpoint: list[str]) -> None:
    import zipfile

    bundle = tmp_path / "support.zip"
    options = ["--for", "3s", "--every", "1s", "--idle-ladder", "none", "--quiet", "-o"]
    run = run_cli("bundle", "--watch", *ok_endpoint, *options, str(bundle))
    assert run.code == 0, run.stderr
    assert "round 1/4" not in run.stderr  # --quiet: no round lines
    with zipfile.ZipFile(bundle) as archive:
        report = json.loads(archive.read("report.json"))
        page = archive.read("report.html").decode()
    assert report["watch"]["rounds"] == 4
    assert "<svg class='timeline'" in page
    shown = run_cli("show", str(bundle))
    assert shown.code == 0 and "Watch: 4 rounds every 1s over 3s" in shown.stdout
    assert "watch.steady" in shown.stdout


def test_watch_options_without_watch_are_one_line() -> None:
    run = run_cli("bundle", "--for", "5m", "-o", "/tmp/never-written.zip")
    assert run.code == 2
    assert run.stderr.strip() == "preflight: error: --for: a watch option; add --watch to watch instead of one run"
    run = run_cli("watch", "--every", "5x")
    assert run.code == 2 and run.stderr.strip().startswith("preflight: error: --every: '5x' is not a duration")
    run = run_cli("watch", "--for", "10s", "--every", "1m")
    assert run.code == 2 and "a watch needs at least two rounds" in run.stderr


def test_the_idle_probe_holds_its_connections_through_the_connectors_proxy(pki: FakePki, tmp_path: Path) -> None:
    from fakeproxy import FakeProxy

    chain, key = pki.server_files(tmp_path, ["svc.test"])
    with IdleServer(chain, key) as server, FakeProxy(mode="tunnel") as proxy:
        proxy_url = f"http://127.0.0.1:{proxy.port}"
        _code, report, _lines = idle_run(tmp_path, pki, server, "--proxy", proxy_url, "--idle-ladder", "1s,2s",
                                         "--idle-needed", "2s")  # fmt: skip
        answered = server.answered
    (result,) = [r for r in report["results"] if r["check"] == "watch.idle"]
    assert (result["status"], result["code"]) == ("pass", "idle.ok"), result["summary"]
    assert result["evidence"]["path"] == f"via {proxy_url}"
    assert answered == 2
    assert len([r for r in proxy.requests if r.startswith(b"CONNECT svc.test:")]) >= 2  # one tunnel per hold


def test_a_server_that_requires_a_client_certificate_is_not_read_as_an_idle_timeout(
    pki: FakePki, tmp_path: Path
) -> None:
    """Mutual TLS (as the connector's service uses): the TLS 1.3 server ends each session with an alert once it
    sees no client certificate. That is not a middlebox forgetting idle flows: no idle verdict, the reason said."""
    chain, key = pki.server_files(tmp_path, ["svc.test"])
    client_ca = write_bundle(tmp_path / "client-ca.pem", pki.root)
    with MutualTlsServer(chain, key, client_ca) as server:
        _code, report, _lines = idle_run(tmp_path, pki, server, "--idle-ladder", "1s,2s", "--idle-needed", "2s")
    (result,) = [r for r in report["results"] if r["check"] == "watch.idle"]
    assert (result["status"], result["code"]) == ("skip", "idle.unreachable"), result["summary"]
    assert {h["outcome"] for h in result["evidence"]["holds"]} == {"refused"}
    assert "client certificate" in result["summary"] and "CERTIFICATE_REQUIRED" in result["summary"]
