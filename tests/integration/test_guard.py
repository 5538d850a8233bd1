"""The guard itself must work, or every other test's promise of 'loopback only' is empty."""

from __future__ import annotations

import socket

import netguard
import pytest
from helpers import cli_env, run_cli


def test_guard_refuses_a_non_loopback_connect() -> None:
    with socket.socket() as sock, pytest.raises(PermissionError):
        sock.connect(("192.0.2.1", 443))
    assert netguard.violations
    netguard.forget()  # expected here; any other test doing this fails


def test_guard_refuses_os_resolver_lookups() -> None:
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("login.microsoftonline.com", 443)
    netguard.forget()


def test_guard_allows_loopback(listener) -> None:  # type: ignore[no-untyped-def]
    port = listener()
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


def test_guard_is_active_in_cli_subprocesses(tmp_path) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "guard.log"
    env_run = run_cli(
        "run", "--endpoint", "192.0.2.7:443", "--only", "tcp.*", "--format", "json", "--timeout", "1",
        env={**cli_env(), "PREFLIGHT_GUARD_LOG": str(log)},
    )  # fmt: skip
    assert "192.0.2.7" in log.read_text()
    result = env_run.result("tcp.connect", "192.0.2.7:443")
    assert result["status"] == "fail"  # refused by the guard, reported as a local block, never a pass
