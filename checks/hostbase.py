"""What the host checks (host.tls, host.dotnet, host.os, host.connector) share: their target, the codes every one
of them can give (not Windows, a value unreadable), and the base class that skips off Windows. Not a check."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

from preflight import CodeDoc, Codes, Finding, ObservingCheck, Status, Target
from preflight.host.winhost import HostReader, default_reader

if TYPE_CHECKING:
    from preflight import Plan
    from preflight.context import Context

TARGET = "this host"
HostObservedT = TypeVar("HostObservedT")

SHARED: Final[dict[str, CodeDoc]] = {
    "host.not_windows": CodeDoc(
        Status.SKIP,
        "This check reads Windows settings (the registry); this host is not Windows, so there was nothing to read.",
        "sys.platform is not win32.",
        "Run the tool on the Windows Server that will host the connector.",
    ),
    "host.unreadable": CodeDoc(
        Status.ERROR,
        "A Windows setting this check needs could not be read: access was denied, or the value has the wrong type.",
        "Reading the registry value named in the evidence raised access denied, or it was not the expected type.",
        "Run as an administrator; a value of the wrong type (for example a REG_SZ where a REG_DWORD belongs) is "
        "ignored by Windows too: delete it and set it as the remediation of the failing check says.",
    ),
}


def host_finding(
    codes: dict[str, CodeDoc], code: str, summary: str, evidence: dict[str, Any], remediation: str | None = None
) -> Finding:
    """A finding from a host check's own codes or the codes every host check shares."""
    return Codes({**SHARED, **codes}).finding(code, summary, evidence, remediation=remediation)


class HostCheckBase(ObservingCheck[HostObservedT | None], Generic[HostObservedT]):
    """What the host checks share: one target, a reader (replaceable in tests), and the observation None off
    Windows, which judges as a skip. Each check gives `read` (the registry, commands and files, through the reader)
    and `judge_windows` (pure)."""

    id: str
    needs: tuple[str, ...] = ()
    reader: HostReader | None = None

    def targets(self, plan: Plan) -> Iterable[Target]:
        return [Target(host=TARGET)]

    async def observe(self, target: Target, ctx: Context) -> HostObservedT | None:
        reader = self.reader if self.reader is not None else default_reader()
        return None if reader is None else await self.read(reader, ctx)

    def judge(self, seen: HostObservedT | None) -> Finding:
        if seen is None:
            return host_finding(
                SHARED, "host.not_windows", "not Windows: no SCHANNEL, .NET or Windows version to read", {}
            )
        return self.judge_windows(seen)

    async def read(self, reader: HostReader, ctx: Context) -> HostObservedT:
        raise NotImplementedError

    def judge_windows(self, seen: HostObservedT) -> Finding:
        raise NotImplementedError
