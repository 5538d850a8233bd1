"""Runs the selected checks over the plan: concurrent, bounded, and never hanging or crashing.

Network conditions are findings (a check returns them); bugs are `error` results with a trace. Whatever ends the
run (completion, the deadline, a signal), every planned result exists afterwards: unfinished ones are skips.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from preflight.codes import ENGINE_CODES
from preflight.engine.context import RunContext, RunOptions
from preflight.engine.registry import PluginFailure, with_defaults
from preflight.engine.stall import LoopStalled, guard
from preflight.model import CheckResult, Finding, Status, Target, result_id
from preflight.reporting.policy import root_cause

if TYPE_CHECKING:
    from preflight.check import Check
    from preflight.engine.plan import Plan

RUN_TARGET = Target(host="(run)")
# A check's own network waits are each bounded by --timeout; this only catches checks that ignore that.
WATCHDOG_STAGES = 6
WATCHDOG_MIN_S = 20.0
STALL_MIN_S = 5.0


@dataclasses.dataclass
class RunState:
    """Everything a report needs, filled in as the run goes, so a partial run still has it all."""

    planned: list[tuple[Check, Target]] = dataclasses.field(default_factory=list)
    results: dict[str, CheckResult] = dataclasses.field(default_factory=dict)
    failures: list[CheckResult] = dataclasses.field(default_factory=list)
    ended_by: str | None = None  # None | "deadline" | "SIGINT" | "SIGTERM"
    started_at: float = dataclasses.field(default_factory=time.time)
    finished_at: float | None = None

    def ordered_results(self) -> list[CheckResult]:
        """Every planned result (unfinished ones as skips), plugin failures first."""
        code = "run.deadline" if self.ended_by == "deadline" else "run.interrupted"
        out = list(self.failures)
        for check, target in self.planned:
            rid = result_id(check.id, target)
            result = self.results.get(rid)
            if result is None:
                reason = "the deadline passed" if code == "run.deadline" else "the run was interrupted"
                result = CheckResult(
                    check=check.id,
                    target=target,
                    status=Status.SKIP,
                    code=code,
                    summary=f"not finished: {reason}",
                    remediation=ENGINE_CODES[code].remediation,
                )
            out.append(result)
        return out


def failure_result(failure: PluginFailure) -> CheckResult:
    return CheckResult(
        check=failure.name,
        target=RUN_TARGET,
        status=Status.ERROR,
        code="plugin.load_failed",
        summary=f"plugin {failure.name!r} ({failure.target}) {failure.message}",
        evidence={"plugin": failure.name, "entry_point": failure.target, "group": failure.group},
        remediation=load_failure_fix(failure),
        error=failure.trace or failure.message,
    )


# What an extension module built for another Python (or another platform) raises on import.
_WRONG_BUILD = ("_cffi_backend", "_dukpy", "_rust", "undefined symbol", "cannot open shared object", "DLL load")


def load_failure_fix(failure: PluginFailure) -> str:
    """A built-in check or reporter that does not load is this installation's fault, not a plugin's: most often
    a zipapp or wheelhouse built for another Python minor version (its compiled modules do not import)."""
    built_in = failure.target.startswith(("checks.", "reports."))
    if not built_in:
        return ENGINE_CODES["plugin.load_failed"].remediation
    if any(marker in failure.message + failure.trace for marker in _WRONG_BUILD):
        running = f"{sys.version_info.major}.{sys.version_info.minor}"
        return (
            f"This installation's compiled modules do not load on Python {running}: it was built for another "
            "Python. Run it with the Python it was built for (a zipapp's name says which), or rebuild it with this "
            "one (deploy/build.sh), or reinstall: pip install --force-reinstall connector-preflight."
        )
    return "A built-in part of the tool did not load: reinstall connector-preflight (pip install --force-reinstall)."


ProgressFn = Callable[[CheckResult, int, int], None]


async def execute(
    plan: Plan,
    checks: list[Check],
    failures: list[PluginFailure],
    options: RunOptions,
    state: RunState,
    stop: asyncio.Event,
    progress: ProgressFn | None = None,
    ctx: RunContext | None = None,
) -> None:
    """Runs the checks on the plan under the deadline and signals. `ctx`: the run's context, when earlier stages
    (the PAC evaluation, the tenant lookup) already probed through it; else a new one."""
    state.failures.extend(failure_result(f) for f in failures)
    checks = [with_defaults(check) for check in checks]  # checks handed over directly, not loaded by the registry
    targets_of: dict[str, list[Target]] = {}
    for check in checks:
        try:
            targets_of[check.id] = list(check.targets(plan))
        except Exception:
            state.failures.append(_crash(check, RUN_TARGET, "targets() raised", 0.0))
            targets_of[check.id] = []
    state.planned.extend(_host_major_order(plan, checks, targets_of))

    reusing = {check.id for check in checks if check.reuses_connection}
    if ctx is None:
        ctx = RunContext(plan, options)
    ctx.replan(plan)
    ctx.select(targets_of, reusing)
    # check id → host → its targets: finding a target's upstream results must not scan every target (O(n²)).
    by_host: dict[str, dict[str, list[Target]]] = {}
    for check_id, targets in targets_of.items():
        for planned in targets:
            by_host.setdefault(check_id, {}).setdefault(planned.host, []).append(planned)
    futures: dict[str, asyncio.Future[CheckResult]] = {
        result_id(check.id, target): asyncio.get_running_loop().create_future() for check, target in state.planned
    }
    total = len(state.planned)
    watchdog = max(WATCHDOG_MIN_S, WATCHDOG_STAGES * options.timeout)

    async def run_job(check: Check, target: Target) -> None:
        rid = result_id(check.id, target)
        result = await _run_one(check, target, ctx, futures, targets_of, by_host, watchdog)
        state.results[rid] = result
        futures[rid].set_result(result)
        if progress is not None:
            progress(result, len(state.results), total)

    jobs = [asyncio.ensure_future(run_job(check, target)) for check, target in state.planned]
    everything = asyncio.gather(*jobs, return_exceptions=True)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        waiters: set[asyncio.Future[Any]] = {everything, stopper}
        async with guard(max(STALL_MIN_S, 2 * options.timeout)):
            await asyncio.wait(waiters, timeout=options.deadline, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not everything.done():
            if state.ended_by is None:
                state.ended_by = "deadline" if not stop.is_set() else "SIGINT"
            for job in jobs:
                job.cancel()
            ctx.cancel_probes()
            await asyncio.wait(jobs, timeout=0.5)  # the whole exit must fit in one second
        stopper.cancel()
        ctx.close()
        for future in futures.values():
            if not future.done():
                future.cancel()
        state.finished_at = time.time()


def _host_major_order(
    plan: Plan, checks: list[Check], targets_of: dict[str, list[Target]]
) -> list[tuple[Check, Target]]:
    """Results grouped by host in profile order, then by check in dependency order, then by port."""
    host_rank = {endpoint.host: i for i, endpoint in reversed(list(enumerate(plan.endpoints)))}
    pairs = [(check, target) for check in checks for target in targets_of[check.id]]
    check_rank = {check.id: i for i, check in enumerate(checks)}
    after_every_host = len(plan.endpoints)  # run-wide rows (the tenant, proxy settings, the clock) come last
    return sorted(
        pairs,
        key=lambda pair: (
            host_rank.get(pair[1].host, after_every_host),
            pair[1].host,
            check_rank[pair[0].id],
            pair[1].port or 0,
            pair[1].address or "",
        ),
    )


async def _run_one(
    check: Check,
    target: Target,
    ctx: RunContext,
    futures: dict[str, asyncio.Future[CheckResult]],
    targets_of: dict[str, list[Target]],
    by_host: dict[str, dict[str, list[Target]]],
    watchdog: float,
) -> CheckResult:
    # `after`: wait for those checks to finish (whatever their verdict), e.g. TLS waits for the clock offset.
    for earlier in check.after:
        waits = [futures[result_id(earlier, t)] for t in targets_of.get(earlier, [])]
        if waits:
            await asyncio.wait([asyncio.shield(w) for w in waits])
    for need in check.needs:
        for upstream_target in by_host.get(need, {}).get(target.host, []):
            if not upstream_target.covers(target):
                continue
            upstream = await asyncio.shield(futures[result_id(need, upstream_target)])
            if upstream.status in (Status.FAIL, Status.ERROR, Status.SKIP):
                return _finish(
                    check,
                    target,
                    Finding(
                        Status.SKIP,
                        "run.upstream",
                        f"not run: {upstream.check} on {upstream_target.key} is {upstream.status} ({upstream.code})",
                        remediation=upstream.remediation,
                        caused_by=root_cause(upstream),
                    ),
                    0.0,
                )
    if target.wildcard:
        return _finish(check, target, _engine_finding("target.wildcard", f"{target.host} is a wildcard row"), 0.0)
    if target.missing:
        return _finish(
            check,
            target,
            _engine_finding("target.needs_tenant_id", _needs_tenant(target, ctx.plan)),
            0.0,
        )

    start = time.monotonic()
    try:
        async with asyncio.timeout(watchdog):
            finding: object = await check.run(target, ctx)  # a plugin may return anything
    except TimeoutError:
        finding = Finding(
            Status.ERROR,
            "check.timeout",
            f"{check.id} did not finish within {watchdog:g}s",
            remediation=ENGINE_CODES["check.timeout"].remediation,
        )
    except asyncio.CancelledError:
        raise
    except LoopStalled as exc:
        return _engine_error(check, target, "check.blocked", f"{check.id} {exc}", traceback.format_exc(), start)
    except Exception as exc:
        return _crash(check, target, f"{type(exc).__name__}: {exc}", start)
    if not isinstance(finding, Finding) or not isinstance(finding.status, Status):
        return _bad_result(check, target, f"run() returned {type(finding).__name__}, not a Finding", start)
    if finding.code not in check.codes and finding.code not in ENGINE_CODES:
        return _bad_result(check, target, f"run() returned undocumented code {finding.code!r}", start)
    return _finish(check, target, finding, start)


def _needs_tenant(target: Target, plan: Plan) -> str:
    tenant = plan.tenant
    if tenant is not None and tenant.given and tenant.guid is None:
        return f"{target.template} needs the tenant ID: the lookup of {tenant.given} did not give one"
    return f"{target.template} needs --tenant-id"


def _engine_finding(code: str, summary: str) -> Finding:
    doc = ENGINE_CODES[code]
    return Finding(doc.status, code, summary, remediation=doc.remediation)


def _finish(check: Check, target: Target, finding: Finding, start: float) -> CheckResult:
    return CheckResult(
        check=check.id,
        target=target,
        status=finding.status,
        code=finding.code,
        summary=finding.summary,
        evidence=dict(finding.evidence),
        remediation=finding.remediation,
        caused_by=finding.caused_by,
        duration_ms=round((time.monotonic() - start) * 1000) if start else 0,
        error=finding.summary if finding.status == Status.ERROR else None,
    )


def _engine_error(check: Check, target: Target, code: str, summary: str, error: str, start: float) -> CheckResult:
    return CheckResult(
        check=check.id,
        target=target,
        status=Status.ERROR,
        code=code,
        summary=summary,
        remediation=ENGINE_CODES[code].remediation,
        duration_ms=round((time.monotonic() - start) * 1000) if start else 0,
        error=error,
    )


def _crash(check: Check, target: Target, message: str, start: float) -> CheckResult:
    return _engine_error(
        check, target, "check.crashed", f"{check.id} crashed: {message}", traceback.format_exc(), start
    )


def _bad_result(check: Check, target: Target, message: str, start: float) -> CheckResult:
    return _engine_error(check, target, "check.bad_result", f"{check.id}: {message}", message, start)
