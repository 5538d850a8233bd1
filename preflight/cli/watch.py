"""`preflight watch` (and `bundle --watch`'s options): the run's options, a schedule and the idle probe's."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from preflight.cli.group import cli, say
from preflight.cli.options import WATCH_DEFAULTS, run_options, run_request, watch_options
from preflight.reporting import policy

if TYPE_CHECKING:
    from preflight.watch.loop import RoundInfo, WatchRequest


@cli.command("watch")
@run_options
@watch_options
@click.option(
    "--format",
    "formats",
    multiple=True,
    metavar="FORMAT[=PATH]",
    help="Report format (table, json, html, ...); repeatable; '=PATH' writes that format to a file.",
)
@click.option(
    "--output", "output", default="-", show_default=True, help="Where formats without '=PATH' go ('-' is stdout)."
)
def watch_command(formats: Sequence[str], output: str, **options: Any) -> None:
    """Repeat the run's checks on a schedule and report how they changed: per endpoint and address its success
    rate and latency, which codes came when, an idle-timeout probe, and a timeline (html)."""
    from preflight.engine.registry import load_reporters
    from preflight.reporting import emit
    from preflight.watch.loop import watch

    reporters = load_reporters()
    known = set(reporters.reporters)
    destinations = emit.parse_destinations(formats or ("table",), output, known)
    emit.check_writable(destinations)
    destinations = emit.with_console_table(destinations, options["quiet"], known)
    request = watch_request(options, reporters.failures)
    done = watch(request, round_line(options["quiet"]))
    written = emit.emit(done.outcome.report, destinations, reporters.reporters, say)
    sys.exit(done.outcome.report.exit_code if written else policy.EXIT_USAGE)


def watch_request(options: dict[str, Any], reporter_failures: Sequence[Any]) -> WatchRequest:
    """The options as a WatchRequest (the watch's own popped from `options`, the rest the run's)."""
    from preflight.engine import plan as plan_mod
    from preflight.errors import UsageError
    from preflight.watch.loop import IdleOptions, WatchRequest
    from preflight.watch.schedule import Schedule, parse_duration

    given = {name: options.pop(name) for name in WATCH_DEFAULTS}
    values = {
        name: given[name] if given[name] not in (None, ()) else default for name, default in WATCH_DEFAULTS.items()
    }
    schedule = Schedule(
        parse_duration(values["watch_for"], option="--for"),
        parse_duration(values["watch_every"], option="--every"),
    )
    ladder_text = values["idle_ladder"].strip()
    needed = parse_duration(values["idle_needed"], option="--idle-needed")
    targets_text = values["idle_targets"]
    idle: IdleOptions | None = None
    if ladder_text.lower() != "none":
        ladder = tuple(parse_duration(part, option="--idle-ladder") for part in ladder_text.split(",") if part.strip())
        if not ladder:
            raise UsageError("--idle-ladder: no duration given (or 'none')")
        targets: list[tuple[str, int]] = []
        for text in targets_text:
            endpoint = plan_mod.parse_endpoint_option(text)
            targets.extend((endpoint.host, port) for port in endpoint.ports)
        if len(targets) > 4:
            raise UsageError("--idle-target: at most 4 endpoints")
        idle = IdleOptions(ladder, needed, tuple(targets))
    return WatchRequest(run_request(options, reporter_failures), schedule, idle)


def round_line(quiet: bool) -> Any:
    """One line on stderr per finished round (also when stderr is a log file: a scheduled task's record)."""

    def show(info: RoundInfo) -> None:
        if quiet:
            return
        at = time.strftime("%H:%M:%S", time.localtime(info.started_at))
        counts = ", ".join(f"{n} {status}" for status, n in info.counts.items() if n)
        late = f"; {info.missed} slot(s) missed: the round outran --every" if info.missed else ""
        ended = f"; ended by {info.ended_by}" if info.ended_by else ""
        say(f"round {info.number}/{info.planned} at {at}: {counts} ({info.duration_s:.1f}s){late}{ended}")

    return show
