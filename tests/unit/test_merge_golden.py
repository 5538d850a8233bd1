"""`preflight merge` golden outputs: repeated hosts told apart (by time, then by file), cells that say what failed
and where, and the per-host drill-down. Regenerate with UPDATE_GOLDEN=1 after checking a change is intended."""

from __future__ import annotations

import json
import os

import pytest
from helpers import GOLDEN

from preflight.model import CheckResult, Status, Target
from preflight.reporting import merge
from preflight.reporting.report import Report

BOOT = "72f988bf-86f1-41af-91ab-2d7cd011db47.bootstrap.msappproxy.net"


def report(hostname: str, started: float, results: list[CheckResult]) -> Report:
    return Report("0.1.0", {"name": "entra-private-access"}, {"hostname": hostname}, {}, started, 1000, results)


def host(name: str, started: float, path: str, *results: CheckResult) -> merge.FleetHost:
    return merge.FleetHost(name, None, report(name, started, list(results)), origin=path)


def r(check: str, target: str, port: int | None, status: Status, code: str) -> CheckResult:
    return CheckResult(check, Target(target, port), status, code, f"{code} on {target}")


FLEET = [
    # the same machine three times: two runs at different times, and a copy of the second under another name
    host("vm", 1_780_000_000, "runs/before.json", r("dns.resolve", BOOT, None, Status.PASS, "dns.ok"),
         r("tcp.connect", BOOT, 443, Status.PASS, "tcp.open"),
         r("tcp.connect", BOOT, 8398, Status.FAIL, "tcp.filtered"),
         r("tcp.connect", "login.microsoftonline.com", 443, Status.FAIL, "tcp.filtered"),
         r("tcp.connect", "crl3.digicert.com", 80, Status.FAIL, "tcp.filtered"),
         r("tcp.connect", "ocsp.digicert.com", 80, Status.FAIL, "tcp.filtered")),
    host("vm", 1_780_003_600, "runs/after.json", r("dns.resolve", BOOT, None, Status.PASS, "dns.ok"),
         r("tcp.connect", BOOT, 443, Status.PASS, "tcp.open"), r("tcp.connect", BOOT, 8398, Status.PASS, "tcp.open"),
         r("clock.skew", "system clock", None, Status.WARN, "clock.skew_warn")),
    host("vm", 1_780_003_600, "copies/after.json", r("dns.resolve", BOOT, None, Status.PASS, "dns.ok"),
         r("tcp.connect", BOOT, 443, Status.PASS, "tcp.open"), r("tcp.connect", BOOT, 8398, Status.PASS, "tcp.open"),
         r("clock.skew", "system clock", None, Status.WARN, "clock.skew_warn")),
    host("muc-2", 1_780_000_000, "runs/muc-2.json", r("dns.resolve", BOOT, None, Status.FAIL, "dns.nxdomain"),
         r("tcp.connect", BOOT, 443, Status.SKIP, "run.upstream")),
]  # fmt: skip


def test_repeated_hosts_get_rows_that_tell_them_apart() -> None:
    assert merge.labels(FLEET) == ["vm @ 2026-05-28 20:26:40 UTC", "vm @ 2026-05-28 21:26:40 UTC (runs/after.json)",
                                   "vm @ 2026-05-28 21:26:40 UTC (copies/after.json)", "muc-2"]  # fmt: skip


def test_a_cell_says_what_failed_and_where() -> None:
    _checks, rows = merge.matrix(FLEET)
    assert merge._cell(rows[0]["tcp.connect"]) == f"fail (tcp.filtered: {BOOT}:8398, login.microsoftonline.com:443 +2)"
    assert merge._cell(rows[1]["clock.skew"]) == "warn (clock.skew_warn)"
    assert merge._cell(rows[3]["dns.resolve"]) == f"fail (dns.nxdomain: {BOOT})"


@pytest.mark.parametrize(("fmt", "suffix"), [("table", "txt"), ("markdown", "md"), ("json", "json"),
                                               ("html", "html")])  # fmt: skip
def test_merge_golden(fmt: str, suffix: str) -> None:
    text = merge.render(FLEET, fmt)
    path = GOLDEN / f"merge.{suffix}"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"merge output changed: compare with {path.name}"
    if fmt == "json":
        rows = json.loads(text)["hosts"]
        assert len({h["label"] for h in rows}) == len(rows)
        assert rows[0]["checks"]["tcp.connect"]["where"]["tcp.filtered"][0] == f"{BOOT}:8398"
