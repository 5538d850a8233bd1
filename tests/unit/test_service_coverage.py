"""Service coverage as a pure function: which service rows a run left untested, and what that does to the verdict."""

from __future__ import annotations

import pytest

from preflight.model import CheckResult, Status, Target
from preflight.reporting import policy

BOOT = "{tenant_id}.bootstrap.msappproxy.net"
FILLED = "72f988bf-86f1-41af-91ab-2d7cd011db47.bootstrap.msappproxy.net"
ROWS = [(BOOT, 443), (BOOT, 8398), ("*.msappproxy.net", 443), ("*.servicebus.windows.net", 443)]


def result(host: str, port: int | None, status: Status, code: str, check: str = "tcp.connect") -> CheckResult:
    return CheckResult(check, Target(host, port), status, code, "s")


CLEAN = [result("login.microsoftonline.com", 443, Status.PASS, "tcp.open")]


@pytest.mark.parametrize(
    ("rows", "results", "untested", "verdict"),
    [
        # no tenant: the bootstrap rows are placeholders, skipped by the engine
        (ROWS, [*CLEAN, result(BOOT, 443, Status.SKIP, "target.needs_tenant_id"),
                result(BOOT, 8398, Status.SKIP, "target.needs_tenant_id")],
         [(BOOT, 443, "needs_tenant"), (BOOT, 8398, "needs_tenant")], "incomplete"),
        # the tenant filled in and both ports probed: wildcards stay informational
        ([(FILLED, 443), (FILLED, 8398), *ROWS[2:]], [*CLEAN, result(FILLED, 443, Status.PASS, "tcp.open"),
                                                      result(FILLED, 8398, Status.PASS, "tcp.open")], [], "pass"),
        # one port probed, the other filtered out by --only/--skip
        ([(FILLED, 443), (FILLED, 8398)], [*CLEAN, result(FILLED, 443, Status.PASS, "tcp.open")],
         [(FILLED, 8398, "not_selected")], "incomplete"),
        # a warning elsewhere does not hide the gap
        ([(FILLED, 443)], [result("x", 80, Status.WARN, "tcp.partial")], [(FILLED, 443, "not_selected")],
         "incomplete"),
        # a failure on the service host explains the gap itself: fail, and not listed
        ([(FILLED, 443)], [result(FILLED, None, Status.FAIL, "dns.nxdomain", "dns.resolve"),
                           result(FILLED, 443, Status.SKIP, "run.upstream")], [], "fail"),
        # skipped for a non-failing reason upstream (a sinkhole answer is a warning)
        ([(FILLED, 443)], [result(FILLED, None, Status.WARN, "dns.sinkhole", "dns.resolve"),
                           result(FILLED, 443, Status.SKIP, "tcp.no_address")],
         [(FILLED, 443, "skipped")], "incomplete"),
        # the run ran out of time before the service rows
        ([(FILLED, 443)], [*CLEAN, result(FILLED, 443, Status.SKIP, "run.deadline")],
         [(FILLED, 443, "not_finished")], "incomplete"),
        # only wildcards: nothing any run could probe, so nothing is missing
        (ROWS[2:], CLEAN, [], "pass"),
        # through a proxy: the tunnel result counts as probing the row
        ([(FILLED, 8398)], [*CLEAN, result(FILLED, 8398, Status.PASS, "proxy.ok", "proxy.tunnel")], [], "pass"),
    ],
)  # fmt: skip
def test_untested_service_rows(rows: list[tuple[str, int]], results: list[CheckResult],
                               untested: list[tuple[str, int, str]], verdict: str) -> None:  # fmt: skip
    found = policy.untested_service(rows, results)
    assert [(u.host, u.port, u.reason) for u in found] == untested
    assert policy.verdict(results, None, found) == verdict
    expected_exit = {"pass": 0, "fail": 1, "incomplete": 3}[verdict]
    assert policy.exit_code(results, None, untested=found) == expected_exit
    assert policy.exit_code(results, None, strict=True, untested=found) == expected_exit


def test_the_headline_names_the_rows_and_the_one_option_that_fixes_them() -> None:
    found = policy.untested_service(ROWS, [result(BOOT, 443, Status.SKIP, "target.needs_tenant_id")])
    line = policy.describe_untested(found)
    assert line == (f"NOT TESTED: the connector's service path ({BOOT}:443,8398): run again with --tenant-id GUID or "
                    "a domain of the tenant (contoso.onmicrosoft.com).")  # fmt: skip
    assert policy.describe_untested([]) is None
    skipped = policy.untested_service([(FILLED, 443)], [result(FILLED, 443, Status.SKIP, "tcp.no_address")])
    assert f"fix what tcp.no_address reports for {FILLED}" in (policy.describe_untested(skipped) or "")
