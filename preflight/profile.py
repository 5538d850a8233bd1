"""Profiles are data: TOML files listing the endpoints a connector needs, validated strictly.

tomllib keeps no positions, so errors are located by scanning the text for the table and key that failed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import math
import os
import re
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from preflight.errors import ProfileError
from preflight.model import DEFAULT_PROFILE as _DEFAULT_PROFILE
from preflight.model import Endpoint
from preflight.textfile import decode_text

DEFAULT_PROFILE = _DEFAULT_PROFILE  # defined in model, where the CLI's options read it without this module

PLACEHOLDERS = frozenset({"tenant_id"})
MAX_PROFILE_BYTES = 4 * 1024 * 1024  # the embedded profiles are about 10 KB
# Rows of a profile, and profile rows with --endpoint additions: a run over this many still ends within about its
# --deadline plus a few seconds of planning and writing (benchmarks/RESULTS.md); far more would not.
MAX_ENDPOINTS = 10_000
MAX_ROOTS_BYTES = 16 * 1024 * 1024  # certifi's bundle is about 300 KB

_TOP_KEYS = {
    "name": str,
    "description": str,
    "endpoint": list,
    "tls": dict,
    "clock": dict,
    "tenant": dict,
    "checks": dict,
}
_ENDPOINT_KEYS = {"host": str, "ports": list, "purpose": str, "source": str, "tls": bool, "role": str}
# "service": the row carries the connector's own traffic to the service (a run that did not probe it is incomplete)
ROLES = ("service",)
_TENANT_KEYS = {"authority": str, "cloud_instance_name": str}
_REQUIRED_ENDPOINT_KEYS = ("host", "ports", "purpose", "source")
_TLS_KEYS = {"expected_roots": str, "known_intermediates": str}
_CLOCK_KEYS = {"ntp_servers": list, "warn_s": (int, float), "fail_s": (int, float)}

# A label is literal text (letters, digits, '_' and inner '-', at most 63) and {placeholder}s. Checked label by
# label without nested repetition: the single pattern this replaces backtracked exponentially on names that
# almost matched (`--endpoint host/:443` ran for minutes).
_LITERAL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")
_PLACEHOLDER_PART = re.compile(r"(\{[a-z_]+\})")
_PLACEHOLDER_RE = re.compile(r"\{([a-z_]+)\}")


@dataclasses.dataclass(frozen=True)
class ClockPolicy:
    ntp_servers: tuple[str, ...] = ("time.windows.com",)
    warn_s: float = 60.0
    fail_s: float = 300.0


@dataclasses.dataclass(frozen=True)
class TenantPolicy:
    """Where a tenant domain is looked up (the cloud's sign-in authority) and which cloud the profile is for."""

    authority: str = "https://login.microsoftonline.com"
    cloud_instance_name: str = "microsoftonline.com"


@dataclasses.dataclass(frozen=True)
class Profile:
    name: str
    description: str
    endpoints: tuple[Endpoint, ...]
    origin: str  # "embedded:NAME" or the file path
    sha256: str
    expected_roots: Path | None = None
    # untrusted certificates offered to path building (a published cross-certificate the server may omit)
    known_intermediates: Path | None = None
    clock: ClockPolicy = ClockPolicy()
    tenant: TenantPolicy = TenantPolicy()
    # [checks."<id>"] tables: settings for that check (checked against its declared settings when it loads)
    checks: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)


def embedded_names() -> list[str]:
    folder = resources.files("preflight") / "profiles"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def embedded_text(name: str) -> str:
    if name not in embedded_names():
        raise ProfileError(f"unknown profile {name!r}: embedded profiles are {', '.join(embedded_names())}")
    return (resources.files("preflight") / "profiles" / f"{name}.toml").read_text(encoding="utf-8")


