"""The `preflight` command. Usage and profile errors exit 2 with one line saying what and where."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar
from urllib.parse import urlsplit

import click

from preflight import __version__, policy, signals, streams
from preflight import profile as profile_mod
from preflight.engine.registry import all_codes, load_checks, load_reporters, registered_check_ids
from preflight.errors import UsageError
from preflight.model import Status
from preflight.output import unwritable_reason, write_atomic, write_stdout

# The engine, probes and their libraries (httpx, dnspython, cryptography) load only when a command needs them:
# `preflight --version`, `checks` and `explain` start fast.
if TYPE_CHECKING:
    from preflight.engine import plan as plan_mod
    from preflight.engine.context import RunOptions
    from preflight.engine.runner import RunState
    from preflight.model import CheckResult, Endpoint
    from preflight.proxy import ProxySettings
    from preflight.proxy.automatic import AutomaticRequest
    from preflight.report import Report
    from preflight.tenant import TenantInput, TenantResolution

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


@dataclasses.dataclass
class _Outcome:
    report: Report
    profile: profile_mod.Profile
    proxy_settings: ProxySettings
    attachments: dict[str, str]


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
    outcome = _perform_run(reporters.failures, **options)
    written = _emit(outcome.report, destinations, reporters.reporters)
    sys.exit(outcome.report.exit_code if written else policy.EXIT_USAGE)


def _perform_run(
    reporter_failures: Sequence[Any],
    profile_name: str,
    endpoints: Sequence[str],
    tenant_id: str | None,
    only: Sequence[str],
    skip: Sequence[str],
    dns_servers: Sequence[str],
    timeout: float,
    deadline: float,
    concurrency: int,
    proxy: str | None,
    pac: str | None,
    wpad_domains: Sequence[str],
    connector_config: str | None,
    proxy_credentials: bool,
    ntp_servers: Sequence[str],
    public_roots: str | None,
    setting_options: Sequence[str],
    strict: bool,
    quiet: bool,
) -> _Outcome:
    import asyncio

    from preflight import tenant as tenant_mod
    from preflight.engine import checksettings
    from preflight.engine import plan as plan_mod
    from preflight.engine.context import RunOptions
    from preflight.engine.runner import RunState, failure_result
    from preflight.proxy.automatic import plan_request
    from preflight.proxy.winhttp_api import default_api
    from preflight.proxy.wpad import parse_domain_option
    from preflight.report import Report, host_facts

    extra = tuple(plan_mod.parse_endpoint_option(e) for e in endpoints)
    given = tenant_mod.parse_tenant_option(tenant_id) if tenant_id is not None else None
    servers = tuple(plan_mod.parse_server_option(s, option="--dns-server", default_port=53) for s in dns_servers)
    domains = [parse_domain_option(d) for d in wpad_domains]
    if "none" in domains and len(domains) > 1:
        raise UsageError("--wpad-domain none turns discovery off: it cannot be combined with other suffixes")
    overrides = [checksettings.parse_set_option(text) for text in setting_options]
    profile = profile_mod.load(profile_name)
    loaded = load_checks(only, skip)
    if not loaded.checks and not loaded.failures:
        raise UsageError(
            f"no check matches --only {' '.join(only)!r} / --skip {' '.join(skip)!r} (see 'preflight checks')"
        )
    check_settings = checksettings.resolve(loaded.checks, profile.checks, profile.origin, overrides,
                                           registered_check_ids())  # fmt: skip
    proxy_settings = _proxy_settings(proxy, proxy_credentials, connector_config)
    known_tenant = _known_tenant(given)

    def build_plan(tenant: tenant_mod.TenantResolution, settings: ProxySettings) -> plan_mod.Plan:
        """The plan for a tenant (its GUID fills {tenant_id}), over the proxy settings as they stand."""
        return plan_mod.build(profile, extra_endpoints=extra, tenant_id=tenant.guid, proxy=settings, tenant=tenant,
                              check_settings=check_settings)  # fmt: skip

    plan = build_plan(known_tenant, proxy_settings)
    attachments: dict[str, str] = {}
    if connector_config is not None:
        attachments["evidence/connector.config"] = _read_bounded(connector_config)
    auto = plan_request(proxy_settings, pac, domains, default_api(timeout))
    options = RunOptions(
        timeout=timeout,
        deadline=deadline,
        concurrency=concurrency,
        dns_servers=servers,
        public_roots=str(Path(public_roots).resolve()) if public_roots else None,
        ntp_servers=tuple(_ntp_server(s) for s in ntp_servers),
    )

    state = RunState()
    progress = _Progress(enabled=not quiet and sys.stderr.isatty())
    try:
        with contextlib.redirect_stdout(sys.stderr):  # stdout carries the report: a plugin's prints go to stderr
            plan = asyncio.run(_run_async(plan, build_plan, given, auto, attachments, loaded.checks, loaded.failures,
                                          options, state, progress))  # fmt: skip
    except KeyboardInterrupt:  # platforms without loop signal handlers (Windows)
        state.ended_by = state.ended_by or "SIGINT"
    state.ended_by = state.ended_by or signals.pending()
    progress.clear()

    results = state.ordered_results() + [failure_result(f) for f in reporter_failures]
    report = Report(
        tool_version=__version__,
        profile={
            "name": profile.name,
            "origin": profile.origin,
            "sha256": profile.sha256,
            "endpoints": len(plan.endpoints),
            "service_rows": [{"host": host, "port": port} for host, port in plan_mod.service_rows(plan)],
        },
        host=host_facts(),
        options=_options_json(options, only, skip, extra, strict, plan.proxy, plan.tenant or known_tenant, overrides),
        started_at=state.started_at,
        duration_ms=round(((state.finished_at or time.time()) - state.started_at) * 1000),
        results=results,
        ended_by=state.ended_by,
        strict=strict,
    )
    return _Outcome(report, profile, plan.proxy, attachments)


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
    outcome = _perform_run(reporters.failures, **options)
    if not options["quiet"] and "table" in reporters.reporters:
        _emit(outcome.report, [("table", "-")], reporters.reporters)
    code = _write_bundle(outcome, target, patterns, pseudonymize, reporters.reporters)
    sys.exit(code if code is not None else outcome.report.exit_code)


def _write_bundle(
    outcome: _Outcome, target: Path, patterns: list[Any], pseudonymize: bool, reporters: dict[str, Any]
) -> int | None:
    """Writes the bundle; returns an exit code when it could not be written (the run's verdict is already out)."""
    from preflight.bundle import archive, build, hostinfo
    from preflight.bundle.pseudonym import Pseudonymizer
    from preflight.bundle.redact import Redactor

    public = {e.host for e in outcome.profile.endpoints} | set(outcome.profile.clock.ntp_servers)
    # A signal during the run already shaped the report; a new one while writing aborts the write, cleanly.
    signals.clear()
    for name in signals.HANDLED:
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _raise_interrupt)
    try:
        contents = build.assemble(
            outcome.report,
            hostinfo.collect(outcome.report.profile, report=outcome.report.to_json()),
            outcome.attachments,
            Redactor(patterns),
            Pseudonymizer() if pseudonymize else None,
            reporters["html"].render,
            public_names=public,
        )
        extra = {"tool_version": __version__, "profile_sha256": outcome.report.profile.get("sha256"),
                 "redactions": contents.redactions, "user_patterns": len(patterns),
                 "pseudonymized": pseudonymize, "verdict": outcome.report.verdict}  # fmt: skip
        digest = archive.write(target, contents.files, extra, contents.audit_values, contents.audit_names, patterns)
        if pseudonymize:
            import json

            reverse = Path(f"{target}.pseudonyms.json")
            write_atomic(reverse, json.dumps({"bundle": target.name, "bundle_sha256": digest,
                                              "pseudonyms": contents.reverse_map}, indent=2) + "\n")  # fmt: skip
    except archive.BundleError as exc:
        click.echo(f"preflight: error: {exc}", err=True)
        return policy.EXIT_USAGE
    except KeyboardInterrupt as exc:
        name = str(exc) if str(exc) in policy.EXIT_SIGNAL else "SIGINT"
        click.echo(f"preflight: error: bundle not written: interrupted by {name}", err=True)
        return policy.EXIT_SIGNAL[name]
    except OSError as exc:
        click.echo(f"preflight: error: cannot write bundle {target}: {exc.strerror or exc}", err=True)
        return policy.EXIT_USAGE
    finally:
        signals.install()
    click.echo(f"preflight: bundle written: {target} ({len(contents.files) + 1} files, "
               f"{contents.redactions} redactions, sha256 {digest})", err=True)  # fmt: skip
    return None


