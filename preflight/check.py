"""The plugin interfaces: what a check and a reporter look like to the engine."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from preflight.model import Finding, Status, Target

if TYPE_CHECKING:
    from preflight.engine.context import RunContext
    from preflight.engine.plan import Plan
    from preflight.reporting.report import Report


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


@runtime_checkable
class Check(Protocol):
    """A pluggable check.

    `targets` expands the plan into what the check looks at; `run` observes one target and returns a Finding.
    `needs` names checks whose failure on the same host (and port) makes this one a skip pointing at it.
    `after` names checks to wait for without depending on their verdict (TLS waits for the clock).
    `reuses_connection`: the check handshakes directly on each address of its targets, so the engine keeps the
    connection the TCP probe opened for it instead of opening a second one.
    `settings` maps each setting the check reads (with `plan.settings_for(self)`) to its default; a profile's
    `[checks."<id>"]` table and `--set ID.KEY=VALUE` override them, checked against the default's type.
    `after`, `reuses_connection` and `settings` may be left out: the registry fills in (), False and {}.
    Every code `run` can return must be documented in `codes`.
    """

    id: str
    title: str
    requires: str
    needs: tuple[str, ...]
    after: tuple[str, ...]
    reuses_connection: bool
    settings: Mapping[str, Any]
    codes: Mapping[str, CodeDoc]

    def targets(self, plan: Plan) -> Iterable[Target]: ...

    async def run(self, target: Target, ctx: RunContext) -> Finding: ...


@runtime_checkable
class Reporter(Protocol):
    """Turns a finished (or partial) report into text or bytes."""

    name: str
    description: str

    def render(self, report: Report) -> str | bytes: ...