def load(name_or_path: str) -> Profile:
    """Load an embedded profile by name, or a profile file by path."""
    if name_or_path in embedded_names():
        folder = resources.files("preflight") / "profiles"
        with resources.as_file(folder) as base:
            return parse(embedded_text(name_or_path), origin=f"embedded:{name_or_path}", base_dir=Path(base))
    path = Path(name_or_path)
    try:
        exists = path.is_file()
    except OSError as exc:  # e.g. a folder this user may not enter
        raise ProfileError(f"{path}: cannot read profile: {exc.strerror or exc}") from None
    if not exists:
        raise ProfileError(
            f"profile {name_or_path!r}: no such file, and not an embedded profile ({', '.join(embedded_names())})"
        )
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_PROFILE_BYTES + 1)
        if len(data) > MAX_PROFILE_BYTES:
            raise ProfileError(f"{path}: larger than {MAX_PROFILE_BYTES // (1024 * 1024)} MiB: not a profile")
        text = decode_text(data)  # Notepad saves UTF-16 or a BOM
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read profile: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ProfileError(f"{path}: not UTF-8 or UTF-16 text ({exc.reason} at byte {exc.start})") from None
    return parse(text, origin=str(path), base_dir=path.parent)


def parse(text: str, *, origin: str, base_dir: Path) -> Profile:
    where = _Locator(text, origin)
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise ProfileError(f"{origin}: values nested too deep to read (a profile nests at most a few levels)") from None
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        message = re.sub(r"\s*\((at line \d+, column \d+|at end of document)\)", "", str(exc))
        opened = unclosed_bracket_line(text)
        if opened is not None and (match is None or int(match.group(1)) > opened):
            # the parser stops where it noticed; the mistake is the bracket that was never closed
            raise ProfileError(
                f"{origin}:{opened}: invalid TOML: {message} (a bracket opened on this line is never closed)"
            ) from None
        line = match.group(1) if match else str(max(1, len(text.splitlines())))
        raise ProfileError(f"{origin}:{line}: invalid TOML: {message}") from None

    _check_keys(data, _TOP_KEYS, where, ())
    for key in ("name", "endpoint"):
        if key not in data:
            raise ProfileError(f"{origin}:1: missing required key {key!r}")
    name = data["name"]
    if not name.strip():
        raise where.error(("name",), "must not be empty")

    if isinstance(data["endpoint"], list) and len(data["endpoint"]) > MAX_ENDPOINTS:
        raise where.error(
            ("endpoint",),
            f"{len(data['endpoint']):,} rows: a profile holds at most {MAX_ENDPOINTS:,} (a connector needs about 30)",
        )
    endpoints = tuple(_endpoint(row, i, where) for i, row in enumerate(data["endpoint"]))
    if not endpoints:
        raise where.error(("endpoint",), "a profile needs at least one [[endpoint]]")

    expected_roots = known_intermediates = None
    if "tls" in data:
        _check_keys(data["tls"], _TLS_KEYS, where, ("tls",))
        if "expected_roots" in data["tls"]:
            expected_roots = _bundle_path(base_dir, data["tls"]["expected_roots"], "expected_roots", where)
        if "known_intermediates" in data["tls"]:
            known_intermediates = _bundle_path(
                base_dir, data["tls"]["known_intermediates"], "known_intermediates", where
            )

    clock = ClockPolicy()
    if "clock" in data:
        clock = _clock(data["clock"], where)
    tenant = TenantPolicy()
    if "tenant" in data:
        tenant = _tenant(data["tenant"], where)
    checks: dict[str, dict[str, Any]] = {}
    for check_id, table in data.get("checks", {}).items():
        if not isinstance(table, dict):
            raise where.error(("checks", check_id), f'must be a table of settings ([checks."{check_id}"])')
        checks[check_id] = dict(table)

    return Profile(
        name=name,
        description=data.get("description", ""),
        endpoints=endpoints,
        origin=origin,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        expected_roots=expected_roots,
        known_intermediates=known_intermediates,
        clock=clock,
        tenant=tenant,
        checks=checks,
    )


def _bundle_path(base_dir: Path, value: str, key: str, where: _Locator) -> Path:
    """A [tls] certificate bundle named relative to the profile: it must exist and hold PEM certificates."""
    path = (base_dir / value).resolve()
    try:
        found = path.is_file() and os.access(path, os.R_OK)
    except OSError:
        found = False
    if not found:
        raise where.error(("tls", key), f"file not found or not readable: {path}")
    problem = _roots_problem(path)
    if problem is not None:
        raise where.error(("tls", key), f"{path}: {problem}")
    return path


