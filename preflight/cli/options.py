"""The options `run` and `bundle` share: what to check and how. Their values become an `app.RunRequest` field
by field (the option's name is the field's)."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from preflight.model import DEFAULT_PROFILE

if TYPE_CHECKING:
    from preflight import app


class FiniteRange(click.FloatRange):
    """click's FloatRange, which lets `nan` through (every comparison with it is false): a NaN timeout never
    fires, and a NaN in the report's options is no longer strict JSON."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


RUN_OPTIONS = [
    click.option(
        "--profile",
        "profile_name",
        default=DEFAULT_PROFILE,
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
        type=FiniteRange(min=0.05, max=300),
        default=5.0,
        show_default=True,
        help="Seconds for each network wait (DNS query, TCP connect).",
    ),
    click.option(
        "--deadline",
        type=FiniteRange(min=0.1, max=3600),
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


def run_options(command: Any) -> Any:
    """The options `run` and `bundle` share: what to check and how."""
    for option in reversed(RUN_OPTIONS):
        command = option(command)
    return command


# The watch's options (`watch`, and `bundle --watch`), None when not given: the defaults are applied by the
# command (a bundle refuses them without --watch).
WATCH_FLAGS = {
    "watch_for": "--for",
    "watch_every": "--every",
    "idle_ladder": "--idle-ladder",
    "idle_needed": "--idle-needed",
    "idle_targets": "--idle-target",
}
WATCH_DEFAULTS: dict[str, Any] = {
    "watch_for": "10m",
    "watch_every": "1m",
    "idle_ladder": "30s,1m,2m,4m,5m,10m,15m,30m",
    "idle_needed": "4m",
    "idle_targets": (),
}

WATCH_OPTIONS = [
    click.option(
        WATCH_FLAGS["watch_for"],
        "watch_for",
        metavar="DURATION",
        help="How long to watch (30s, 10m, 2h, 1d; at most 7d; default 10m). No round starts after it.",
    ),
    click.option(
        WATCH_FLAGS["watch_every"],
        "watch_every",
        metavar="INTERVAL",
        help="Time from one round's start to the next (default 1m; a round that overruns is followed at once).",
    ),
    click.option(
        WATCH_FLAGS["idle_ladder"],
        "idle_ladder",
        metavar="D,D,...",
        help="How long the idle probe holds each connection before using it (holds that cannot finish within "
        "--for are left out; default 30s,1m,2m,4m,5m,10m,15m,30m); 'none' turns the idle probe off.",
    ),
    click.option(
        WATCH_FLAGS["idle_needed"],
        "idle_needed",
        metavar="DURATION",
        help="The idle time a path must survive (default 4m: Azure Firewall's north-south idle timeout).",
    ),
    click.option(
        WATCH_FLAGS["idle_targets"],
        "idle_targets",
        multiple=True,
        metavar="HOST[:PORT]",
        help="Hold these endpoints idle instead of the profile's concrete service rows (repeatable, at most 4).",
    ),
]


def watch_options(command: Any) -> Any:
    """The watch's schedule and idle probe options."""
    for option in reversed(WATCH_OPTIONS):
        command = option(command)
    return command


def run_request(options: dict[str, Any], reporter_failures: Sequence[Any]) -> app.RunRequest:
    """The shared options as a RunRequest; --quiet becomes whether a progress line is drawn."""
    from preflight import app
    from preflight.reporting.progress import ProgressLine

    values = {k: v for k, v in options.items() if k != "quiet"}
    progress = ProgressLine(sys.stderr, enabled=not options["quiet"] and sys.stderr.isatty())
    return app.RunRequest(**values, reporter_failures=tuple(reporter_failures), progress=progress)
