"""Per-check settings. A check declares its settings with their defaults (`settings = {"allowed_ports": [80, 443]}`);
a profile overrides them in a `[checks."<id>"]` table, and `--set ID.KEY=VALUE` overrides both. A value must have
the type of its default, so a typo or a wrong type is a one-line error before anything is probed. No engine file
changes when a check gains a setting: the check reads `plan.settings_for(self)`.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from preflight.errors import UsageError


def parse_set_option(text: str) -> tuple[str, str, Any]:
    """'example.port_list.allowed_ports=[443, 8398]' → (check id, key, value). The value is read as a TOML value
    when it is one (a number, true/false, a [list], a "quoted string"), else taken as a plain string."""
    target, sep, raw = text.partition("=")
    check_id, dot, key = target.strip().rpartition(".")
    if not sep or not dot or not check_id or not key:
        raise UsageError(f"--set {text!r}: expected ID.KEY=VALUE (e.g. example.port_list.allowed_ports=[443])")
    try:
        value = tomllib.loads(f"value = {raw.strip()}")["value"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return check_id, key, value


def resolve(
    checks: Iterable[Any],
    profile_tables: Mapping[str, Mapping[str, Any]],
    profile_origin: str,
    overrides: Sequence[tuple[str, str, Any]],
    known_ids: Iterable[str] = (),
) -> dict[str, dict[str, Any]]:
    """Every loaded check's settings: its defaults, then the profile's table, then --set. Settings for a check that
    is installed but not selected are ignored; for a check nobody installed, --set is an error (a typo), while a
    profile's table is kept for hosts that have the plugin."""
    by_id = {check.id: check for check in checks}
    known = set(known_ids) | set(by_id)
    resolved: dict[str, dict[str, Any]] = {}
    for check_id, check in by_id.items():
        defaults: Mapping[str, Any] = getattr(check, "settings", {}) or {}
        values = dict(defaults)
        for key, value in profile_tables.get(check_id, {}).items():
            where = f'{profile_origin}: [checks."{check_id}"] {key}'
            values[key] = _checked(where, check_id, defaults, key, value)
        resolved[check_id] = values
    for check_id, key, value in overrides:
        where = f"--set {check_id}.{key}"
        if check_id not in known:
            raise UsageError(f"{where}: no installed check has the id {check_id!r} (see 'preflight checks')")
        if check_id in by_id:
            resolved[check_id][key] = _checked(
                where, check_id, getattr(by_id[check_id], "settings", {}) or {}, key, value
            )
    return resolved


def _checked(where: str, check_id: str, defaults: Mapping[str, Any], key: str, value: Any) -> Any:
    if key not in defaults:
        known = ", ".join(sorted(defaults)) or "none"
        raise UsageError(f"{where}: {check_id} has no setting {key!r} (its settings: {known})")
    default = defaults[key]
    if not _same_kind(default, value):
        raise UsageError(f"{where}: {value!r} is not {_kind(default)}, the type of its default {default!r}")
    if any(isinstance(number, float) and not math.isfinite(number) for number in _numbers(value)):
        raise UsageError(f"{where}: {value!r} is not a finite number (TOML and --set both read nan and inf)")
    return float(value) if isinstance(default, float) else value


def _numbers(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _same_kind(default: Any, value: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, int | float)
    if isinstance(default, list | tuple):
        if not isinstance(value, list):
            return False
        return not default or all(_same_kind(default[0], item) for item in value)
    return isinstance(value, type(default))


def _kind(default: Any) -> str:
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, list | tuple):
        if not default:
            return "a list"
        plural = {bool: "true/false values", int: "integers", float: "numbers", str: "strings"}
        return f"a list of {plural.get(type(default[0]), type(default[0]).__name__)}"
    return {int: "an integer", float: "a number", str: "a string"}.get(type(default), type(default).__name__)
