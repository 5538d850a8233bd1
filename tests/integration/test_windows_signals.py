"""Windows interrupts without Windows: Ctrl-Break (SIGBREAK) and the console control events (closing the window,
logoff, shutdown, a service manager ending the program) stop a run like Ctrl-C and still write the partial report.
SetConsoleCtrlHandler is exercised through a fake kernel32 with its calling convention; the end-to-end test
delivers a close event on another thread, as Windows does, during a real run."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from dnsserver import Behaviour, DnsServer
from helpers import cli_env

from preflight import signals
from preflight.reporting import policy


class FakeKernel32:
    def __init__(self, accept: bool = True) -> None:
        self.registered: list[Any] = []
        self.accept = accept

    def SetConsoleCtrlHandler(self, routine: Any, add: bool) -> int:
        self.registered.append((routine, add))
        return 1 if self.accept else 0


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signals, "_outputs_written", threading.Event())
    monkeypatch.setattr(signals, "_pending", [])
    monkeypatch.setattr(signals, "_listeners", [])


def test_the_console_handler_is_registered_and_leaves_ctrl_c_to_python(fresh: None) -> None:
    kernel32 = FakeKernel32()
    assert signals.install_console_handler(kernel32)
    routine, add = kernel32.registered[0]
    assert add is True
    assert routine(0) == 0 and routine(1) == 0  # CTRL_C_EVENT, CTRL_BREAK_EVENT: Python's signal handling
    assert signals.pending() is None
    assert not signals.install_console_handler(FakeKernel32(accept=False))
    assert not signals.install_console_handler()  # off Windows nothing is registered


@pytest.mark.parametrize("event", [signals.CTRL_CLOSE_EVENT, signals.CTRL_LOGOFF_EVENT, signals.CTRL_SHUTDOWN_EVENT])
def test_a_close_event_stops_the_run_and_waits_for_the_report(fresh: None, event: int) -> None:
    heard: list[str] = []
    returned: list[float] = []
    with signals.listening(heard.append):
        waiter = threading.Thread(target=lambda: (signals.console_event(event), returned.append(time.monotonic())))
        waiter.start()
        time.sleep(0.2)
        assert heard == ["SIGTERM"] and not returned  # the run was told; Windows must not end us yet
        written = time.monotonic()
        signals.outputs_written()
        waiter.join(2)
    assert returned and returned[0] >= written
    assert signals.pending() == "SIGTERM"


def test_the_wait_is_bounded_by_windows_grace_period(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signals, "CONSOLE_GRACE_S", 0.2)
    start = time.monotonic()
    assert signals.console_event(signals.CTRL_CLOSE_EVENT) is True
    assert time.monotonic() - start < 1.0


def test_sigbreak_has_its_exit_code() -> None:
    assert policy.EXIT_SIGNAL["SIGBREAK"] == 149 and "SIGBREAK" in signals.HANDLED


SCRIPT = """
import atexit, sys, threading, time
from preflight import signals
from preflight.cli import main

state = {}
def close_the_console():
    time.sleep(0.6)
    state["sent"] = time.monotonic()
    state["handled"] = signals.console_event(signals.CTRL_CLOSE_EVENT)
    state["returned"] = time.monotonic()
closer = threading.Thread(target=close_the_console, daemon=True)
closer.start()
def report():
    closer.join(5)
    print(f"handler returned {state.get('handled')} after {state.get('returned', 0) - state.get('sent', 0):.2f}s",
          file=sys.stderr)
atexit.register(report)
signals.install()
main(sys.argv[1:])
"""


def test_closing_the_console_during_a_run_writes_the_partial_report(tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text('name = "close"\n[clock]\nntp_servers = []\n[[endpoint]]\nhost = "silent.test"\n'
                       'ports = [443]\npurpose = "t"\nsource = "t"\n')  # fmt: skip
    report = tmp_path / "report.json"
    with DnsServer({"silent.test": Behaviour(silent=True)}) as dns:
        start = time.monotonic()
        run = subprocess.run([sys.executable, "-c", SCRIPT, "run", "--profile", str(profile), "--dns-server",
                              dns.address, "--timeout", "20", "--format", f"json={report}", "--quiet"],
                             capture_output=True, text=True, timeout=30, env=cli_env())  # fmt: skip
        took = time.monotonic() - start
    assert run.returncode == 143, run.stderr
    assert took < 5  # not the 20 s DNS timeout
    data = json.loads(report.read_text())
    assert data["ended_by"] == "SIGTERM"
    assert {r["code"] for r in data["results"]} >= {"run.interrupted"}
    assert "handler returned True" in run.stderr  # and only once the report was on disk
