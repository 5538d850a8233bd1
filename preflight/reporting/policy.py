"""From results to a verdict and an exit code automation can trust. Pure functions."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Sequence

from preflight.model import CheckResult, Status

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3
EXIT_SIGNAL = {"SIGINT": 130, "SIGTERM": 143, "SIGBREAK": 149}  # 128 + the signal number; SIGBREAK is Windows' 21


def counts(results: Iterable[CheckResult]) -> dict[str, int]:
    tally = Counter(r.status for r in results)
    return {status.value: tally.get(status, 0) for status in Status}


@dataclasses.dataclass(frozen=True)
class Untested:
    """A row carrying the connector's service traffic that the run did not probe, and why."""

    host: str
    port: int
    reason: str  # needs_tenant | not_selected | not_finished | skipped
    code: str | None = None  # the skip code behind `skipped`

    @property
    def key(self) -> str:
        return f"{self.host}:{self.port}"


def untested_service(service_rows: Sequence[tuple[str, int]], results: Iterable[CheckResult]) -> list[Untested]:
    """The concrete service rows (host, port) without any evaluated result on that host and port.

    Wildcard rows stay informational: no run can probe them, and their concrete members (the tenant's bootstrap
    name) stand for them. A host with a fail or error anywhere is not listed: that finding already explains it.
    """
    evaluated: set[tuple[str, int | None]] = set()
    failed_hosts: set[str] = set()
    skips: dict[tuple[str, int | None], list[str]] = {}
    for result in results:
        key = (result.target.host, result.target.port)
        if result.status.evaluated:
            evaluated.add(key)
        else:
            skips.setdefault(key, []).append(result.code)
        if result.status in (Status.FAIL, Status.ERROR):
            failed_hosts.add(result.target.host)
    out: list[Untested] = []
    for host, port in dict.fromkeys(service_rows):
        if host.startswith("*.") or (host, port) in evaluated or host in failed_hosts:
            continue
        codes = skips.get((host, port), [])
        if "{" in host or "target.needs_tenant_id" in codes:
            out.append(Untested(host, port, "needs_tenant"))
        elif not codes:
            out.append(Untested(host, port, "not_selected"))
        elif {"run.deadline", "run.interrupted"} & set(codes):
            out.append(Untested(host, port, "not_finished"))
        else:
            out.append(Untested(host, port, "skipped", sorted(set(codes))[0]))
    return out


def verdict(results: list[CheckResult], ended_by: str | None = None, untested: Sequence[Untested] = ()) -> str:
    """pass | warn | fail | error | incomplete | inconclusive. A skip never counts as a pass, and neither does a
    run that left the connector's service path untested."""
    statuses = {r.status for r in results}
    if Status.FAIL in statuses:
        return "fail"
    if Status.ERROR in statuses:
        return "error"
    if ended_by is not None:
        return "incomplete"
    if not any(s.evaluated for s in statuses):
        return "inconclusive"
    if untested:
        return "incomplete"
    if Status.WARN in statuses:
        return "warn"
    return "pass"


def exit_code(
    results: list[CheckResult], ended_by: str | None = None, *, strict: bool = False, untested: Sequence[Untested] = ()
) -> int:
    if ended_by in EXIT_SIGNAL:
        return EXIT_SIGNAL[ended_by]
    outcome = verdict(results, ended_by, untested)
    if outcome == "fail" or (strict and outcome == "warn"):
        return EXIT_FAIL
    if outcome in ("error", "incomplete", "inconclusive"):
        return EXIT_INCOMPLETE
    return EXIT_OK


def root_cause(result: CheckResult) -> str:
    """The id a downstream skip should point at: the upstream result's own root cause, or itself."""
    if result.status == Status.SKIP and result.caused_by:
        return result.caused_by
    return result.id


_UNTESTED_FIX = {
    "needs_tenant": "run again with --tenant-id GUID or a domain of the tenant (contoso.onmicrosoft.com)",
    "not_selected": "run again without the --only/--skip patterns that leave out tcp.connect, proxy.tunnel and tls.*",
    "not_finished": "run again with a longer --deadline",
}


def describe_untested(
    untested: Sequence[Untested],
    *,
    tenant_given: str | None = None,
    tenant_result: CheckResult | None = None,
    diagnosed: bool = False,
) -> str | None:
    """One line for the top of a report: which service rows were not tested, and the one thing that fixes it.
    Never what the admin already did: when the tenant was given and its lookup failed, that failure (and, when
    the diagnosis names the host's cause, that cause) is the fix, not "run again with --tenant-id"."""
    if not untested:
        return None
    ports: dict[str, list[str]] = {}
    for row in untested:
        ports.setdefault(row.host, []).append(str(row.port))
    rows = ", ".join(f"{host}:{','.join(found)}" for host, found in ports.items())
    first = untested[0]
    fix = _UNTESTED_FIX.get(first.reason) or f"fix what {first.code} reports for {first.host}"
    if first.reason == "needs_tenant" and tenant_given:
        why = f"{tenant_result.code}: {tenant_result.summary}" if tenant_result is not None else "it did not finish"
        fix = f"the tenant {tenant_given} was given, but its lookup failed ({why})"
        fix += "; fix the cause above first, then run again" if diagnosed else "; fix that, then run again"
    return f"NOT TESTED: the connector's service path ({rows}): {fix}."
