"""Finds checks and reporters through entry points, the same way for built-ins and third-party packages.

A plugin that fails to load is recorded as a failure naming it, never raised: the run goes on without it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import inspect
import sys
import traceback
from collections.abc import Iterable, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any, cast

from preflight.check import Check, Reporter
from preflight.model import CodeDoc

CHECK_GROUP = "preflight.checks"
REPORTER_GROUP = "preflight.reporters"


@dataclasses.dataclass(frozen=True)
class PluginFailure:
    name: str
    group: str
    target: str  # the entry point's "module:attr"
    message: str
    trace: str


@dataclasses.dataclass
class Loaded:
    checks: list[Check]
    failures: list[PluginFailure]


def selected(name: str, only: Iterable[str], skip: Iterable[str]) -> bool:
    only = list(only)
    if only and not any(fnmatch.fnmatchcase(name, pattern) for pattern in only):
        return False
    return not any(fnmatch.fnmatchcase(name, pattern) for pattern in skip)


def _entry_points(group: str) -> list[EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=group):
        found.setdefault(ep.name, ep)  # the first distribution on sys.path wins, as for imports
    return sorted(found.values(), key=lambda ep: ep.name)


def _failure(ep: EntryPoint, group: str, message: str, trace: str = "") -> PluginFailure:
    return PluginFailure(name=ep.name, group=group, target=ep.value, message=message, trace=trace)


def _instantiate(ep: EntryPoint) -> Any:
    with contextlib.redirect_stdout(sys.stderr):  # stdout may carry a report: a plugin's prints go to stderr
        obj = ep.load()
        return obj() if inspect.isclass(obj) else obj


_FAILED = object()


def _load(ep: EntryPoint, group: str, failures: list[PluginFailure]) -> Any:
    """The plugin's object, or _FAILED with the failure recorded: a broken plugin never stops the others."""
    try:
        return _instantiate(ep)
    except Exception as exc:
        failures.append(_failure(ep, group, f"import failed: {type(exc).__name__}: {exc}", traceback.format_exc()))
        return _FAILED


def validate_check(obj: Any) -> str | None:
    """What is wrong with a loaded check object, or None if it is usable."""
    for attr, kind in (("id", str), ("title", str), ("requires", str)):
        if not isinstance(getattr(obj, attr, None), kind):
            return f"missing or non-string attribute {attr!r}"
    if not isinstance(getattr(obj, "needs", None), tuple):
        return "attribute 'needs' must be a tuple of check ids"
    if not isinstance(getattr(obj, "after", ()), tuple):
        return "attribute 'after' must be a tuple of check ids"
    if not isinstance(getattr(obj, "reuses_connection", False), bool):
        return "attribute 'reuses_connection' must be True or False"
    declared = getattr(obj, "settings", {})
    if not isinstance(declared, Mapping) or not all(isinstance(k, str) for k in declared):
        return "attribute 'settings' must map each setting's name to its default"
    codes = getattr(obj, "codes", None)
    if not isinstance(codes, Mapping) or not all(isinstance(v, CodeDoc) for v in codes.values()):
        return "attribute 'codes' must map each reason code to a CodeDoc"
    if not callable(getattr(obj, "targets", None)):
        return "method 'targets' is missing"
    if not inspect.iscoroutinefunction(getattr(obj, "run", None)):
        return "method 'run' must be 'async def'"
    return None


def load_checks(only: Iterable[str] = (), skip: Iterable[str] = ()) -> Loaded:
    only, skip = list(only), list(skip)
    checks: list[Check] = []
    failures: list[PluginFailure] = []
    for ep in _entry_points(CHECK_GROUP):
        if not selected(ep.name, only, skip):
            continue
        obj = _load(ep, CHECK_GROUP, failures)
        if obj is _FAILED:
            continue
        problem = validate_check(obj)
        if problem is None and any(c.id == obj.id for c in checks):
            problem = f"duplicate check id {obj.id!r}"
        if problem is not None:
            failures.append(_failure(ep, CHECK_GROUP, f"not a valid check: {problem}"))
            continue
        checks.append(with_defaults(obj))
    ordered, cyclic = _dependency_order(checks)
    for check in cyclic:
        failures.append(
            PluginFailure(check.id, CHECK_GROUP, check.id, f"circular 'needs': {', '.join(check.needs)}", "")
        )
    return Loaded(checks=ordered, failures=failures)


def registered_check_ids() -> list[str]:
    """The ids every installed check is registered under (loaded or not)."""
    return [ep.name for ep in _entry_points(CHECK_GROUP)]


def with_defaults(check: Any) -> Check:
    """The protocol's optional attributes, filled in where a plugin left them out."""
    for name, default in (("after", ()), ("reuses_connection", False), ("settings", {})):
        if not hasattr(check, name):
            setattr(check, name, default)
    return cast(Check, check)


def _dependency_order(checks: list[Check]) -> tuple[list[Check], list[Check]]:
    """Checks ordered so each comes after what it needs (among those loaded); the rest are in a cycle."""
    by_id = {c.id: c for c in checks}
    ordered: list[Check] = []
    placed: set[str] = set()
    pending = list(checks)
    while pending:
        ready = [c for c in pending if all(n in placed or n not in by_id for n in (*c.needs, *c.after))]
        if not ready:
            return ordered, pending
        for check in ready:
            ordered.append(check)
            placed.add(check.id)
            pending.remove(check)
    return ordered, []


def all_codes(checks: Iterable[Check]) -> dict[str, tuple[str, CodeDoc]]:
    """Every documented code, with the check (or 'engine', 'diagnosis' for a whole-host cause, or the watch's
    own watch.stability and watch.idle) that owns it."""
    from preflight.codes import ENGINE_CODES
    from preflight.reporting.diagnosis import CAUSE_CODES
    from preflight.watch.codes import IDLE_CHECK, IDLE_CODES, STABILITY_CHECK, WATCH_CODES

    codes: dict[str, tuple[str, CodeDoc]] = {code: ("engine", doc) for code, doc in ENGINE_CODES.items()}
    codes.update({code: ("diagnosis", doc) for code, doc in CAUSE_CODES.items()})
    codes.update({code: (STABILITY_CHECK, doc) for code, doc in WATCH_CODES.items()})
    codes.update({code: (IDLE_CHECK, doc) for code, doc in IDLE_CODES.items()})
    for check in checks:
        for code, doc in check.codes.items():
            codes.setdefault(code, (check.id, doc))
    return codes


@dataclasses.dataclass
class LoadedReporters:
    reporters: dict[str, Reporter]
    failures: list[PluginFailure]


def load_reporters() -> LoadedReporters:
    reporters: dict[str, Reporter] = {}
    failures: list[PluginFailure] = []
    for ep in _entry_points(REPORTER_GROUP):
        obj = _load(ep, REPORTER_GROUP, failures)
        if obj is _FAILED:
            continue
        if not callable(getattr(obj, "render", None)):
            failures.append(_failure(ep, REPORTER_GROUP, "not a valid reporter: method 'render' is missing"))
            continue
        reporters[ep.name] = obj
    return LoadedReporters(reporters=reporters, failures=failures)
