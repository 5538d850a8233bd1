"""The `preflight` command. Usage and profile errors exit 2 with one line saying what and where."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from preflight import __version__, app, policy, signals, streams
from preflight import profile as profile_mod
from preflight.engine.registry import all_codes, load_checks, load_reporters
from preflight.errors import UsageError
from preflight.model import Status
from preflight.output import unwritable_reason, write_atomic, write_stdout

# The engine, probes and their libraries (httpx, dnspython, cryptography) load only when a command needs them:
# `preflight --version`, `checks` and `explain` start fast.
if TYPE_CHECKING:
    from preflight.model import CheckResult
    from preflight.report import Report

T = TypeVar("T")


def _usage_exit(message: str) -> NoReturn:
    click.echo(f"preflight: error: {message}", err=True)
    sys.exit(policy.EXIT_USAGE)


class _OneLineErrors(click.Group):
    """Click's multi-line usage errors become one line on stderr and exit code 2."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            return super().main(*args, **kwargs)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
            sys.exit(policy.EXIT_USAGE)
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
            _usage_exit(f"{exc.format_message()}{hint}")
        except click.ClickException as exc:
            _usage_exit(exc.format_message())
        except click.exceptions.Abort:
            click.echo("preflight: aborted", err=True)
            sys.exit(policy.EXIT_SIGNAL["SIGINT"])
        except UsageError as exc:
            _usage_exit(str(exc))


_ASCII_HELP = (
    "Write only ASCII to stdout and stderr (also PREFLIGHT_ASCII=1), for a console or pipe that reads its own code "
    "page; otherwise pipes and files get UTF-8."
)


@click.group(cls=_OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="connector-preflight")
@click.option("--ascii", "ascii_only", is_flag=True, help=_ASCII_HELP)
def cli(ascii_only: bool) -> None:
    """Check, before installing a Microsoft Entra private network connector, whether this host's network will
    let it work, and what to fix if not."""
    # --ascii is applied in main(), before click prints anything (streams.ascii_requested)


_RUN_OPTIONS = [
    click.option(
        "--profile",
        "profile_name",
        default=profile_mod.DEFAULT_PROFILE,
        show_default=True,
        help="Embedded profile name or path to a profile TOML file.",
    ),
    click.option(
        "--endpoint",
        "endpoints",
        multiple=True,
        metavar="HOST[:PORT[,PORT...]]|URL",
        help="Add an endpoint to the profile (repeatable): a host alone means 443; an http(s) URL, its port.",
    ),
    click.option(
        "--tenant-id",
        metavar="GUID|DOMAIN",
        help="The tenant, as its ID or a domain of it (contoso.onmicrosoft.com, looked up at the profile's sign-in "
        "service): fills {tenant_id} rows such as the bootstrap name. Default: an installed connector's tenant.",
    ),
    click.option(
        "--only", multiple=True, metavar="PATTERN", help="Run only checks whose id matches (glob, repeatable)."
    ),
    click.option("--skip", multiple=True, metavar="PATTERN", help="Do not run checks whose id matches (repeatable)."),
    click.option(
        "--dns-server",
        "dns_servers",
        multiple=True,
        metavar="IP[:PORT]",
        help="Query these DNS servers instead of the system resolver; their answers drive later checks.",
    ),
    click.option(
        "--timeout",
        type=click.FloatRange(min=0.05, max=300),
        default=5.0,
        show_default=True,
        help="Seconds for each network wait (DNS query, TCP connect).",
    ),
    click.option(
        "--deadline",
        type=click.FloatRange(min=0.1, max=3600),
        default=90.0,
        show_default=True,
        help="Seconds for the whole run; unfinished checks are reported as skipped.",
    ),
    click.option(
        "--concurrency",
        type=click.IntRange(min=1, max=512),
        default=32,
        show_default=True,
        help="Network operations at once (at most 4 per host).",
    ),
    click.option(
        "--proxy",
        "proxy",
        metavar="URL|none",
        help="The proxy the connector uses (http://host:port); 'none' ignores the environment's proxy variables.",
    ),
    click.option(
        "--pac",
        "pac",
        metavar="FILE|URL",
        help="A proxy auto-config script; FindProxyForURL decides each endpoint's route (after --connector-config).",
    ),
    click.option(
        "--wpad-domain",
        "wpad_domains",
        multiple=True,
        metavar="SUFFIX|none",
        help="DNS suffix WPAD discovery tries, wpad.<SUFFIX> devolved (repeatable; default: this host's primary "
        "suffix and search list); 'none' turns discovery off.",
    ),
    click.option(
        "--connector-config",
        type=click.Path(exists=True, dir_okay=False),
        metavar="FILE",
        help="A connector .exe.config (or machine.config) whose <defaultProxy> the connector will use.",
    ),
    click.option(
        "--proxy-credentials",
        is_flag=True,
        help="Send the credentials in the proxy URL (the connector itself cannot authenticate to a proxy).",
    ),
    click.option(
        "--ntp-server",
        "ntp_servers",
        multiple=True,
        metavar="HOST[:PORT]",
        help="NTP servers for clock.skew (repeatable; default: the profile's ntp_servers).",
    ),
    click.option(
        "--public-roots",
        type=click.Path(exists=True, dir_okay=False),
        metavar="PEM",
        help="PEM bundle standing for the public web PKI (default: certifi's Mozilla bundle).",
    ),
    click.option(
        "--set",
        "setting_options",
        multiple=True,
        metavar="ID.KEY=VALUE",
        help="A check's setting (repeatable), over the profile's [checks.\"ID\"] table; VALUE is read as TOML "
        "([443, 8398], 5, true) or taken as a string.",
    ),
    click.option("--strict", is_flag=True, help="Exit 1 on warnings too."),
    click.option(
        "--quiet", is_flag=True, help="No progress line, and no table on stdout when every format goes to a file."
    ),
]


