"""The `preflight` command: click adapters over the library. Each command turns its options into a call
(`app.run`, `report.load`, `merge.render`, ...) and its result into output and an exit code; the logic lives
in those modules. Usage and profile errors exit 2 with one line saying what and where.

- group: the `preflight` group, one-line errors, --ascii
- options: the options `run`, `bundle` and `watch` share, and the watch's own
- run: `run` and `bundle`; watch: `watch` (and `bundle --watch`); offline: `show`, `diff`, `merge`, `checks`,
  `explain`, `profiles`
- main: the console script's entry, signals and the exit code
"""

from preflight.cli.group import cli
from preflight.cli.main import main

__all__ = ["cli", "main"]
