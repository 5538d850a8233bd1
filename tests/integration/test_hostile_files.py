"""Hostile input that is not from the network: option values, profiles, saved reports and bundles shaped to hang,
exhaust or crash the tool. Each is one clear line naming what and where (exit 2), within bounded time and memory,
and what could still come out comes out."""

from __future__ import annotations

import json
import os
import resource
import struct
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest
from dnsserver import Behaviour, DnsServer
from helpers import run_cli, run_cli_limited

PROFILE = (
    'name = "hostile"\n[clock]\nntp_servers = []\n[[endpoint]]\nhost = "ok.test"\nports = [9]\npurpose = "p"\n'
    'source = "s"\n'
)


def one_line_error(run: Any, *words: str) -> None:
    assert run.code == 2, (run.code, run.stdout, run.stderr)
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("preflight: error:"), run.stderr
    assert "Traceback" not in run.stderr
    for word in words:
        assert word in lines[0], lines[0]


# Names that almost match the host-name pattern: the pattern this replaced backtracked exponentially on them (a
# trailing slash after 30 characters ran for minutes). run_cli's timeout is the hang guard.
ALMOST = ["host/", "a" * 40 + "/", "ab-" * 20 + "/", "x{tenant_id}" * 8 + "/", "-" * 50, "a." * 60 + "/"]


@pytest.mark.parametrize("name", ALMOST)
def test_an_endpoint_that_almost_matches_is_refused_at_once(name: str) -> None:
    one_line_error(run_cli("run", "--endpoint", f"{name}:443", "--only", "dns.*", timeout=20), "--endpoint")


@pytest.mark.parametrize("name", ALMOST[:3])
def test_an_ntp_server_or_profile_host_that_almost_matches_is_refused_at_once(name: str, tmp_path: Path) -> None:
    one_line_error(run_cli("run", "--ntp-server", name, "--only", "clock.*", timeout=20), "--ntp-server")
    profile = tmp_path / "p.toml"
    profile.write_text(PROFILE.replace('"ok.test"', json.dumps(name)))
    one_line_error(run_cli("run", "--profile", str(profile), timeout=20), str(profile), "host")
    profile.write_text(PROFILE + f"[tenant]\ncloud_instance_name = {json.dumps(name)}\n")
    one_line_error(run_cli("run", "--profile", str(profile), timeout=20), "cloud_instance_name")


@pytest.mark.parametrize(
    ("option", "value"),
    [("--timeout", "nan"), ("--timeout", "NaN"), ("--deadline", "nan"), ("--timeout", "inf"), ("--deadline", "-inf")],
)
def test_timeouts_must_be_finite_numbers(option: str, value: str) -> None:
    one_line_error(run_cli("run", option, value, timeout=20), option)


