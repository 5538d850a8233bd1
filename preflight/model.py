"""The result model: what a check observed (evidence) kept apart from what it concludes (status and code)."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any

from preflight.netutil import bracketed

DEFAULT_PROFILE = "entra-private-access"  # the embedded profile a run checks when --profile is not given


class Status(enum.StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"
    ERROR = "error"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]

    @property
    def evaluated(self) -> bool:
        """Whether a result with this status says something about the network (skip and error do not)."""
        return self in (Status.PASS, Status.WARN, Status.FAIL)


_SEVERITY = {Status.PASS: 0, Status.SKIP: 1, Status.WARN: 2, Status.ERROR: 3, Status.FAIL: 4}


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """One `[[endpoint]]` row of a profile, after placeholder expansion."""

    host: str
    ports: tuple[int, ...]
    purpose: str
    source: str
    tls: bool | None = None
    template: str | None = None  # the host as written, when it held a placeholder
    missing: tuple[str, ...] = ()  # placeholders that no option filled
    role: str | None = None  # "service": the row carries the connector's own service traffic

    @property
    def is_wildcard(self) -> bool:
        return self.host.startswith("*.")

    def tls_on(self, port: int) -> bool:
        if self.tls is not None:
            return self.tls
        return port in (443, 8398)


@dataclasses.dataclass(frozen=True)
class Target:
    """What one check run looks at: a host, optionally a port, optionally one address."""

    host: str
    port: int | None = None
    address: str | None = None
    purposes: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    wildcard: bool = False
    missing: tuple[str, ...] = ()
    template: str | None = None
    roles: tuple[str, ...] = ()  # the profile rows' roles ("service": the connector's own service traffic)

    @property
    def key(self) -> str:
        host = bracketed(self.host)
        key = host if self.port is None else f"{host}:{self.port}"
        if self.address is not None:
            key += f"@{self.address}"
        return key

    def covers(self, other: Target) -> bool:
        """Whether a result for this target is upstream of one for `other` (same host, same or no port)."""
        if self.host != other.host:
            return False
        if self.port is not None and self.port != other.port:
            return False
        return self.address is None or self.address == other.address

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"host": self.host, "port": self.port, "address": self.address}
        if self.template:
            data["template"] = self.template
        if self.purposes:
            data["purposes"] = list(self.purposes)
        if self.sources:
            data["sources"] = list(self.sources)
        if self.roles:
            data["roles"] = list(self.roles)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Target:
        return cls(
            host=str(data["host"]),
            port=data.get("port"),
            address=data.get("address"),
            purposes=tuple(data.get("purposes", ())),
            sources=tuple(data.get("sources", ())),
            wildcard=str(data["host"]).startswith("*."),
            template=data.get("template"),
            roles=tuple(data.get("roles", ())),
        )


@dataclasses.dataclass(frozen=True)
class Finding:
    """What a check returns: its verdict on one target, with the evidence behind it."""

    status: Status
    code: str
    summary: str
    evidence: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    remediation: str = ""
    caused_by: str | None = None


@dataclasses.dataclass(frozen=True)
class CheckResult:
    check: str
    target: Target
    status: Status
    code: str
    summary: str
    evidence: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    remediation: str = ""
    caused_by: str | None = None
    duration_ms: int = 0
    error: str | None = None

    @property
    def id(self) -> str:
        return result_id(self.check, self.target)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CheckResult:
        return cls(
            check=str(data["check"]),
            target=Target.from_json(data["target"]),
            status=Status(data["status"]),
            code=str(data["code"]),
            summary=str(data["summary"]),
            evidence=dict(data.get("evidence") or {}),
            remediation=str(data.get("remediation") or ""),
            caused_by=data.get("caused_by"),
            duration_ms=int(data.get("duration_ms") or 0),
            error=data.get("error"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "check": self.check,
            "target": self.target.to_json(),
            "status": self.status.value,
            "code": self.code,
            "summary": self.summary,
            "evidence": dict(self.evidence),
            "remediation": self.remediation,
            "caused_by": self.caused_by,
            "duration_ms": self.duration_ms,
            "error": self.error,
        }


def result_id(check: str, target: Target) -> str:
    return f"{check}/{target.key}"


@dataclasses.dataclass(frozen=True)
class CodeDoc:
    """The documentation of one stable reason code, as `preflight explain CODE` prints it."""

    status: Status
    meaning: str
    detection: str
    remediation: str


class Codes(dict[str, CodeDoc]):
    """A check's reason codes with their documentation, and the one way to turn a code into a Finding."""

    def finding(
        self, code: str, summary: str, evidence: Mapping[str, Any] | None = None, *, remediation: str | None = None
    ) -> Finding:
        """The Finding for `code`: its documented status, and its documented fix unless it passes (a passing
        result has nothing to fix) or `remediation` says something more precise."""
        doc = self[code]
        fix = remediation if remediation is not None else (doc.remediation if doc.status != Status.PASS else "")
        return Finding(doc.status, code, summary, dict(evidence or {}), fix)
