"""An example third-party plugin: copy this package to write your own check or reporter (docs/plugins.md walks
through it). The check flags endpoints on ports outside a list; the list is a setting."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from preflight import CodeDoc, Codes, Context, Finding, ObservingCheck, Plan, Status, Target

CODES = Codes(
    {
        "example.standard_ports": CodeDoc(
            Status.PASS,
            "The endpoint uses one of the allowed ports.",
            "Compares the port with the check's allowed_ports setting (default: 80, 443, 8398).",
            "Nothing to do.",
        ),
        "example.odd_port": CodeDoc(
            Status.WARN,
            "The endpoint uses a port outside the allowed list.",
            "Compares the port with the check's allowed_ports setting (default: 80, 443, 8398).",
            'Check that the extra endpoint is intended, or allow its port: [checks."example.port_list"] '
            "allowed_ports in the profile, or --set example.port_list.allowed_ports=[...].",
        ),
    }
)


@dataclasses.dataclass(frozen=True)
class PortObserved:
    """What the check saw: the endpoint's port and the allowed list it is judged against."""

    key: str
    port: int | None
    allowed: tuple[int, ...]


def judge(seen: PortObserved) -> Finding:
    """Pure: table tests call it with hand-made observations."""
    if seen.port in seen.allowed:
        return CODES.finding("example.standard_ports", f"{seen.key} uses an allowed port")
    return CODES.finding(
        "example.odd_port",
        f"{seen.key} uses port {seen.port}, not one of {list(seen.allowed)}",
        {"port": seen.port, "allowed_ports": list(seen.allowed)},
    )


class PortListCheck(ObservingCheck[PortObserved]):
    id = "example.port_list"
    title = "Example plugin: flags endpoints on ports outside an allowed list"
    requires = "nothing (reads the profile)"
    needs: tuple[str, ...] = ()
    settings = {"allowed_ports": [80, 443, 8398]}  # noqa: RUF012 - read-only: the engine copies what it overrides
    codes = CODES

    def targets(self, plan: Plan) -> Iterable[Target]:
        return plan.port_targets()

    async def observe(self, target: Target, ctx: Context) -> PortObserved:
        return PortObserved(target.key, target.port, tuple(ctx.settings_for(self)["allowed_ports"]))

    judge = staticmethod(judge)


class CountReporter:
    name = "example-count"
    description = "one line: how many results of each status"

    def render(self, report) -> str:  # type: ignore[no-untyped-def]
        return " ".join(f"{k}={v}" for k, v in report.counts.items()) + "\n"