def test_profile_numbers_must_be_finite(tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text(PROFILE.replace("ntp_servers = []", "ntp_servers = []\nwarn_s = nan"))
    one_line_error(run_cli("run", "--profile", str(profile), timeout=20), str(profile), "nan")


def test_a_profile_nested_100000_deep_names_the_file(tmp_path: Path) -> None:
    profile = tmp_path / "deep.toml"
    profile.write_text(PROFILE + "[checks.x]\ny = " + "[" * 100_000 + "]" * 100_000 + "\n")
    one_line_error(run_cli("run", "--profile", str(profile), timeout=30), str(profile), "nested")


def test_a_profile_too_large_is_refused_unread(tmp_path: Path) -> None:
    profile = tmp_path / "huge.toml"
    with profile.open("wb") as handle:
        handle.write(PROFILE.encode())
        handle.truncate(50 * 1024 * 1024)
    one_line_error(run_cli("run", "--profile", str(profile), timeout=30), str(profile), "larger than 4 MiB")


@pytest.mark.parametrize("roots", ["../../../../../../../etc/passwd", "empty.pem", "notes.txt"])
def test_expected_roots_without_a_certificate_is_refused(tmp_path: Path, roots: str) -> None:
    (tmp_path / "empty.pem").write_text("")
    (tmp_path / "notes.txt").write_text("not a certificate\n" * 10)
    profile = tmp_path / "p.toml"
    profile.write_text(PROFILE.replace("[clock]", f"[tls]\nexpected_roots = {json.dumps(roots)}\n[clock]"))
    if roots.endswith("passwd") and not Path("/etc/passwd").is_file():
        pytest.skip("no /etc/passwd on this system")
    one_line_error(run_cli("run", "--profile", str(profile), timeout=20), "expected_roots", "no PEM certificate")


def test_a_report_nested_100000_deep_names_the_file(tmp_path: Path) -> None:
    report = tmp_path / "deep.json"
    report.write_text("[" * 100_000 + "]" * 100_000)
    one_line_error(run_cli("show", str(report), timeout=30), str(report), "nested")
    saved = json.loads((Path(__file__).parent.parent / "golden" / "sample-report.json").read_text())
    nested: Any = "x"
    for _ in range(500):  # within the parser's reach, beyond a report's shape and the renderers' recursion
        nested = {"n": nested}
    saved["results"][0]["evidence"]["deep"] = nested
    report.write_text(json.dumps(saved))
    one_line_error(run_cli("show", str(report), timeout=30), str(report), "levels deep")


def test_a_report_larger_than_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    report = tmp_path / "huge.json"
    with report.open("wb") as handle:
        handle.truncate(300 * 1024 * 1024)  # sparse: no disk, but the size a reader would have to hold
    one_line_error(_limited("show", str(report)), str(report), "larger than 256 MiB")


def test_a_report_with_nan_is_refused_as_not_json(tmp_path: Path) -> None:
    saved = json.loads((Path(__file__).parent.parent / "golden" / "sample-report.json").read_text())
    saved["duration_ms"] = float("nan")
    report = tmp_path / "nan.json"
    report.write_text(json.dumps(saved))
    one_line_error(run_cli("show", str(report), timeout=30), str(report), "NaN")


def _bomb(path: Path) -> None:
    """A bundle whose report.json declares 10 bytes and inflates to 1 GiB (a valid manifest beside it)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = b"\0" * (1 << 20)
    stream = b"".join(packer.compress(zeros) for _ in range(1024)) + packer.flush()
    manifest = json.dumps({"format": "connector-preflight-bundle", "version": 1, "files": []}).encode()
    members = [(b"manifest.json", zlib.compress(manifest)[2:-4], zlib.crc32(manifest), len(manifest)),
               (b"report.json", stream, 0, 10)]  # fmt: skip
    out = bytearray()
    central = bytearray()
    for name, payload, crc, size in members:
        offset = len(out)
        out += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(payload), size, len(name), 0)
        out += name + payload
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(payload), size, len(name),
                               0, 0, 0, 0, 0, offset) + name  # fmt: skip
    start = len(out)
    out += central + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central), start, 0)
    path.write_bytes(bytes(out))


def _limited(*args: str) -> Any:
    """The CLI with its address space capped at 1 GiB."""
    return run_cli_limited(*args, limits={resource.RLIMIT_AS: 1024 * 1024 * 1024}, timeout=60)


def test_a_bundle_member_that_lies_about_its_size_is_refused_without_inflating_it(tmp_path: Path) -> None:
    bundle = tmp_path / "bomb.zip"
    _bomb(bundle)
    run = _limited("show", str(bundle))
    one_line_error(run, str(bundle))
    assert "MemoryError" not in run.stderr


def test_a_profile_path_that_is_not_utf8_still_gives_a_json_report(tmp_path: Path) -> None:
    folder = os.fsencode(tmp_path)
    path = os.path.join(folder, b"caf\xe9-\xff.toml")
    if sys.platform == "darwin":
        pytest.skip("macOS file systems refuse names that are not UTF-8")
    with open(path, "wb") as handle:
        handle.write(PROFILE.encode())
    with DnsServer({"ok.test": Behaviour(a=("127.0.0.1",))}) as dns:
        run = run_cli("run", "--profile", os.fsdecode(path), "--dns-server", dns.address, "--timeout", "1",
                      "--format", "json", timeout=60)  # fmt: skip
    assert run.code in (0, 1), run.stderr
    report = run.report
    assert report["profile"]["name"] == "hostile"
    assert "\ufffd" in report["profile"]["origin"]  # the bytes that are no text, shown as replacement characters
