"""The report: every result of a run plus the facts a reader needs to trust it. Reporters render this."""

from __future__ import annotations

import dataclasses
import datetime as dt
import platform
import socket
import sys
from typing import Any

from preflight import policy
from preflight.model import CheckResult

SCHEMA_VERSION = "1.0"


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