def _roots_problem(path: Path) -> str | None:
    """Why a file cannot be the profile's anchors, read before the run starts (a typo that points at another file
    must not turn into judgements against no root at all): too large, or no PEM certificate in it. The
    certificates themselves are parsed, and each checked, when the TLS checks load them (pki/truststore.py)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_ROOTS_BYTES + 1)
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    if len(data) > MAX_ROOTS_BYTES:
        return f"larger than {MAX_ROOTS_BYTES // (1024 * 1024)} MiB: not a certificate bundle"
    if b"-----BEGIN CERTIFICATE-----" not in data:
        return "no PEM certificate in it (expected one or more -----BEGIN CERTIFICATE----- blocks)"
    return None


def unclosed_bracket_line(text: str) -> int | None:
    """The line of the first '[' or '{' in a value that is never closed (strings and comments skipped), if any."""
    stack: list[int] = []
    quote: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if quote is None and not stack and stripped.startswith("["):
            continue  # a table header: [tls], [[endpoint]]
        i = 0
        while i < len(line):
            char = line[i]
            if quote is not None:
                if line.startswith(quote, i):
                    i += len(quote)
                    quote = None
                    continue
                i += 2 if char == "\\" and quote == '"' else 1
                continue
            if char == "#":
                break
            if line.startswith(('"""', "'''"), i):
                quote = line[i : i + 3]
                i += 3
                continue
            if char in "\"'":
                quote = char
            elif char in "[{":
                stack.append(number)
            elif char in "]}" and stack:
                stack.pop()
            i += 1
        if quote in ('"', "'"):
            quote = None  # single-line strings end with their line
    return stack[0] if stack else None


def _endpoint(row: Any, index: int, where: _Locator) -> Endpoint:
    path = ("endpoint", index)
    if not isinstance(row, dict):
        raise where.error(path, "each endpoint must be a table ([[endpoint]])")
    _check_keys(row, _ENDPOINT_KEYS, where, path)
    for key in _REQUIRED_ENDPOINT_KEYS:
        if key not in row:
            raise where.error(path, f"missing required key {key!r}")
    host = row["host"].strip().lower()
    if not is_valid_host(host):
        raise where.error((*path, "host"), f"not a host name, wildcard or address: {row['host']!r}")
    for placeholder in _PLACEHOLDER_RE.findall(host):
        if placeholder not in PLACEHOLDERS:
            raise where.error((*path, "host"), f"unknown placeholder {{{placeholder}}} (known: tenant_id)")
    ports = row["ports"]
    if not ports:
        raise where.error((*path, "ports"), "must list at least one port")
    for port in ports:
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise where.error((*path, "ports"), f"not a TCP port (1-65535): {port!r}")
    if len(set(ports)) != len(ports):
        raise where.error((*path, "ports"), "lists a port twice")
    for key in ("purpose", "source"):
        if not row[key].strip():
            raise where.error((*path, key), "must not be empty")
    role = row.get("role")
    if role is not None and role not in ROLES:
        raise where.error((*path, "role"), f"unknown role {role!r} (known: {', '.join(ROLES)})")
    return Endpoint(
        host=host,
        ports=tuple(ports),
        purpose=row["purpose"].strip(),
        source=row["source"].strip(),
        tls=row.get("tls"),
        role=role,
    )


def _tenant(table: Any, where: _Locator) -> TenantPolicy:
    _check_keys(table, _TENANT_KEYS, where, ("tenant",))
    default = TenantPolicy()
    authority = table.get("authority", default.authority).strip().rstrip("/")
    if not re.match(r"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?$", authority):
        raise where.error(("tenant", "authority"), f"expected https://HOST[:PORT] (no path), got {authority!r}")
    cloud = table.get("cloud_instance_name", default.cloud_instance_name).strip().lower()
    if not is_valid_host(cloud):
        raise where.error(("tenant", "cloud_instance_name"), f"not a domain name: {cloud!r}")
    return TenantPolicy(authority=authority, cloud_instance_name=cloud)


def _clock(table: Any, where: _Locator) -> ClockPolicy:
    _check_keys(table, _CLOCK_KEYS, where, ("clock",))
    default = ClockPolicy()
    servers = table.get("ntp_servers", list(default.ntp_servers))
    for server in servers:
        if not isinstance(server, str) or not server.strip():
            raise where.error(("clock", "ntp_servers"), f"not a server name: {server!r}")
    warn_s = float(table.get("warn_s", default.warn_s))
    fail_s = float(table.get("fail_s", default.fail_s))
    if not (math.isfinite(warn_s) and math.isfinite(fail_s)) or warn_s <= 0 or fail_s <= 0:
        raise where.error(("clock",), "warn_s and fail_s must be positive numbers (not nan or inf)")
    if warn_s > fail_s:
        raise where.error(("clock", "warn_s"), f"warn_s ({warn_s:g}) is larger than fail_s ({fail_s:g})")
    return ClockPolicy(ntp_servers=tuple(servers), warn_s=warn_s, fail_s=fail_s)


