"""Output is correct whatever the console or pipe encoding is: every format and every command, on a pipe whose
encoding is cp1252 (a redirected Windows console) or ascii, gives the same UTF-8 bytes as on a UTF-8 pipe; with
--ascii (or PREFLIGHT_ASCII=1) no byte is outside ASCII and JSON/HTML still mean the same."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import GOLDEN, cli_env

SAMPLE = GOLDEN / "sample-report.json"
FORMATS = ("table", "json", "junit", "markdown", "html", "firewall", "firewall-md")
COMMANDS = {
    "explain a code": ["explain", "clock.skew_fail"],
    "explain all": ["explain"],
    "checks": ["checks"],
    "profiles": ["profiles"],
    "profiles show": ["profiles", "show", "entra-private-access"],
    "diff": ["diff", str(GOLDEN / "sample-report.json"), str(SAMPLE)],
    "merge": ["merge", str(SAMPLE), "--format", "markdown"],
    "merge table": ["merge", str(SAMPLE)],
    "merge json": ["merge", str(SAMPLE), "--format", "json"],
    "merge html": ["merge", str(SAMPLE), "--format", "html"],
    "diff json": ["diff", str(SAMPLE), str(SAMPLE), "--format", "json"],
    "version": ["--version"],
    "help": ["run", "--help"],
}


def cli(*args: str, encoding: str | None = None, **env: str) -> subprocess.CompletedProcess[bytes]:
    extra = {"PYTHONIOENCODING": encoding} if encoding else {}
    return subprocess.run([sys.executable, "-m", "preflight", *args], capture_output=True, timeout=60,
                          env=cli_env(**extra, **env))  # fmt: skip


def utf8(args: list[str]) -> bytes:
    run = cli(*args, encoding="utf-8")
    assert b"Traceback" not in run.stderr, run.stderr.decode()
    return run.stdout


@pytest.mark.parametrize("encoding", ["cp1252", "ascii", None])
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_is_utf8_on_any_pipe(fmt: str, encoding: str | None) -> None:
    run = cli("show", str(SAMPLE), "--format", fmt, encoding=encoding)
    assert run.returncode == 0 and b"Traceback" not in run.stderr, run.stderr.decode()
    assert run.stdout == utf8(["show", str(SAMPLE), "--format", fmt])
    run.stdout.decode("utf-8")  # and it is UTF-8, as the HTML and JSON declare


@pytest.mark.parametrize("encoding", ["cp1252", "ascii"])
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_survives_any_pipe_encoding(name: str, encoding: str) -> None:
    args = COMMANDS[name]
    run = cli(*args, encoding=encoding)
    assert b"Traceback" not in run.stderr, run.stderr.decode()
    assert run.stdout == utf8(args)


@pytest.mark.parametrize("fmt", FORMATS)
def test_ascii_never_emits_a_non_ascii_byte_and_keeps_the_meaning(fmt: str) -> None:
    run = cli("--ascii", "show", str(SAMPLE), "--format", fmt, encoding="cp1252")
    assert run.returncode == 0, run.stderr.decode()
    assert run.stdout.isascii() and run.stderr.isascii()
    full = utf8(["show", str(SAMPLE), "--format", fmt]).decode()
    if fmt == "json":
        assert json.loads(run.stdout) == json.loads(full)  # escapes, not lookalikes
    elif fmt == "table":
        assert "->" in run.stdout.decode() and "`- tcp.connect" in run.stdout.decode()


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_ascii_for_every_command_also_after_the_subcommand_and_from_the_environment(name: str) -> None:
    args = COMMANDS[name]
    for run in (cli("--ascii", *args), cli(*args[:1], "--ascii", *args[1:]), cli(*args, PREFLIGHT_ASCII="1")):
        assert run.stdout.isascii() and run.stderr.isascii(), (name, run.stderr.decode())
        assert b"Traceback" not in run.stderr


def test_a_real_run_on_a_cp1252_pipe_and_to_files(tmp_path: Path) -> None:
    """The reproduction from the issue: `PYTHONIOENCODING=cp1252 preflight run > x` lost the whole report."""
    from dnsserver import Behaviour, DnsServer
    from helpers import free_port

    profile = tmp_path / "p.toml"
    profile.write_text(f'name = "encoding"\n[clock]\nntp_servers = []\n[[endpoint]]\nhost = "closed.test"\n'
                       f'ports = [{free_port()}]\npurpose = "Zeichen: é → ✓"\nsource = "tests"\n')  # fmt: skip
    report = tmp_path / "report.html"
    with DnsServer({"closed.test": Behaviour(a=("127.0.0.1",))}) as dns:
        run = cli("run", "--profile", str(profile), "--dns-server", dns.address, "--timeout", "1", "--format",
                  "table", "--format", f"html={report}", encoding="cp1252")  # fmt: skip
    assert run.returncode == 1, run.stderr.decode()  # the port refuses: a fail, and a complete report
    table = run.stdout.decode("utf-8")
    assert "closed.test → 127.0.0.1" in table and "verdict: FAIL" in table
    page = report.read_bytes().decode("utf-8")
    assert "<meta charset='utf-8'>" in page and "closed.test → 127.0.0.1" in page


@pytest.mark.parametrize("encoding", ["cp1252", "ascii"])
def test_a_bundle_on_any_pipe_encoding(tmp_path: Path, encoding: str) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text('name = "encoding"\n[clock]\nntp_servers = []\n[[endpoint]]\nhost = "127.0.0.1"\n'
                       'ports = [9]\npurpose = "é → ✓"\nsource = "tests"\n')  # fmt: skip
    run = cli("bundle", "--profile", str(profile), "--only", "proxy.effective", "-o", str(tmp_path / "b.zip"),
              encoding=encoding)  # fmt: skip
    assert run.returncode == 0 and b"Traceback" not in run.stderr, run.stderr.decode()
    assert b"bundle written" in run.stderr and (tmp_path / "b.zip").exists()
    run.stdout.decode("utf-8")
