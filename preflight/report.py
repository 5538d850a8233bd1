"""The report: every result of a run plus the facts a reader needs to trust it. Reporters render this."""

from __future__ import annotations

import dataclasses
import datetime as dt
import platform
import socket
import sys
from typing import Any

from preflight import policy
from preflight.errors import UsageError
from preflight.model import CheckResult

SCHEMA_VERSION = "1.0"


class ReportError(UsageError):
    pass


@dataclasses.dataclass(frozen=True)
class Report:
    tool_version: str
    profile: dict[str, Any]
    host: dict[str, Any]
    options: dict[str, Any]
    started_at: float
    duration_ms: int
    results: list[CheckResult]
    ended_by: str | None = None
    strict: bool = False

    @property
    def counts(self) -> dict[str, int]:
        return policy.counts(self.results)

    @property
    def verdict(self) -> str:
        return policy.verdict(self.results, self.ended_by)

    @property
    def exit_code(self) -> int:
        return policy.exit_code(self.results, self.ended_by, strict=self.strict)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "connector-preflight", "version": self.tool_version},
            "profile": self.profile,
            "host": self.host,
            "options": self.options,
            "started_at": dt.datetime.fromtimestamp(self.started_at, dt.UTC).isoformat(timespec="milliseconds"),
            "duration_ms": self.duration_ms,
            "ended_by": self.ended_by,
            "summary": {"counts": self.counts, "verdict": self.verdict, "exit_code": self.exit_code},
            "results": [r.to_json() for r in self.results],
        }


def from_json(data: Any, origin: str) -> Report:
    """A saved report, read back for show/diff/merge. Anything malformed is one ReportError naming the problem."""
    import datetime as _dt

    if not isinstance(data, dict):
        raise ReportError(f"{origin}: not a connector-preflight report (top level is not an object)")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ReportError(f"{origin}: unsupported schema_version {data.get('schema_version')!r} "
                          f"(this tool reads {SCHEMA_VERSION})")  # fmt: skip
    try:
        started = _dt.datetime.fromisoformat(str(data["started_at"])).timestamp()
        results = [CheckResult.from_json(r) for r in data["results"]]
        return Report(
            tool_version=str(data["tool"]["version"]),
            profile=dict(data["profile"]),
            host=dict(data["host"]),
            options=dict(data.get("options") or {}),
            started_at=started,
            duration_ms=int(data["duration_ms"]),
            results=results,
            ended_by=data.get("ended_by"),
            strict=bool((data.get("options") or {}).get("strict", False)),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ReportError(f"{origin}: not a valid report ({type(exc).__name__}: {exc})") from None


def load(path: str) -> Report:
    """A saved JSON report, or the report inside a support bundle (checked against its manifest first)."""
    import json

    from preflight.bundle import archive

    if archive.is_bundle(path):
        files = archive.read(path)
        if "report.json" not in files:
            raise ReportError(f"{path}: the bundle has no report.json")
        try:
            return from_json(json.loads(files["report.json"]), f"{path}!report.json")
        except (ValueError, UnicodeDecodeError) as exc:
            raise ReportError(f"{path}!report.json: not JSON ({exc})") from None

    try:
        text = open(path, encoding="utf-8").read()  # noqa: SIM115
    except OSError as exc:
        raise ReportError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ReportError(f"{path}: not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from None
    return from_json(data, path)


def host_facts() -> dict[str, Any]:
    return {
        "hostname": socket.gethostname(),
        "os": platform.system(),
        "os_release": platform.release(),
        "os_version": platform.version(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": sys.platform,
    }