def _check_keys(table: Any, allowed: dict[str, Any], where: _Locator, path: tuple[Any, ...]) -> None:
    if not isinstance(table, dict):
        raise where.error(path, "must be a table")
    for key, value in table.items():
        if key not in allowed:
            raise where.error((*path, key), f"unknown key (allowed: {', '.join(allowed)})")
        expected = allowed[key]
        # TOML booleans are ints to Python: a bool only satisfies a boolean key.
        ok = isinstance(value, expected) and not (isinstance(value, bool) and expected is not bool)
        if not ok:
            raise where.error((*path, key), f"wrong type: {_type_name(value)}, expected {_type_name(expected)}")


def _type_name(value: Any) -> str:
    names = {str: "string", list: "array", dict: "table", bool: "boolean", int: "integer", float: "float"}
    if isinstance(value, tuple):
        return " or ".join(names.get(t, t.__name__) for t in value)
    if isinstance(value, type):
        return names.get(value, value.__name__)
    return names.get(type(value), type(value).__name__)


def is_valid_host(host: str) -> bool:
    """An IP address, or a DNS name whose labels may hold {placeholders}, optionally `*.` first and a final dot.
    Linear in the name's length whatever it holds."""
    if not host or len(host) > 253:
        return False
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    name = host[2:] if host.startswith("*.") else host
    name = name[:-1] if name.endswith(".") else name
    return bool(name) and all(_valid_label(label) for label in name.split("."))


def _valid_label(label: str) -> bool:
    literals = _PLACEHOLDER_PART.split(label)[0::2]  # the text around the placeholders, each part maybe empty
    return bool(label) and all(not part or _LITERAL.fullmatch(part) for part in literals)


class _Locator:
    """Finds the line of a table or key in the profile text, for error messages."""

    def __init__(self, text: str, origin: str) -> None:
        self.lines = text.splitlines()
        self.origin = origin

    def error(self, path: tuple[Any, ...], problem: str) -> ProfileError:
        line = self.line_of(path)
        label = self.describe(path)
        return ProfileError(f"{self.origin}:{line if line else '?'}: {label}: {problem}")

    @staticmethod
    def describe(path: tuple[Any, ...]) -> str:
        parts: list[str] = []
        for part in path:
            if isinstance(part, int):
                parts[-1] = f"{parts[-1]}[{part + 1}]"
            else:
                parts.append(str(part))
        return ".".join(parts) if parts else "profile"

    def line_of(self, path: tuple[Any, ...]) -> int | None:
        table: str | None = None
        index: int | None = None
        key: str | None = None
        rest: list[Any] = list(path)
        if rest and rest[0] in ("endpoint", "tls", "clock", "tenant", "checks"):
            table = str(rest.pop(0))
            if rest and isinstance(rest[0], int):
                index = int(rest.pop(0))
        if rest:
            key = str(rest[0])

        start, end = 0, len(self.lines)
        if table is not None:
            header = re.compile(rf"^\s*\[\[?\s*{re.escape(table)}\s*\]\]?\s*(#.*)?$")
            hits = [i for i, line in enumerate(self.lines) if header.match(line)]
            pick = index if index is not None else 0
            if pick >= len(hits):
                return None
            start = hits[pick]
            if key is None:
                return start + 1
            following = [i for i, line in enumerate(self.lines) if i > start and re.match(r"^\s*\[", line)]
            end = following[0] if following else len(self.lines)
        elif key is not None:
            first_table = [i for i, line in enumerate(self.lines) if re.match(r"^\s*\[", line)]
            end = first_table[0] if first_table else len(self.lines)
        if key is None:
            return None
        pattern = re.compile(rf"""^\s*(["']?){re.escape(key)}\1\s*=""")
        for i in range(start, end):
            if pattern.match(self.lines[i]):
                return i + 1
        return start + 1 if table is not None else None
