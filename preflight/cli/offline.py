"""The commands that read, not probe: `show`, `diff`, `merge`, `checks`, `explain` and `profiles`."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click

from preflight.cli.group import cli, say, usage_exit
from preflight.errors import UsageError
from preflight.reporting import policy


@cli.command("show")
@click.argument("report_path", metavar="REPORT.json|BUNDLE.zip")
@click.option(
    "--format",
    "formats",
    multiple=True,
    metavar="FORMAT[=PATH]",
    help="Format(s) to render (default: table); '=PATH' writes that format to a file.",
)
@click.option("--output", "output", default="-", show_default=True, help="Where formats without '=PATH' go.")
def show_command(report_path: str, formats: Sequence[str], output: str) -> None:
    """Render a saved JSON report or a support bundle in any format, offline."""
    from preflight.engine.registry import load_reporters
    from preflight.reporting import emit
    from preflight.reporting.report import load as load_report

    reporters = load_reporters()
    destinations = emit.parse_destinations(formats or ("table",), output, set(reporters.reporters))
    if not emit.emit(load_report(report_path), destinations, reporters.reporters, say):
        sys.exit(policy.EXIT_USAGE)


@cli.command("diff")
@click.argument("before_path", metavar="BEFORE.json")
@click.argument("after_path", metavar="AFTER.json")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def diff_command(before_path: str, after_path: str, output_format: str) -> None:
    """What changed between two runs (fixed, broke, still failing, ...). Exits 1 if anything broke."""
    from preflight.reporting import diff
    from preflight.reporting.output import write_stdout
    from preflight.reporting.report import load as load_report

    before, after = load_report(before_path), load_report(after_path)
    changes = diff.diff(before, after)
    if output_format == "json":
        write_stdout(diff.render_json(changes, before_path, after_path))
    else:
        write_stdout(diff.render_text(before, after, changes, before_path, after_path))
    sys.exit(policy.EXIT_FAIL if diff.broke(changes) else policy.EXIT_OK)


@cli.command("merge")
@click.argument("report_paths", metavar="[REPORT.json|BUNDLE.zip]...", nargs=-1)
@click.option("--fleet", "fleet", metavar="DIR", help="A fleet folder written by the Ansible role (status/*.json).")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json", "markdown", "html"]),
    default="table",
    show_default=True,
)
@click.option("--output", "output", default="-", show_default=True, help="Where to write the matrix.")
def merge_command(report_paths: Sequence[str], fleet: str | None, output_format: str, output: str) -> None:
    """A fleet matrix: hosts x checks, the worst status per cell, and per connector group how many candidates are
    ready. Exits 0 when every group has at least one ready candidate, 1 otherwise."""
    from preflight.reporting import emit, merge
    from preflight.reporting.output import write_atomic, write_stdout

    if not report_paths and fleet is None:
        raise UsageError("merge: give saved reports, --fleet DIR, or both")
    hosts = merge.from_reports(list(report_paths)) + (merge.from_fleet_folder(fleet) if fleet else [])
    text = merge.render(hosts, output_format)
    try:
        write_stdout(text) if output == emit.STDOUT else write_atomic(Path(output), text)
    except OSError as exc:
        usage_exit(f"cannot write the fleet matrix to {output}: {exc.strerror or exc}")
    sys.exit(merge.exit_code(hosts))


@cli.command("checks")
def checks_command() -> None:
    """List the available checks, what each needs, and plugins that failed to load."""
    from tabulate import tabulate

    from preflight.engine.registry import load_checks

    loaded = load_checks()
    rows = [[c.id, c.title, c.requires, ", ".join(c.needs) or "-"] for c in loaded.checks]
    click.echo(tabulate(rows, headers=["check", "title", "requires", "after"], tablefmt="simple"))
    for failure in loaded.failures:
        say(f"plugin {failure.name!r} ({failure.target}) failed to load: {failure.message}")
    if loaded.failures:
        sys.exit(policy.EXIT_INCOMPLETE)


@cli.command("explain")
@click.argument("code", required=False)
@click.option("--markdown", "as_markdown", is_flag=True, help="Every code as Markdown tables (docs/reason-codes.md).")
def explain_command(code: str | None, as_markdown: bool) -> None:
    """Explain a reason code: what it means, how it is detected, how to fix it. Without CODE, list them all."""
    from preflight.engine.registry import all_codes, load_checks
    from preflight.reporting import explain

    codes = all_codes(load_checks().checks)
    if as_markdown:
        if code is not None:
            raise UsageError("--markdown prints every code: give no CODE with it")
        click.echo(explain.markdown(codes), nl=False)
        return
    click.echo(explain.index(codes) if code is None else explain.describe(code, codes), nl=False)


@cli.group("profiles", invoke_without_command=True)
@click.pass_context
def profiles_command(ctx: click.Context) -> None:
    """List the embedded profiles ('profiles show NAME' prints one)."""
    from preflight import profile as profile_mod

    if ctx.invoked_subcommand is not None:
        return
    for name in profile_mod.embedded_names():
        loaded = profile_mod.load(name)
        default = " (default)" if name == profile_mod.DEFAULT_PROFILE else ""
        click.echo(f"{name}{default}: {len(loaded.endpoints)} endpoints. {loaded.description}")


@profiles_command.command("show")
@click.argument("name")
def profiles_show(name: str) -> None:
    """Print a profile's TOML (an embedded name or a file path)."""
    from preflight import profile as profile_mod
    from preflight.textfile import decode_text

    if name in profile_mod.embedded_names():
        click.echo(profile_mod.embedded_text(name), nl=False)
        return
    loaded = profile_mod.load(name)  # validates, with file:line errors
    click.echo(decode_text(Path(loaded.origin).read_bytes()), nl=False)
