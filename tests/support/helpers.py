"""Helpers shared by tests: ports, listeners, running the CLI under the network guard, schema validation."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
TESTS = ROOT / "tests"
SUPPORT = TESTS / "support"
GOLDEN = TESTS / "golden"
FIXTURES = TESTS / "fixtures"


def free_port(host: str = "127.0.0.1") -> int:
    """A port with nothing listening (bound then released), for 'refused'."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for a CLI subprocess: the guard on, and no proxy variable unless a test sets one."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in PROXY_VARIABLES}
    env["PYTHONPATH"] = os.pathsep.join([str(SUPPORT / "guardsite"), str(ROOT), env.get("PYTHONPATH", "")])
    env["PREFLIGHT_GUARD"] = "1"
    env["COLUMNS"] = "120"  # the table's width, whatever terminal the tests run from
    env.update(extra)
    return env


class CliRun:
    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.code = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    @property
    def report(self) -> dict[str, Any]:
        """The JSON report on stdout, validated against the shipped schema every time a test reads it."""
        report: dict[str, Any] = json.loads(self.stdout)
        validate_report(report, json.loads((ROOT / "reports" / "schema" / "report.schema.json").read_text()))
        return report

    def result(self, check: str, key: str) -> dict[str, Any]:
        for result in self.report["results"]:
            if result["check"] == check and result["id"] == f"{check}/{key}":
                return result  # type: ignore[no-any-return]
        raise AssertionError(f"no result {check}/{key} in {[r['id'] for r in self.report['results']]}")


def run_cli(
    *args: str, timeout: float = 60, env: dict[str, str] | None = None, prefix: list[str] | None = None
) -> CliRun:
    command = [*(prefix or []), sys.executable, "-m", "preflight", *args]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env or cli_env())
    return CliRun(proc)


def run_cli_limited(*args: str, limits: dict[int, int], timeout: float = 120) -> CliRun:
    """The CLI with resource limits set in the child (resource.RLIMIT_* → the soft and hard value): what would
    need more memory or descriptors fails in the tool, not on the test machine."""
    import resource

    def cap() -> None:
        for which, value in limits.items():
            resource.setrlimit(which, (value, value))

    command = [sys.executable, "-m", "preflight", *args]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=cli_env(), preexec_fn=cap)
    return CliRun(proc)


def validate_report(report: dict[str, Any], schema: dict[str, Any]) -> None:
    import jsonschema

    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(report)
