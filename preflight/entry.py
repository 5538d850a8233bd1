"""The console script: signal recording goes in before the heavy imports (click, httpx, cryptography), so a
signal during start-up is not lost."""

from __future__ import annotations

from typing import NoReturn


def main() -> NoReturn:
    from preflight import signals

    signals.install()
    signals.install_console_handler()  # Windows: closing the console, logoff, shutdown (no-op elsewhere)
    from preflight.cli import main as cli_main

    cli_main()
