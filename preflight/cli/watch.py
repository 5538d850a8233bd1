"""`preflight watch` (and `bundle --watch`'s options): the run's options, a schedule and the idle probe's."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from preflight.cli.group import cli, say
from preflight.cli.options import run_options
from preflight.reporting import policy

if TYPE_CHECKING:
    from preflight.watch.loop import RoundInfo, WatchRequest

WATCH_OPTIONS = [
    click.option(
        "--for",
        "watch_for",
        default="10m",
        show_default=True,
        metavar="DURATION",
        help="How long to watch (30s, 10m, 2h, 1d; at most 7d). No round starts after it.",
    ),
    click.option(
        "--every",
        "watch_every",
        default="1m",
        show_default=True,
        metavar="INTERVAL",
        help="Time from one round's start to the next (a round that overruns is followed at once).",
    ),
    click.option(
        "--idle-ladder",
        default="30s,1m,2m,4m,5m,10m,15m,30m",
        show_default=True,
        metavar="D,D,...",
        help="How long the idle probe holds each connection before using it (holds that cannot finish within "
        "--for are left out); 'none' turns the idle probe off.",
    ),
    click.option(
        "--idle-needed",
        default="4m",
        show_default=True,
        metavar="DURATION",
        help="The idle time a path must survive (default: Azure Firewall's north-south idle timeout).",
    ),
    click.option(
        "--idle-target",
        "idle_targets",
        multiple=True,
        metavar="HOST[:PORT]",
        help="Hold these endpoints idle instead of the profile's concrete service rows (repeatable, at most 4).",
    ),
]


def watch_options(command: Any) -> Any:
    for option in reversed(WATCH_OPTIONS):
        command = option(command)
    return command


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
    from preflight.cli.run import _request
    from preflight.engine import plan as plan_mod
    from preflight.errors import UsageError
    from preflight.watch.loop import IdleOptions, WatchRequest
    from preflight.watch.schedule import Schedule, parse_duration

    schedule = Schedule(
        parse_duration(options.pop("watch_for"), option="--for"),
        parse_duration(options.pop("watch_every"), option="--every"),
    )
    ladder_text = options.pop("idle_ladder").strip()
    needed = parse_duration(options.pop("idle_needed"), option="--idle-needed")
    targets_text = options.pop("idle_targets")
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
    return WatchRequest(_request(options, reporter_failures), schedule, idle)


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
