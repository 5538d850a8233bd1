"""Outputs that cannot be written: a full disk or an unwritable path is a one-line error naming the output, the
other outputs are still produced, the exit code says so (2), and no partial file is left behind."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import GOLDEN, run_cli

from preflight.reporting.output import write_atomic

SAMPLE = GOLDEN / "sample-report.json"


def test_full_device_is_an_error_and_other_formats_still_come_out(tmp_path: Path) -> None:
    ok = tmp_path / "ok.md"
    run = run_cli("show", str(SAMPLE), "--format", "json=/dev/full", "--format", f"markdown={ok}", "--format", "table")
    assert run.code == 2
    assert "cannot write json report to /dev/full: No space left on device" in run.stderr
    assert ok.read_text().startswith("#") and "closed.test" in run.stdout


def test_unwritable_path_is_an_error_naming_it(tmp_path: Path) -> None:
    ok = tmp_path / "ok.json"
    run = run_cli("show", str(SAMPLE), "--format", "html=/proc/version", "--format", f"json={ok}")
    assert run.code == 2
    assert "cannot write html report to /proc/version" in run.stderr
    assert len([line for line in run.stderr.splitlines() if line.strip()]) == 1
    assert ok.exists()


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs: a real ENOSPC in the middle of a write."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.netns  # needs root (mount); CI runs it
def test_disk_full_mid_write_keeps_the_old_file_and_leaves_no_temp(tiny_disk: Path) -> None:
    target = tiny_disk / "report.json"
    target.write_text("previous report\n")
    with pytest.raises(OSError, match="No space left"):
        write_atomic(target, "x" * (1024 * 1024))
    assert target.read_text() == "previous report\n"
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["report.json"]


@pytest.mark.netns  # needs root (mount); CI runs it
def test_bundle_on_a_full_disk_is_refused_cleanly(tiny_disk: Path, tmp_path: Path) -> None:
    (tiny_disk / "filler").write_bytes(b"\0" * (60 * 1024))
    profile = tmp_path / "p.toml"
    profile.write_text('name = "p"\n[clock]\nntp_servers = []\n[[endpoint]]\nhost = "ok.test"\nports = [443]\n'
                       'purpose = "t"\nsource = "t"\n')  # fmt: skip
    out = tiny_disk / "support.zip"
    run = run_cli("bundle", "--profile", str(profile), "--only", "proxy.effective", "-o", str(out))
    assert run.code == 2, run.stderr
    assert f"cannot write bundle {out}: No space left on device" in run.stderr
    assert "proxy.effective" in run.stdout  # the verdict still came out
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["filler"]


def test_an_unwritable_report_path_is_refused_before_the_run_probes_anything(tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text('name = "p"\n[clock]\nntp_servers = ["127.0.0.1:9"]\n[[endpoint]]\nhost = "127.0.0.1"\n'
                       'ports = [9]\npurpose = "t"\nsource = "t"\n')  # fmt: skip
    run = run_cli("run", "--profile", str(profile), "--format", "json=/proc/report.json", "--format", "table")
    assert run.code == 2 and run.stdout == ""  # refused at once: no check ran, no table
    assert run.stderr.strip().startswith("preflight: error: --format json=/proc/report.json: cannot create files in")
    bundle = run_cli("bundle", "--profile", str(profile), "-o", "/proc/support.zip")
    assert bundle.code == 2 and bundle.stdout == ""
    assert "--output /proc/support.zip: cannot create files in /proc" in bundle.stderr
