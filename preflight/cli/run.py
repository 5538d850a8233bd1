"""`preflight run` and `preflight bundle`: options in, `app.run` called, the report rendered out."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from preflight.cli.group import cli, say
from preflight.cli.options import WATCH_DEFAULTS, WATCH_FLAGS, run_options, run_request, watch_options
from preflight.reporting import policy

if TYPE_CHECKING:
    pass


@cli.command("run")
@run_options
@click.option(
    "--format",
    "formats",
    multiple=True,
    metavar="FORMAT[=PATH]",
    help="Report format (table, json, ...); repeatable; '=PATH' writes that format to a file.",
)
@click.option(
    "--output", "output", default="-", show_default=True, help="Where formats without '=PATH' go ('-' is stdout)."
)
def run_command(formats: Sequence[str], output: str, **options: Any) -> None:
    """Run the checks of a profile and report."""
    from preflight import app
    from preflight.engine.registry import load_reporters
    from preflight.reporting import emit

    reporters = load_reporters()
    known = set(reporters.reporters)
    destinations = emit.parse_destinations(formats or ("table",), output, known)
    emit.check_writable(destinations)
    destinations = emit.with_console_table(destinations, options["quiet"], known)
    outcome = app.run(run_request(options, reporters.failures))
    written = emit.emit(outcome.report, destinations, reporters.reporters, say)
    sys.exit(outcome.report.exit_code if written else policy.EXIT_USAGE)


@cli.command("bundle")
@run_options
@click.option("--watch", "watching", is_flag=True, help="Watch instead of one run (--for, --every, see 'watch').")
@watch_options
@click.option(
    "-o", "--output", "output", required=True, metavar="BUNDLE.zip", help="Where to write the support bundle."
)
@click.option(
    "--redact",
    "redact_patterns",
    multiple=True,
    metavar="REGEX",
    help="Also redact every match of this regular expression (repeatable).",
)
@click.option(
    "--pseudonymize",
    is_flag=True,
    help="Replace host names, internal IPs, user names and the tenant ID with stable pseudonyms; the reverse "
    "map is written beside the bundle (BUNDLE.zip.pseudonyms.json), never inside it.",
)
def bundle_command(
    output: str, redact_patterns: Sequence[str], pseudonymize: bool, watching: bool, **options: Any
) -> None:
    """Run the checks (or, with --watch, watch them) and write one redacted support bundle: report.json,
    report.html (with the watch's timeline), evidence/, host.json and a manifest with the SHA-256 of every file."""
    from preflight import app
    from preflight.bundle.write import bundle_target, user_patterns, write_bundle
    from preflight.engine.registry import load_reporters
    from preflight.errors import UsageError
    from preflight.reporting import emit

    patterns = user_patterns(redact_patterns)
    target = bundle_target(output)
    reporters = load_reporters()
    if watching:
        from preflight.cli.watch import round_line, watch_request
        from preflight.watch.loop import watch

        outcome = watch(watch_request(options, reporters.failures), round_line(options["quiet"])).outcome
    else:
        given = [name for name in WATCH_DEFAULTS if options.pop(name) not in (None, ())]
        if given:
            raise UsageError(f"{WATCH_FLAGS[given[0]]}: a watch option; add --watch to watch instead of one run")
        outcome = app.run(run_request(options, reporters.failures))
    if not options["quiet"] and "table" in reporters.reporters:
        emit.emit(outcome.report, [("table", emit.STDOUT)], reporters.reporters, say)
    code = write_bundle(outcome, target, patterns, pseudonymize, reporters.reporters, say)
    sys.exit(code if code is not None else outcome.report.exit_code)
