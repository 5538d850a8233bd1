"""One run of the checks, as a function: `run(RunRequest) -> Outcome`. The CLI's `run` and `bundle` commands are
thin adapters around it (click options in, the report rendered out); tests and other tools call it directly."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlsplit

from preflight import __version__, signals
from preflight import profile as profile_mod
from preflight.engine.registry import load_checks, registered_check_ids
from preflight.errors import UsageError

if TYPE_CHECKING:
    from preflight.context import Probes
    from preflight.engine import plan as plan_mod
    from preflight.engine.context import RunOptions
    from preflight.engine.runner import RunState
    from preflight.model import CheckResult, Endpoint
    from preflight.proxy import ProxySettings
    from preflight.proxy.automatic import AutomaticRequest
    from preflight.reporting.report import Report
    from preflight.tenant.discovery import TenantInput, TenantResolution

T = TypeVar("T")


class Progress(Protocol):
    """Told about every finished result (the CLI draws a progress line with it)."""

    def update(self, result: CheckResult, done: int, total: int) -> None: ...

    def clear(self) -> None: ...


class _Silent:
    def update(self, result: CheckResult, done: int, total: int) -> None:
        return None

    def clear(self) -> None:
        return None


@dataclasses.dataclass(frozen=True)
class RunRequest:
    """What to run: the `run`/`bundle` options, as values (strings as a user types them; checked by run())."""

    profile_name: str = profile_mod.DEFAULT_PROFILE
    endpoints: Sequence[str] = ()
    tenant_id: str | None = None
    only: Sequence[str] = ()
    skip: Sequence[str] = ()
    dns_servers: Sequence[str] = ()
    timeout: float = 5.0
    deadline: float = 90.0
    concurrency: int = 32
    proxy: str | None = None
    pac: str | None = None
    wpad_domains: Sequence[str] = ()
    connector_config: str | None = None
    proxy_credentials: bool = False
    ntp_servers: Sequence[str] = ()
    public_roots: str | None = None
    setting_options: Sequence[str] = ()
    strict: bool = False
    reporter_failures: Sequence[Any] = ()  # reporters that failed to load: error results in the report
    progress: Progress | None = None


@dataclasses.dataclass
class Outcome:
    report: Report
    profile: profile_mod.Profile
    proxy_settings: ProxySettings
    attachments: dict[str, str]


def run(request: RunRequest) -> Outcome:
    """One run, as `preflight run` and `preflight bundle` do it: the options checked (one-line UsageError), the
    plan built, the proxy route settled, the tenant looked up, the checks run under the deadline and signals, and
    the report assembled. Nothing is written: the caller renders the report."""
    import asyncio

    from preflight.engine import checksettings
    from preflight.engine import plan as plan_mod
    from preflight.engine.context import RunOptions
    from preflight.engine.runner import RunState, failure_result
    from preflight.proxy.automatic import plan_request
    from preflight.proxy.winhttp_api import default_api
    from preflight.proxy.wpad import parse_domain_option
    from preflight.reporting.report import Report, host_facts
    from preflight.tenant import discovery as tenant_mod

    extra = tuple(plan_mod.parse_endpoint_option(e) for e in request.endpoints)
    given = tenant_mod.parse_tenant_option(request.tenant_id) if request.tenant_id is not None else None
    servers = tuple(
        plan_mod.parse_server_option(s, option="--dns-server", default_port=53) for s in request.dns_servers
    )
    domains = [parse_domain_option(d) for d in request.wpad_domains]
    if "none" in domains and len(domains) > 1:
        raise UsageError("--wpad-domain none turns discovery off: it cannot be combined with other suffixes")
    overrides = [checksettings.parse_set_option(text) for text in request.setting_options]
    profile = profile_mod.load(request.profile_name)
    if len(profile.endpoints) + len(extra) > profile_mod.MAX_ENDPOINTS:
        raise UsageError(
            f"--endpoint: {len(extra):,} added to the profile's {len(profile.endpoints):,} rows: a run "
            f"takes at most {profile_mod.MAX_ENDPOINTS:,}"
        )
    loaded = load_checks(request.only, request.skip)
    if not loaded.checks and not loaded.failures:
        only, skip = " ".join(request.only), " ".join(request.skip)
        raise UsageError(f"no check matches --only {only!r} / --skip {skip!r} (see 'preflight checks')")
    check_settings = checksettings.resolve(
        loaded.checks, profile.checks, profile.origin, overrides, registered_check_ids()
    )
    proxy_settings = _proxy_settings(request.proxy, request.proxy_credentials, request.connector_config)
    known_tenant = _known_tenant(given)

    def build_plan(tenant: tenant_mod.TenantResolution, settings: ProxySettings) -> plan_mod.Plan:
        """The plan for a tenant (its GUID fills {tenant_id}), over the proxy settings as they stand."""
        return plan_mod.build(
            profile,
            extra_endpoints=extra,
            tenant_id=tenant.guid,
            proxy=settings,
            tenant=tenant,
            check_settings=check_settings,
        )

    plan = build_plan(known_tenant, proxy_settings)
    attachments = config_attachments(proxy_settings, request.connector_config)
    auto = plan_request(proxy_settings.inputs, request.pac, domains, default_api(request.timeout))
    options = RunOptions(
        timeout=request.timeout,
        deadline=request.deadline,
        concurrency=request.concurrency,
        dns_servers=servers,
        public_roots=str(Path(request.public_roots).resolve()) if request.public_roots else None,
        ntp_servers=tuple(_ntp_server(s) for s in request.ntp_servers),
    )

    state = RunState()
    stages = _Stages(plan, build_plan, given, auto, options, state, request.progress or _Silent())
    try:
        with contextlib.redirect_stdout(sys.stderr):  # stdout carries the report: a plugin's prints go to stderr
            asyncio.run(stages.run(loaded.checks, loaded.failures))
    except KeyboardInterrupt:  # platforms without loop signal handlers (Windows)
        state.ended_by = state.ended_by or "SIGINT"
    plan = stages.plan
    attachments.update(stages.scripts)
    progress = stages.progress
    state.ended_by = state.ended_by or signals.pending()
    progress.clear()

    results = state.ordered_results() + [failure_result(f) for f in request.reporter_failures]
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
        options=_options_json(options, request, extra, plan.proxy, plan.tenant or known_tenant, overrides),
        started_at=state.started_at,
        duration_ms=round(((state.finished_at or time.time()) - state.started_at) * 1000),
        results=results,
        ended_by=state.ended_by,
        strict=request.strict,
    )
    return Outcome(report, profile, plan.proxy, attachments)


class _Stages:
    """One run's stages, in order, under one deadline and the signals: the proxy scripts settled (the configured
    PAC, WPAD, WinHTTP's own answer) for the profile's endpoints; the tenant looked up (a domain given) and the
    scripts asked again for its names; the checks. One context serves all three, so a name resolved or a resolver
    found silent in one stage is not asked again in the next. `plan` is the plan as it stands after each stage."""

    def __init__(
        self,
        plan: plan_mod.Plan,
        build_plan: Callable[[TenantResolution, ProxySettings], plan_mod.Plan],
        given: TenantInput | None,
        auto: AutomaticRequest,
        options: RunOptions,
        state: RunState,
        progress: Progress,
    ) -> None:
        from preflight.engine.context import RunContext

        self.plan, self.build_plan, self.given, self.auto = plan, build_plan, given, auto
        self.options, self.state, self.progress = options, state, progress
        self.tenant = plan.tenant if plan.tenant is not None else _known_tenant(given)
        self.ctx = RunContext(plan, options)
        self.scripts: dict[str, str] = {}  # the scripts read, for a bundle's evidence/
        self.evaluation: Any = None  # the AutomaticProxy, when anything is automatic
        self.stop: Any = None  # the asyncio.Event every stage stops on (made inside the loop)

    def remaining(self) -> RunOptions:
        left = self.options.deadline - (time.time() - self.state.started_at)
        return dataclasses.replace(self.options, deadline=max(0.01, left))

    def on_signal(self, name: str) -> None:
        if self.state.ended_by is None:
            self.state.ended_by = name
        self.stop.set()

    async def run(self, checks: Any, failures: Any) -> None:
        import asyncio

        loop = asyncio.get_running_loop()
        self.stop = asyncio.Event()
        with signals.listening(lambda name: loop.call_soon_threadsafe(self.on_signal, name)):
            early = signals.pending()  # a signal while starting or planning: plan, then stop at once
            if early is not None:
                self.on_signal(early)
            try:
                await self.settle_scripts()
                await self.find_tenant()
                await self.run_checks(checks, failures)
            finally:
                if self.evaluation is not None:
                    await self.evaluation.close()

    async def settle_scripts(self) -> None:
        """Stage 1: load the scripts and ask them for every profile endpoint (and the tenant's sign-in host)."""
        from preflight.model import Target
        from preflight.proxy.automatic import AutomaticProxy

        if not self.auto.active:
            return
        evaluation = self.evaluation = AutomaticProxy(self.auto, self.ctx, self.options.timeout)
        first_targets = list(self.plan.port_targets())
        if self.given is not None and self.given.domain is not None:
            first_targets.append(Target(host=urlsplit(self.plan.profile.tenant.authority).hostname or "", port=443))

        async def settle() -> ProxySettings:
            await evaluation.load()
            return await evaluation.decide(self.plan.proxy, first_targets)

        await self._replan_with(settle())
        self.scripts.update(evaluation.scripts)

    async def find_tenant(self) -> None:
        """Stage 2 (a tenant domain given): look it up on the route the scripts decided, then ask the scripts
        about the tenant's own names (its bootstrap host)."""
        if self.given is None or self.given.domain is None:
            return
        self.ctx.replan(self.plan)
        self.tenant = await _look_up_tenant(self.plan, self.ctx, self.given, self.remaining(), self.state, self.stop)
        self.plan = self.build_plan(self.tenant, self.plan.proxy)
        if self.evaluation is not None:
            await self._replan_with(self.evaluation.decide(self.plan.proxy, self.plan.port_targets()))

    async def run_checks(self, checks: Any, failures: Any) -> None:
        """Stage 3: every check, on the plan as the first two stages left it."""
        from preflight.engine.runner import execute

        await execute(
            self.plan, checks, failures, self.remaining(), self.state, self.stop, self.progress.update, self.ctx
        )

    async def _replan_with(self, decided: Awaitable[ProxySettings]) -> None:
        """The plan over what the scripts decided, or over what they had decided when the run was ended."""
        settled = await _until_stopped(decided, self.remaining(), self.state, self.stop)
        proxy = settled if settled is not None else self.evaluation.interrupted(self.plan.proxy)
        self.plan = self.build_plan(self.tenant, proxy)


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


async def _look_up_tenant(
    plan: plan_mod.Plan, ctx: Probes, given: TenantInput, options: RunOptions, state: RunState, stop: Any
) -> TenantResolution:
    """The tenant lookup, ended like any probe by the deadline or a signal (then the run stops at once)."""
    from preflight.tenant.discovery import TenantResolution
    from preflight.tenant.lookup import look_up

    found = await _until_stopped(look_up(plan, ctx, given), options, state, stop)
    if found is not None:
        return found
    ended = "run.deadline" if state.ended_by == "deadline" else "run.interrupted"
    return TenantResolution("domain", given.text, ended=ended)


def _known_tenant(given: TenantInput | None) -> TenantResolution:
    """The tenant known before anything is asked on the network: a GUID given, or an installed connector's."""
    from preflight.host import installed
    from preflight.tenant.discovery import TenantResolution

    if given is not None:
        return TenantResolution("guid" if given.guid else "domain", given.text, given.guid)
    found = installed.read_host_tenant(installed.default_reader())
    if found.outcome == "found":
        return TenantResolution("host", guid=found.tenant_id, host=found.evidence)
    if found.outcome == "unreadable":
        return TenantResolution("none", host=found.evidence, host_problem=found.problem)
    return TenantResolution("none")


def _proxy_settings(value: str | None, use_credentials: bool, connector_config: str | None) -> ProxySettings:
    from preflight.proxy.settings import ProxySettings, read_inputs
    from preflight.proxy.windows import default_reader

    return ProxySettings(read_inputs(value, use_credentials, connector_config, os.environ, default_reader()))


def config_attachments(settings: ProxySettings, connector_config: str | None) -> dict[str, str]:
    """The .NET configuration files the routes came from (--connector-config, or the connector's and its
    updater's as found on this host), for a bundle's evidence/: support reads what the connector reads."""
    from preflight.proxy.windows import NET_DEFAULTS

    inputs = settings.inputs
    connector = connector_config or (inputs.connector.source if inputs.connector else None)
    files = {
        "evidence/connector.config": connector,
        "evidence/updater.config": inputs.updater.source if inputs.updater else None,
    }
    found: dict[str, str] = {}
    for name, path in files.items():
        if path is not None and path != NET_DEFAULTS:
            with contextlib.suppress(OSError):  # gone since it was read: the report still says what it held
                found[name] = _read_bounded(path)
    return found


def _read_bounded(path: str, limit: int = 1024 * 1024) -> str:
    from preflight.textfile import decode_text

    with open(path, "rb") as handle:
        data = handle.read(limit)
    try:
        return decode_text(data)  # a UTF-16 file with its BOM, as Notepad may save it, read as .NET reads it
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace")


def _ntp_server(value: str) -> str:
    """An --ntp-server value, checked (HOST[:PORT], [IPV6]:PORT) and kept as written."""
    from preflight.netutil import split_host_port

    split_host_port(
        value,
        option="--ntp-server",
        default_port=123,
        valid_name=lambda host: profile_mod.is_valid_host(host) and "{" not in host,
    )
    return value.strip()


def _proxy_option(proxy: ProxySettings) -> str | None:
    if proxy.inputs.explicit_none:
        return "none"
    return proxy.inputs.explicit.display if proxy.inputs.explicit else None


def _options_json(
    options: RunOptions,
    request: RunRequest,
    extra: tuple[Endpoint, ...],
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
        "only": list(request.only),
        "skip": list(request.skip),
        "extra_endpoints": [f"{e.host}:{','.join(map(str, e.ports))}" for e in extra],
        "strict": request.strict,
        "public_roots": options.public_roots,
        "ntp_servers": list(options.ntp_servers),
        "proxy": _proxy_option(proxy),
        "settings": [{"check": check_id, "key": key, "value": value} for check_id, key, value in overrides],
    }