def _run_options(command: Any) -> Any:
    """The options `run` and `bundle` share: what to check and how."""
    for option in reversed(_RUN_OPTIONS):
        command = option(command)
    return command


@cli.command("run")
@_run_options
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
    reporters = load_reporters()
    destinations = _destinations(formats or ("table",), output, set(reporters.reporters))
    for name, path in destinations:  # before probing: a typo in a path must not cost the whole run
        reason = unwritable_reason(Path(path)) if path != "-" else None
        if reason is not None:
            raise UsageError(f"--format {name}={path}: {reason}")
    if not options["quiet"] and all(path != "-" for _name, path in destinations) and "table" in reporters.reporters:
        destinations.append(("table", "-"))  # reports went to files: still show the person the verdict
    outcome = app.run(_request(options, reporters.failures))
    written = _emit(outcome.report, destinations, reporters.reporters)
    sys.exit(outcome.report.exit_code if written else policy.EXIT_USAGE)


@cli.command("bundle")
@_run_options
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
def bundle_command(output: str, redact_patterns: Sequence[str], pseudonymize: bool, **options: Any) -> None:
    """Run the checks and write one redacted support bundle: report.json, report.html, evidence/, host.json and
    a manifest with the SHA-256 of every file."""
    from preflight.bundle.redact import compile_user_pattern
    from preflight.bundle.write import write_bundle

    try:
        patterns = [compile_user_pattern(p) for p in redact_patterns]
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    target = Path(output)
    if target.is_dir() or not (target.parent if str(target.parent) else Path(".")).is_dir():
        raise UsageError(f"--output {output!r}: not a file in an existing directory")
    reason = unwritable_reason(target)
    if reason is not None:
        raise UsageError(f"--output {output}: {reason}")
    reporters = load_reporters()
    outcome = app.run(_request(options, reporters.failures))
    if not options["quiet"] and "table" in reporters.reporters:
        _emit(outcome.report, [("table", "-")], reporters.reporters)
    code = write_bundle(outcome, target, patterns, pseudonymize, reporters.reporters, _say)
    sys.exit(code if code is not None else outcome.report.exit_code)


