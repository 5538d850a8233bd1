"""The console script: signal recording goes in before the heavy imports (click, httpx, cryptography), so a
signal during start-up is not lost."""

from __future__ import annotations

from typing import NoReturn


def main() -> NoReturn:
    import sys

    if sys.argv[1:] == ["--pac-worker"]:  # a frozen executable starts its PAC worker as itself (proxy/pac.py)
        from preflight.proxy.pacworker import main as pac_worker

        pac_worker()
        sys.exit(0)
    from preflight import signals

    signals.install()
    signals.install_console_handler()  # Windows: closing the console, logoff, shutdown (no-op elsewhere)
    from preflight.cli import main as cli_main

    cli_main()
