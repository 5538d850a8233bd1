"""The console script's entry: --ascii before anything prints, signals before a command runs, and the exit code
a finished command chose."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import NoReturn

from preflight import signals
from preflight.cli import offline, run, watch  # noqa: F401  (each registers its commands on the group)
from preflight.cli.group import accept_ascii_everywhere, cli
from preflight.reporting import policy, streams

accept_ascii_everywhere(cli)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    args = list(argv) if argv is not None else sys.argv[1:]
    streams.configure(streams.ascii_requested(args))  # before anything is printed, usage errors included
    command = next((a for a in args if not a.startswith("-")), None)
    if command not in ("run", "bundle", "watch"):  # only runs turn a signal into a partial report
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
