"""The rounds of a watch: `app.run` on the schedule with the same request (profile, route, timeouts and deadline
each round), every round folded into the WatchLog as it ends, the idle-timeout probe held on a thread of its own
alongside, and one report at the end: the last round's results, the watch's own findings, and the summary under
"watch". Ctrl-C or SIGTERM ends the round in progress (its partial results count) and the watch, and the report
is still written."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from preflight import signals
from preflight.model import CheckResult, Status
from preflight.watch import idle as idle_mod
from preflight.watch.codes import IDLE_CHECK, IDLE_CODES
from preflight.watch.schedule import Schedule
from preflight.watch.series import WatchLog
from preflight.watch.verdict import judge

if TYPE_CHECKING:
    from preflight import app


@dataclasses.dataclass(frozen=True)
class IdleOptions:
    ladder_s: Sequence[float] = idle_mod.DEFAULT_LADDER_S
    needed_s: float = idle_mod.DEFAULT_NEEDED_S
    targets: Sequence[tuple[str, int]] = ()  # --idle-target; empty: the plan's concrete service rows


@dataclasses.dataclass(frozen=True)
class WatchRequest:
    run: app.RunRequest
    schedule: Schedule
    idle: IdleOptions | None = IdleOptions()


@dataclasses.dataclass(frozen=True)
class RoundInfo:
    number: int
    planned: int
    started_at: float
    duration_s: float
    counts: dict[str, int]
    ended_by: str | None
    missed: int


@dataclasses.dataclass
class WatchOutcome:
    outcome: app.Outcome  # the last round's, with the report replaced by the watch's
    log: WatchLog


def watch(request: WatchRequest, on_round: Callable[[RoundInfo], None] | None = None) -> WatchOutcome:
    from preflight import app
    from preflight.engine.registry import all_codes, load_checks

    passing = [code for code, (_owner, doc) in all_codes(load_checks().checks).items() if doc.status == Status.PASS]
    schedule = request.schedule
    started = time.time()
    log = WatchLog(started, schedule.interval_s, schedule.duration_s, passing)
    woken = threading.Event()
    idle: _IdleThread | None = None
    last: app.Outcome | None = None
    round_started = started
    missed = 0
    with signals.listening(lambda _name: woken.set()):
        while True:
            outcome = app.run(request.run)
            ended = time.time()
            report = outcome.report
            log.add_round(round_started, report.results, ended_by=report.ended_by, missed=missed)
            last = outcome
            if on_round is not None:
                on_round(
                    RoundInfo(
                        log.rounds,
                        schedule.planned_rounds,
                        round_started,
                        ended - round_started,
                        report.counts,
                        report.ended_by,
                        missed,
                    )
                )
            if report.ended_by in ("SIGINT", "SIGTERM", "SIGBREAK") or signals.pending():
                log.ended_by = report.ended_by or signals.pending()
                break
            if idle is None and request.idle is not None:
                idle = _IdleThread(outcome, request, started, schedule.duration_s)
                idle.start()
            next_at, missed = schedule.next_start(started, round_started, time.time())
            if next_at is None:
                break
            if _sleep_until(next_at, woken) or signals.pending():
                log.ended_by = signals.pending() or "SIGINT"
                break
            round_started = time.time()
        idle_results = idle.finish(stopped=log.ended_by is not None) if idle is not None else []
        if request.idle is not None and idle is None:
            idle_results = [_idle_skip("the watch ended before the idle probe started (it starts after round 1)")]
        log.ended_by = log.ended_by or signals.pending()  # a signal while the last holds were waited for
    assert last is not None
    results = list(log.last_results) + judge(log.to_json()) + idle_results
    report = dataclasses.replace(
        last.report,
        started_at=started,
        duration_ms=round((time.time() - started) * 1000),
        results=results,
        ended_by=log.ended_by or last.report.ended_by,
        watch=log.to_json(),
    )
    return WatchOutcome(dataclasses.replace(last, report=report), log)


def _sleep_until(at: float, woken: threading.Event) -> bool:
    """Wait until `at` unless a signal comes first (True). In short slices: on Windows before Python 3.14 a wait
    on an Event is not interrupted by Ctrl-C, so the signal handler only runs when the wait returns (CPython
    gh-80116, fixed by gh-125541)."""
    while (left := at - time.time()) > 0:
        if woken.wait(min(left, 0.25)):
            return True
    return woken.is_set()


class _IdleThread:
    """The idle probe on its own event loop: its holds outlast the rounds, each of which runs a loop of its own."""

    def __init__(self, first: app.Outcome, request: WatchRequest, started: float, duration_s: float) -> None:
        assert request.idle is not None
        self.options = request.idle
        self.timeout = request.run.timeout
        self.paths = _paths(first, self.options, request.run.proxy_credentials)
        available = duration_s - (time.time() - started)
        self.holds = idle_mod.ladder_within(self.options.ladder_s, available, self.timeout)
        self.results: list[CheckResult] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._main, name="preflight-idle-probe", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _main(self) -> None:
        asyncio.run(self._probe())

    async def _probe(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.stop = asyncio.Event()
        if not self.paths or not self.holds:
            return
        observed = await asyncio.gather(
            *(idle_mod.observe(path, self.holds, self.timeout, self.stop) for path in self.paths)
        )
        self.results = [_idle_result(o, self.options.needed_s) for o in observed]

    def finish(self, *, stopped: bool) -> list[CheckResult]:
        """The verdicts, once the holds are done: at the watch's end they are waited for (each was planned to
        end within --for); when the watch was stopped, the holds still running are ended (not reached)."""
        if not stopped:
            until = time.monotonic() + max(self.holds, default=0.0) + 3 * self.timeout + 5
            while self.thread.is_alive() and time.monotonic() < until and not signals.pending():
                self.thread.join(0.25)  # in slices, as _sleep_until waits: Ctrl-C must end the wait on Windows too
        if self.thread.is_alive() and self.loop is not None and self.stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed in between: the holds are done
                self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(3 * self.timeout + 5)
        if not self.paths:
            return [_idle_skip(UNTESTED, "idle.untested")]
        if not self.holds:
            needed = self.options.needed_s
            return [_idle_skip(f"the watch is too short for any hold of the ladder (the connector needs {needed:g}s)")]
        return list(self.results)


def _paths(first: app.Outcome, options: IdleOptions, send_credentials: bool) -> list[idle_mod.IdlePath]:
    targets = list(options.targets) or [
        (host, port)
        for host, port in first.report.service_rows
        if not host.startswith("*.") and "{" not in host and port in (443, 8398)
    ]
    resolved = {r.target.host: r.evidence.get("addresses") for r in first.report.results if r.check == "dns.resolve"}
    paths = []
    for host, port in targets[: idle_mod.MAX_PATHS]:
        route = first.proxy_settings.route(host, port, tls=True)
        found = resolved.get(host)
        addresses = tuple(str(a) for a in found) if isinstance(found, list) else ()
        paths.append(idle_mod.IdlePath(host, port, route.proxy, send_credentials, addresses))
    return paths


def _idle_result(observation: idle_mod.IdleObservation, needed_s: float) -> CheckResult:
    finding = idle_mod.judge(observation, needed_s)
    target = idle_mod.target_of(observation.path)
    return CheckResult(
        IDLE_CHECK, target, finding.status, finding.code, finding.summary, finding.evidence, finding.remediation
    )  # fmt: skip (positional, as the dataclass reads)


UNTESTED = "no concrete service endpoint to hold idle (give --idle-target HOST:PORT or --tenant-id)"


def _idle_skip(summary: str, code: str = "idle.inconclusive") -> CheckResult:
    from preflight.model import Target

    doc = IDLE_CODES[code]
    return CheckResult(IDLE_CHECK, Target(host="idle probe"), doc.status, code, summary, {}, doc.remediation)