def _raise_interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


async def _run_async(
    plan: plan_mod.Plan,
    build_plan: Callable[[TenantResolution, ProxySettings], plan_mod.Plan],
    given: TenantInput | None,
    auto: AutomaticRequest,
    attachments: dict[str, str],
    checks: Any,
    failures: Any,
    options: RunOptions,
    state: RunState,
    progress: _Progress,
) -> plan_mod.Plan:
    """Finds and evaluates the proxy auto-config scripts (configured, WPAD), looks the tenant up (a domain), plans
    with both, and runs the checks: all under the same deadline and signals. Returns the plan the checks ran on."""
    import asyncio

    from preflight.engine.context import RunContext
    from preflight.engine.runner import execute
    from preflight.model import Target
    from preflight.proxy.automatic import AutomaticProxy

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def on_signal(name: str) -> None:
        if state.ended_by is None:
            state.ended_by = name
        stop.set()

    def remaining() -> RunOptions:
        left = options.deadline - (time.time() - state.started_at)
        return dataclasses.replace(options, deadline=max(0.01, left))

    with signals.listening(lambda name: loop.call_soon_threadsafe(on_signal, name)):
        early = signals.pending()  # a signal while starting or planning: plan, then stop at once
        if early is not None:
            on_signal(early)
        resolved: dict[str, Any] = {}  # what the lookups before the checks resolved: the checks share it
        tenant = plan.tenant if plan.tenant is not None else _known_tenant(given)
        evaluation = None
        if auto.active:
            pac_ctx = RunContext(plan, options)
            evaluation = AutomaticProxy(auto, pac_ctx, options.timeout)
            first_targets = list(plan.port_targets())
            if given is not None and given.domain is not None:
                first_targets.append(Target(host=urlsplit(plan.profile.tenant.authority).hostname or "", port=443))

            async def settle() -> ProxySettings:
                await evaluation.load()
                return await evaluation.decide(plan.proxy, first_targets)

            settled = await _until_stopped(settle(), remaining(), state, stop)
            resolved.update(pac_ctx.resolutions())
            plan = build_plan(tenant, settled if settled is not None else evaluation.interrupted(plan.proxy))
            attachments.update(evaluation.scripts)
        try:
            if given is not None and given.domain is not None:
                tenant = await _look_up_tenant(plan, given, remaining(), state, stop, resolved)
                plan = build_plan(tenant, plan.proxy)
                if evaluation is not None:  # the tenant's own names (its bootstrap host) are asked of the script too
                    settled = await _until_stopped(evaluation.decide(plan.proxy, plan.port_targets()), remaining(),
                                                   state, stop)  # fmt: skip
                    plan = build_plan(tenant, settled if settled is not None else evaluation.interrupted(plan.proxy))
            await execute(plan, checks, failures, remaining(), state, stop, progress.update, resolved)
        finally:
            if evaluation is not None:
                await evaluation.close()
    return plan


