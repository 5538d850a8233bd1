"""An example third-party plugin: copy this package to write your own check or reporter."""

from __future__ import annotations

from collections.abc import Iterable

from preflight import CodeDoc, Finding, Status, Target

CODES = {
    "example.standard_ports": CodeDoc(
        Status.PASS,
        "Every endpoint uses a port the connector docs list.",
        "Compares ports with 80/443/8398.",
        "Nothing to do.",
    ),
    "example.odd_port": CodeDoc(
        Status.WARN,
        "An endpoint uses a port no connector doc lists.",
        "Compares ports with 80/443/8398.",
        "Check that the extra endpoint is intended.",
    ),
}


class PortListCheck:
    id = "example.port_list"
    title = "Example plugin: flags endpoints on unusual ports"
    requires = "nothing (reads the profile)"
    needs: tuple[str, ...] = ()
    codes = CODES

    def targets(self, plan) -> Iterable[Target]:  # type: ignore[no-untyped-def]
        return plan.port_targets()

    async def run(self, target: Target, ctx) -> Finding:  # type: ignore[no-untyped-def]
        if target.port in (80, 443, 8398):
            return Finding(Status.PASS, "example.standard_ports", f"{target.key} uses a documented port")
        return Finding(
            Status.WARN,
            "example.odd_port",
            f"{target.key} uses port {target.port}",
            {"port": target.port},
            CODES["example.odd_port"].remediation,
        )


class CrashingCheck:
    id = "example.crashes"
    title = "Example plugin: a check with a bug"
    requires = "nothing"
    needs: tuple[str, ...] = ()
    codes: dict[str, CodeDoc] = {}  # noqa: RUF012

    def targets(self, plan) -> Iterable[Target]:  # type: ignore[no-untyped-def]
        return plan.host_targets()[:1]

    async def run(self, target: Target, ctx) -> Finding:  # type: ignore[no-untyped-def]
        raise ZeroDivisionError("the plugin author divided by zero")


class CountReporter:
    name = "example-count"
    description = "one line: how many results of each status"

    def render(self, report) -> str:  # type: ignore[no-untyped-def]
        return " ".join(f"{k}={v}" for k, v in report.counts.items()) + "\n"
