"""Third-party plugins that misbehave: each one becomes an `error` result naming it, the other checks still run,
and the JSON on stdout stays valid JSON."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from dnsserver import Behaviour, DnsServer
from helpers import GOLDEN, cli_env, run_cli
from plugindir import make_plugin

PLUGIN = """
import asyncio, time
from preflight import CodeDoc, Finding, Status

print("badplug: hello from import")  # a plugin that prints while being imported
CODES = {"bad.ok": CodeDoc(Status.PASS, "fine", "-", "-")}


class _Base:
    requires = "nothing"
    needs = ()
    codes = CODES

    def targets(self, plan):
        return plan.host_targets()[:1]


class Raises(_Base):
    id, title = "bad.raises", "raises in run"

    async def run(self, target, ctx):
        raise RuntimeError("plugin bug in run")


class WrongType(_Base):
    id, title = "bad.wrong_type", "returns a dict"

    async def run(self, target, ctx):
        return {"status": "pass"}


class UndocumentedCode(_Base):
    id, title = "bad.undocumented", "returns a code it does not document"

    async def run(self, target, ctx):
        return Finding(Status.PASS, "bad.never_documented", "all good, trust me")


class HangsAsync(_Base):
    id, title = "bad.hangs_async", "awaits forever"

    async def run(self, target, ctx):
        await asyncio.sleep(3600)


class BlocksLoop(_Base):
    id, title = "bad.blocks_loop", "sleeps synchronously inside async run"

    async def run(self, target, ctx):
        time.sleep(3600)


class Prints(_Base):
    id, title = "bad.prints", "prints to stdout"

    async def run(self, target, ctx):
        print("badplug: chatter on stdout {not json")
        return Finding(Status.PASS, "bad.ok", "printed, then passed")


class BadTargets(_Base):
    id, title = "bad.targets", "targets() raises"

    def targets(self, plan):
        raise ValueError("cannot plan")

    async def run(self, target, ctx):
        raise AssertionError("never called")


class PrintingReporter:
    name = "bad-reporter"
    description = "prints while rendering"

    def render(self, report):
        print("badplug: reporter chatter")
        return "rendered\\n"
"""

ENTRY_POINTS = {
    "preflight.checks": {
        "bad.raises": "badplug:Raises",
        "bad.wrong_type": "badplug:WrongType",
        "bad.undocumented": "badplug:UndocumentedCode",
        "bad.hangs_async": "badplug:HangsAsync",
        "bad.blocks_loop": "badplug:BlocksLoop",
        "bad.prints": "badplug:Prints",
        "bad.targets": "badplug:BadTargets",
        "bad.import_error": "badplug_missing_module:Check",
        "bad.not_a_check": "badplug:CODES",
    },
    "preflight.reporters": {"bad-reporter": "badplug:PrintingReporter"},
}


@pytest.fixture
def plugin_env(tmp_path: Path) -> dict[str, str]:
    folder = make_plugin(tmp_path / "plugins", "badplug", PLUGIN, ENTRY_POINTS)
    return cli_env(PYTHONPATH=f"{folder}{os.pathsep}{cli_env()['PYTHONPATH']}")


def test_every_broken_plugin_is_an_error_naming_it(plugin_env: dict[str, str], tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text('name = "p"\n[clock]\nntp_servers = []\n[[endpoint]]\nhost = "ok.test"\nports = [443]\n'
                       'purpose = "t"\nsource = "t"\n')  # fmt: skip
    with DnsServer({"ok.test": Behaviour(a=("127.0.0.1",))}) as dns:
        start = time.monotonic()
        run = run_cli("run", "--profile", str(profile), "--dns-server", dns.address, "--timeout", "0.5",
                      "--deadline", "40", "--only", "bad.*", "--only", "dns.resolve", "--format", "json",
                      env=plugin_env, timeout=90)  # fmt: skip
        elapsed = time.monotonic() - start
    report = run.report  # parses stdout as JSON and validates it: nothing the plugins printed got in
    assert "badplug: hello from import" in run.stderr and "chatter on stdout" in run.stderr
    by_check: dict[str, dict[str, Any]] = {r["check"]: r for r in report["results"]}
    expected = {
        "bad.raises": ("error", "check.crashed", "plugin bug in run"),
        "bad.wrong_type": ("error", "check.bad_result", "returned dict"),
        "bad.undocumented": ("error", "check.bad_result", "bad.never_documented"),
        "bad.hangs_async": ("error", "check.timeout", "bad.hangs_async"),
        "bad.blocks_loop": ("error", "check.blocked", "blocked the event loop"),
        "bad.prints": ("pass", "bad.ok", "printed"),
        "bad.targets": ("error", "check.crashed", "targets() raised"),
        "bad.import_error": ("error", "plugin.load_failed", "badplug_missing_module"),
        "bad.not_a_check": ("error", "plugin.load_failed", "bad.not_a_check"),
        "dns.resolve": ("pass", "dns.ok", "ok.test"),
    }
    for check, (status, code, words) in expected.items():
        result = by_check[check]
        assert (result["status"], result["code"]) == (status, code), result
        assert words in result["summary"], result["summary"]
    assert run.code == 3  # errors and no failure: the verdict is incomplete, never a pass
    assert elapsed < 40, elapsed  # the async hang is bounded by the watchdog, not the deadline


def test_a_printing_reporter_cannot_corrupt_the_json_on_stdout(plugin_env: dict[str, str], tmp_path: Path) -> None:
    saved = GOLDEN / "sample-report.json"
    out = tmp_path / "x.txt"
    run = run_cli("show", str(saved), "--format", "json", "--format", f"bad-reporter={out}", env=plugin_env)
    json.loads(run.stdout)
    assert "reporter chatter" in run.stderr and out.read_text() == "rendered\n"