def _destinations(formats: Sequence[str], output: str, known: set[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for spec in formats:
        name, sep, path = spec.partition("=")
        name = name.strip()
        if name not in known:
            raise UsageError(f"--format {spec!r}: unknown format (available: {', '.join(sorted(known))})")
        if sep and not path:
            raise UsageError(f"--format {spec!r}: missing path after '='")
        out.append((name, path if sep else output))
    to_stdout = [name for name, path in out if path == "-"]
    if len(to_stdout) > 1:
        raise UsageError(f"--format: only one format can go to stdout, got {', '.join(to_stdout)}")
    for _name, path in out:
        if path != "-" and not Path(path).parent.is_dir():
            raise UsageError(f"--output {path!r}: directory {str(Path(path).parent)!r} does not exist")
    return out


def _emit(report: Report, destinations: list[tuple[str, str]], reporters: dict[str, Any]) -> bool:
    """Renders and writes every requested format; one that fails is a one-line error and the others still
    come out. Returns False if any could not be produced."""
    complete = True
    for name, path in destinations:
        reporter = reporters[name]
        try:
            with contextlib.redirect_stdout(sys.stderr):
                streaming = callable(getattr(reporter, "render_chunks", None)) and path != "-"
                data = reporter.render_chunks(report) if streaming else reporter.render(report)
                if path != "-":
                    write_atomic(Path(path), data)
            if path == "-":
                if streams.ascii_active() and isinstance(data, str) and name != "table":
                    data = streams.exact_ascii(data, markup=name in ("html", "junit"))  # escapes, not lookalikes
                write_stdout(data)
        except OSError as exc:
            where = "stdout" if path == "-" else path
            click.echo(f"preflight: error: cannot write {name} report to {where}: {exc.strerror or exc}", err=True)
            complete = False
        except Exception as exc:  # a broken reporter must not take the others down
            click.echo(f"preflight: error: reporter {name!r} failed: {type(exc).__name__}: {exc}", err=True)
            complete = False
    return complete


def _say(message: str) -> None:
    click.echo(message, err=True)


def _request(options: dict[str, Any], reporter_failures: Sequence[Any]) -> app.RunRequest:
    """The click options of `run`/`bundle` as a RunRequest; --quiet becomes whether a progress line is drawn."""
    values = {k: v for k, v in options.items() if k != "quiet"}
    progress = _Progress(enabled=not options["quiet"] and sys.stderr.isatty())
    return app.RunRequest(**values, reporter_failures=tuple(reporter_failures), progress=progress)


class _Progress:
    """One self-rewriting line on stderr, only when stderr is a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.width = 0

    def update(self, result: CheckResult, done: int, total: int) -> None:
        if not self.enabled:
            return
        text = f"[{done}/{total}] {result.check} {result.target.key}: {result.status}"[:100]
        sys.stderr.write("\r" + text.ljust(self.width))
        sys.stderr.flush()
        self.width = len(text)

    def clear(self) -> None:
        if self.enabled and self.width:
            sys.stderr.write("\r" + " " * self.width + "\r")
            sys.stderr.flush()


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
    from preflight.report import load as load_report

    reporters = load_reporters()
    destinations = _destinations(formats or ("table",), output, set(reporters.reporters))
    report = load_report(report_path)
    if not _emit(report, destinations, reporters.reporters):
        sys.exit(policy.EXIT_USAGE)


@cli.command("diff")
@click.argument("before_path", metavar="BEFORE.json")
@click.argument("after_path", metavar="AFTER.json")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def diff_command(before_path: str, after_path: str, output_format: str) -> None:
    """What changed between two runs (fixed, broke, still failing, ...). Exits 1 if anything broke."""
    import json

    from preflight.diff import diff, render_text
    from preflight.report import load as load_report

    before, after = load_report(before_path), load_report(after_path)
    changes = diff(before, after)
    if output_format == "json":
        write_stdout(json.dumps({"before": before_path, "after": after_path,
                                 "changes": [c.to_json() for c in changes]}, indent=2) + "\n")  # fmt: skip
    else:
        write_stdout(render_text(before, after, changes, before_path, after_path))
    sys.exit(policy.EXIT_FAIL if any(c.kind == "broke" for c in changes) else policy.EXIT_OK)


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
    from preflight import merge

    if not report_paths and fleet is None:
        raise UsageError("merge: give saved reports, --fleet DIR, or both")
    hosts = merge.from_reports(list(report_paths)) + (merge.from_fleet_folder(fleet) if fleet else [])
    text = merge.render(hosts, output_format)
    if output == "-":
        write_stdout(text)
    else:
        try:
            write_atomic(Path(output), text)
        except OSError as exc:
            _usage_exit(f"cannot write the fleet matrix to {output}: {exc.strerror or exc}")
    sys.exit(merge.exit_code(hosts))


@cli.command("checks")
def checks_command() -> None:
    """List the available checks, what each needs, and plugins that failed to load."""
    from tabulate import tabulate

    loaded = load_checks()
    rows = [[c.id, c.title, c.requires, ", ".join(c.needs) or "-"] for c in loaded.checks]
    click.echo(tabulate(rows, headers=["check", "title", "requires", "after"], tablefmt="simple"))
    for failure in loaded.failures:
        click.echo(f"plugin {failure.name!r} ({failure.target}) failed to load: {failure.message}", err=True)
    if loaded.failures:
        sys.exit(policy.EXIT_INCOMPLETE)


@cli.command("explain")
@click.argument("code", required=False)
def explain_command(code: str | None) -> None:
    """Explain a reason code: what it means, how it is detected, how to fix it. Without CODE, list them all."""
    codes = all_codes(load_checks().checks)
    if code is None:
        for name, (owner, doc) in sorted(codes.items()):
            click.echo(f"{name:28} {doc.status.value:5} {owner:12} {doc.meaning.split('. ')[0].rstrip('.')}")
        return
    if code not in codes:
        close = [c for c in codes if c.split(".")[0] == code.split(".")[0]]
        hint = f"; codes in that family: {', '.join(sorted(close))}" if close else "; 'preflight explain' lists all"
        raise UsageError(f"unknown reason code {code!r}{hint}")
    owner, doc = codes[code]
    click.echo(f"{code}  (from {owner}; status {doc.status.value})\n")
    click.echo(f"What it means:\n  {doc.meaning}\n")
    click.echo(f"How it is detected:\n  {doc.detection}\n")
    click.echo(f"How to fix it:\n  {doc.remediation}")


@cli.group("profiles", invoke_without_command=True)
@click.pass_context
def profiles_command(ctx: click.Context) -> None:
    """List the embedded profiles ('profiles show NAME' prints one)."""
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
    from preflight.textfile import decode_text

    if name in profile_mod.embedded_names():
        click.echo(profile_mod.embedded_text(name), nl=False)
        return
    loaded = profile_mod.load(name)  # validates, with file:line errors
    click.echo(decode_text(Path(loaded.origin).read_bytes()), nl=False)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    args = list(argv) if argv is not None else sys.argv[1:]
    streams.configure(streams.ascii_requested(args))  # before anything is printed, usage errors included
    command = next((a for a in args if not a.startswith("-")), None)
    if command not in ("run", "bundle"):  # only runs turn a signal into a partial report
        early = signals.pending()
        if early is not None:
            sys.exit(policy.EXIT_SIGNAL[early])
        signals.restore_defaults()
    try:
        cli.main(args=args, prog_name="preflight")
    finally:
        signals.outputs_written()  # a console close waiting for the report may now let Windows end the process
        signals.hold_at_exit()
    sys.exit(0)


def _accept_ascii_everywhere(group: click.Group) -> None:
    """`preflight run --ascii` works like `preflight --ascii run`: main() reads it wherever it stands."""
    for command in [*group.commands.values()]:
        command.params.append(click.Option(["--ascii"], "ascii_only", is_flag=True, expose_value=False,
                                           help=_ASCII_HELP))  # fmt: skip
        if isinstance(command, click.Group):
            _accept_ascii_everywhere(command)


_accept_ascii_everywhere(cli)

# Statuses are re-exported for plugin authors who script around the CLI.
__all__ = ["Status", "cli", "main"]
