"""Writing a support bundle from a finished run: assembled, redacted, archived, and a signal while writing
aborts the write cleanly (the run's own signals already shaped the report)."""

from __future__ import annotations

import re
import signal
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from preflight import __version__, signals
from preflight.errors import UsageError
from preflight.reporting import policy
from preflight.reporting.output import unwritable_reason, write_atomic

if TYPE_CHECKING:
    from preflight.app import Outcome


def bundle_target(output: str) -> Path:
    """The bundle's path, checked before the run: a file in an existing directory that can be written."""
    target = Path(output)
    if target.is_dir() or not (target.parent if str(target.parent) else Path(".")).is_dir():
        raise UsageError(f"--output {output!r}: not a file in an existing directory")
    reason = unwritable_reason(target)
    if reason is not None:
        raise UsageError(f"--output {output}: {reason}")
    return target


def user_patterns(texts: Sequence[str]) -> list[re.Pattern[str]]:
    """--redact values as compiled patterns; a bad one is a UsageError naming it."""
    from preflight.redact import compile_user_pattern

    try:
        return [compile_user_pattern(text) for text in texts]
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def write_bundle(
    outcome: Outcome,
    target: Path,
    patterns: list[Any],
    pseudonymize: bool,
    reporters: dict[str, Any],
    say: Callable[[str], None],
) -> int | None:
    """Writes the bundle; returns an exit code when it could not be written (the run's verdict is already out).
    `say` prints one line for the person (the CLI's stderr)."""
    from preflight.bundle import archive, build, hostinfo
    from preflight.bundle.pseudonym import Pseudonymizer
    from preflight.redact import Redactor

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
        extra = {
            "tool_version": __version__,
            "profile_sha256": outcome.report.profile.get("sha256"),
            "redactions": contents.redactions,
            "user_patterns": len(patterns),
            "pseudonymized": pseudonymize,
            "verdict": outcome.report.verdict,
        }
        digest = archive.write(target, contents.files, extra, contents.audit_values, contents.audit_names, patterns)
        if pseudonymize:
            import json

            reverse = Path(f"{target}.pseudonyms.json")
            write_atomic(
                reverse,
                json.dumps(
                    {"bundle": target.name, "bundle_sha256": digest, "pseudonyms": contents.reverse_map}, indent=2
                )
                + "\n",
            )
    except archive.BundleError as exc:
        say(f"preflight: error: {exc}")
        return policy.EXIT_USAGE
    except KeyboardInterrupt as exc:
        name = str(exc) if str(exc) in policy.EXIT_SIGNAL else "SIGINT"
        say(f"preflight: error: bundle not written: interrupted by {name}")
        return policy.EXIT_SIGNAL[name]
    except OSError as exc:
        say(f"preflight: error: cannot write bundle {target}: {exc.strerror or exc}")
        return policy.EXIT_USAGE
    finally:
        signals.install()
    say(
        f"preflight: bundle written: {target} ({len(contents.files) + 1} files, {contents.redactions} redactions, "
        f"sha256 {digest})"
    )
    return None


def _raise_interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)
