"""The plugin interfaces: what a check and a reporter look like to the engine."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:
    from preflight.context import Context
    from preflight.engine.plan import Plan
    from preflight.model import CodeDoc, Finding, Target
    from preflight.reporting.report import Report


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

    async def run(self, target: Target, ctx: Context) -> Finding: ...


ObservedT = TypeVar("ObservedT")


class ObservingCheck(Generic[ObservedT]):
    """The one anatomy of every built-in check, and the one to give yours: `observe` does all the I/O through the
    context and returns a typed, immutable observation (what was seen, no verdict); `judge` turns it into a Finding
    and is pure, so table tests call it with hand-made observations; `run` is the two in a row.

    Subclass it with the observation's type, set the `Check` attributes, and give both halves, as methods or as
    the module's own functions (`observe = staticmethod(observe)`). The engine calls `run` only.
    """

    async def observe(self, target: Target, ctx: Context) -> ObservedT:
        raise NotImplementedError

    def judge(self, seen: ObservedT) -> Finding:
        raise NotImplementedError

    async def run(self, target: Target, ctx: Context) -> Finding:
        return self.judge(await self.observe(target, ctx))


@runtime_checkable
class Reporter(Protocol):
    """Turns a finished (or partial) report into text or bytes."""

    name: str
    description: str

    def render(self, report: Report) -> str | bytes: ...
