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
    wrong = wrong_python(sys.argv[0], sys.version_info[:2])
    if wrong is not None:
        print(f"preflight: {wrong}", file=sys.stderr)
        sys.exit(2)
    if sys.argv[1:] == ["--version"]:  # what click's version option prints, without importing click (~60 ms)
        from preflight import __version__

        print(f"connector-preflight, version {__version__}")
        sys.exit(0)
    from preflight.cli import main as cli_main

    cli_main()


def wrong_python(program: str, running: tuple[int, ...]) -> str | None:
    """One line when a zipapp built for one Python minor version (connector-preflight-linux-py3.11.pyz, its name
    says which: its compiled modules, cffi's and dukpy's, load on that one only) is run by another. Pure."""
    import re

    found = re.search(r"-py(\d+)\.(\d+)\.pyz$", program.replace("\\", "/").rsplit("/", 1)[-1])
    if found is None:
        return None
    built = (int(found.group(1)), int(found.group(2)))
    if tuple(running[:2]) == built:
        return None
    want, have = f"{built[0]}.{built[1]}", f"{running[0]}.{running[1]}"
    return (
        f"{program} was built for Python {want} and this is Python {have}: run it with Python {want} "
        f"(python{want} on Linux, py -{want} on Windows), or build one for {have} with deploy/build.sh"
    )
