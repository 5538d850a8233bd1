"""Report files are written atomically, and writing to a device never replaces it."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from helpers import GOLDEN

from preflight.reporting.output import write_atomic


def test_regular_file_is_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text("old")
    write_atomic(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temp file left behind


def test_failed_write_leaves_the_old_file_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "report.json"
    target.write_text("old")

    def boom(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError):
        write_atomic(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_dev_null_stays_a_device() -> None:
    write_atomic(Path(os.devnull), "discarded")
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_a_fifo_is_written_in_place(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    write_atomic(fifo, "through the pipe")
    reader.join(5)
    assert received == [b"through the pipe"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_the_table_fits_the_width_and_wraps_the_finding_column() -> None:

    from preflight.reporting.report import load
    from reports.table import TableReporter

    report = load(str(GOLDEN / "sample-report.json"))
    for width in (80, 100, 160):
        text = TableReporter(width).render(report)
        assert max(len(line) for line in text.splitlines()) <= width
        assert "certificate for clean.test issued by" in " ".join(text.split())  # wrapped, not cut