async def _until_stopped(work: Awaitable[T], options: RunOptions, state: RunState, stop: Any) -> T | None:
    """`work`, unless the deadline or a signal comes first: then None, and the run stops at once."""
    import asyncio

    task = asyncio.ensure_future(work)
    if stop.is_set():
        task.cancel()
        return None
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, timeout=options.deadline, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if task.done() and not task.cancelled():
        return task.result()
    task.cancel()
    await asyncio.wait({task}, timeout=0.5)
    if state.ended_by is None:
        state.ended_by = "deadline"
    stop.set()
    return None


async def _look_up_tenant(plan: plan_mod.Plan, given: TenantInput, options: RunOptions, state: RunState,
                          stop: Any, resolved: dict[str, Any]) -> TenantResolution:  # fmt: skip
    """The tenant lookup, ended like any probe by the deadline or a signal (then the run stops at once)."""
    from preflight.tenant import TenantResolution, look_up

    found = await _until_stopped(look_up(plan, options, given, resolved), options, state, stop)
    if found is not None:
        return found
    ended = "run.deadline" if state.ended_by == "deadline" else "run.interrupted"
    return TenantResolution("domain", given.text, ended=ended)


def _known_tenant(given: TenantInput | None) -> TenantResolution:
    """The tenant known before anything is asked on the network: a GUID given, or an installed connector's."""
    from preflight import installed
    from preflight.tenant import TenantResolution

    if given is not None:
        return TenantResolution("guid" if given.guid else "domain", given.text, given.guid)
    found = installed.read_host_tenant(installed.default_reader())
    if found.outcome == "found":
        return TenantResolution("host", guid=found.tenant_id, host=found.evidence)
    if found.outcome == "unreadable":
        return TenantResolution("none", host=found.evidence, host_problem=found.problem)
    return TenantResolution("none")


