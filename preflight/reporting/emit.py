"""Where a run's report goes: `--format FORMAT[=PATH]` and `--output`, parsed and checked before the run spends
minutes probing, then every format rendered and written. A format that fails is one line on stderr; the others
still come out."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from preflight.errors import UsageError
from preflight.reporting import streams
from preflight.reporting.output import unwritable_reason, write_atomic, write_stdout

if TYPE_CHECKING:
    from preflight.reporting.report import Report

STDOUT = "-"

Destination = tuple[str, str]  # (format name, a path or "-")


def parse_destinations(formats: Sequence[str], output: str, known: set[str]) -> list[Destination]:
    """`--format` values (FORMAT or FORMAT=PATH) with `--output` for those without a path; at most one format
    may go to stdout, and every file's directory must exist."""
    out: list[Destination] = []
    for spec in formats:
        name, sep, path = spec.partition("=")
        name = name.strip()
        if name not in known:
            raise UsageError(f"--format {spec!r}: unknown format (available: {', '.join(sorted(known))})")
        if sep and not path:
            raise UsageError(f"--format {spec!r}: missing path after '='")
        out.append((name, path if sep else output))
    to_stdout = [name for name, path in out if path == STDOUT]
    if len(to_stdout) > 1:
        raise UsageError(f"--format: only one format can go to stdout, got {', '.join(to_stdout)}")
    for _name, path in out:
        if path != STDOUT and not Path(path).parent.is_dir():
            raise UsageError(f"--output {path!r}: directory {str(Path(path).parent)!r} does not exist")
    return out


def check_writable(destinations: Sequence[Destination]) -> None:
    """Before probing: a typo in a path must not cost the whole run."""
    for name, path in destinations:
        reason = unwritable_reason(Path(path)) if path != STDOUT else None
        if reason is not None:
            raise UsageError(f"--format {name}={path}: {reason}")


def with_console_table(destinations: list[Destination], quiet: bool, known: set[str]) -> list[Destination]:
    """When every report goes to a file, the person at the console still sees the verdict (unless --quiet)."""
    if quiet or "table" not in known or any(path == STDOUT for _name, path in destinations):
        return destinations
    return [*destinations, ("table", STDOUT)]


def emit(
    report: Report, destinations: Sequence[Destination], reporters: dict[str, Any], say: Callable[[str], None]
) -> bool:
    """Renders and writes every requested format; `say` prints a one-line error for one that fails, and the
    others still come out. Returns False if any could not be produced."""
    from preflight.reporting.report import redacted

    report = redacted(report)  # the one redaction pass: no reporter sees a secret, a third party's neither
    complete = True
    for name, path in destinations:
        reporter = reporters[name]
        try:
            with contextlib.redirect_stdout(sys.stderr):  # a reporter's stray print must not corrupt stdout
                streaming = callable(getattr(reporter, "render_chunks", None)) and path != STDOUT
                data = reporter.render_chunks(report) if streaming else reporter.render(report)
                if path != STDOUT:
                    write_atomic(Path(path), data)
            if path == STDOUT:
                if streams.ascii_active() and isinstance(data, str) and name != "table":
                    data = streams.exact_ascii(data, markup=name in ("html", "junit"))  # escapes, not lookalikes
                write_stdout(data)
        except OSError as exc:
            where = "stdout" if path == STDOUT else path
            say(f"preflight: error: cannot write {name} report to {where}: {exc.strerror or exc}")
            complete = False
        except Exception as exc:  # a broken reporter must not take the others down
            say(f"preflight: error: reporter {name!r} failed: {type(exc).__name__}: {exc}")
            complete = False
    return complete
