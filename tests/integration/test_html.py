"""The HTML report, opened in a real headless Chromium: it renders, shows the verdict first, and makes no fetch."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers import run_cli
from test_reports import saved  # noqa: F401 (the fixture: one real saved run)

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--host-resolver-rules=MAP * ~NOTFOUND", "--window-size=1200,1000",
]  # fmt: skip


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs it)")
        pytest.skip("chromium is not installed")
    return path


def screenshot(command: list[str], page: Path, shot: Path) -> None:
    """A screenshot of the page in the headless browser; kept in PREFLIGHT_SCREENSHOT_DIR (the test artefacts)."""
    subprocess.run([*command, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 10_000
    keep = os.environ.get("PREFLIGHT_SCREENSHOT_DIR")
    if keep:
        shutil.copy(shot, Path(keep) / shot.name)


def test_html_is_self_contained_and_renders_in_chromium(saved: dict[str, Any], tmp_path: Path) -> None:  # noqa: F811
    page = tmp_path / "report.html"
    run = run_cli("show", str(saved["report"]), "--format", f"html={page}")
    assert run.code == 0
    text = page.read_text()
    assert "<script" not in text and "http://" not in text.split("<main>")[0]
    assert "default-src 'none'" in text  # the page may not fetch anything
    # the verdict first, then hosts with failures, the skip-only (wildcard) host last
    assert text.index("Verdict: FAIL") < text.index("<h2>nx.test") < text.index("<h2>*.wild.test")
    assert text.index("<h2>ok.test") < text.index("<h2>*.wild.test")

    browser = chromium()
    profile = tmp_path / "chromium-profile"
    common = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
    dom = subprocess.run([*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert "Verdict: FAIL" in dom.stdout, dom.stderr[-2000:]
    assert "dns.nxdomain" in dom.stdout
    screenshot(common, page, tmp_path / "report.png")