def _proxy_settings(value: str | None, use_credentials: bool, connector_config: str | None) -> ProxySettings:
    from preflight.proxy import from_environment, parse_proxy_url
    from preflight.proxy.settings import windows_settings
    from preflight.proxy.windows import default_reader

    environment = from_environment(os.environ)
    windows = windows_settings(default_reader(), connector_config)
    if value is not None and value.strip().lower() == "none":
        return dataclasses.replace(windows, explicit_none=True, environment=environment)
    explicit = parse_proxy_url(value) if value is not None else None
    return dataclasses.replace(windows, explicit=explicit, environment=environment, use_credentials=use_credentials)


def _read_bounded(path: str, limit: int = 1024 * 1024) -> str:
    with open(path, "rb") as handle:
        return handle.read(limit).decode("utf-8", errors="replace")


def _ntp_server(value: str) -> str:
    """An --ntp-server value, checked (HOST[:PORT], [IPV6]:PORT) and kept as written."""
    from preflight.netutil import split_host_port

    split_host_port(value, option="--ntp-server", default_port=123,
                    valid_name=lambda host: profile_mod.is_valid_host(host) and "{" not in host)  # fmt: skip
    return value.strip()


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


def _proxy_option(proxy: ProxySettings) -> str | None:
    if proxy.explicit_none:
        return "none"
    return proxy.explicit.display if proxy.explicit else None


def _options_json(
    options: RunOptions,
    only: Sequence[str],
    skip: Sequence[str],
    extra: tuple[Endpoint, ...],
    strict: bool,
    proxy: ProxySettings,
    tenant: TenantResolution,
    overrides: Sequence[tuple[str, str, Any]] = (),
) -> dict[str, Any]:
    return {
        "timeout_s": options.timeout,
        "deadline_s": options.deadline,
        "concurrency": options.concurrency,
        "per_host": options.per_host,
        "dns_servers": [f"{a}:{p}" for a, p in options.dns_servers],
        "tenant_id": tenant.guid,
        "tenant": {"given": tenant.given, "source": tenant.source},
        "only": list(only),
        "skip": list(skip),
        "extra_endpoints": [f"{e.host}:{','.join(map(str, e.ports))}" for e in extra],
        "strict": strict,
        "public_roots": options.public_roots,
        "ntp_servers": list(options.ntp_servers),
        "proxy": _proxy_option(proxy),
        "settings": [{"check": check_id, "key": key, "value": value} for check_id, key, value in overrides],
    }


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
