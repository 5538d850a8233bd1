"""One connection per endpoint: the connection `tcp.connect` opened carries the TLS handshake.

A counting server on loopback tells, from the other end, how many TCP connections the run opened, which stayed
open and which were closed; the CLI runs for the verdicts, the run context directly for the parking rules.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dnsserver import Behaviour, DnsServer
from helpers import cli_env, run_cli
from loopthread import LoopThread
from pki import FakePki, write_bundle

from preflight import profile as profile_module
from preflight.engine import context as context_module
from preflight.engine import plan as plan_module
from preflight.engine.context import RunContext, RunOptions


class CountingTlsServer(LoopThread):
    """Counts TCP connections. Connections numbered in `drop` are closed on accept without a word (a server that
    dropped an idle connection); the others get a TLS handshake with the given chain."""

    def __init__(self, chain: Path, key: Path, drop: tuple[int, ...] = ()) -> None:
        super().__init__()
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(chain, key)
        self.drop = drop
        self.port = 0
        self.accepted = 0
        self.handshakes = 0
        self.closed_by_client = 0  # connections whose client went away before saying anything

    def settle(self, handshakes: int, closed_by_client: int = 0) -> None:
        """Wait (from the test's thread) until the server has seen what the client already finished: a client's
        last bytes can still be in flight when its process ends."""
        deadline = time.monotonic() + 5
        while self.handshakes < handshakes or self.closed_by_client < closed_by_client:
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        number = self.accepted
        task = self.track()
        try:
            if number in self.drop:
                return
            first = await reader.read(1)
            if not first:
                self.closed_by_client += 1
                return
            # Hand the byte back to a TLS server object driven through memory BIOs.
            incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
            tls = self.context.wrap_bio(incoming, outgoing, server_side=True)
            incoming.write(first)
            while True:
                try:
                    tls.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    writer.write(outgoing.read())
                    await writer.drain()
                    data = await reader.read(65536)
                    if not data:
                        return
                    incoming.write(data)
            self.handshakes += 1
            writer.write(outgoing.read())  # TLS 1.3 session tickets; the client may be gone already
            await writer.drain()
            await reader.read(1)
        except (ConnectionError, ssl.SSLError, asyncio.CancelledError):
            pass
        finally:
            self.discard(task)
            writer.close()


@pytest.fixture(scope="module")
def pki() -> FakePki:
    return FakePki.build()


@pytest.fixture
def served(pki: FakePki, tmp_path: Path) -> Iterator[dict[str, Any]]:
    chain, key = pki.server_files(tmp_path, ["shared.test"])
    roots = write_bundle(tmp_path / "expected.pem", pki.root, pki.ms_root)
    yield {"tmp": tmp_path, "chain": chain, "key": key, "roots": roots}


def _profile(folder: Path, roots: Path, ports: dict[str, int]) -> Path:
    rows = "".join(f'[[endpoint]]\nhost = "{name}"\nports = [{port}]\npurpose = "t"\nsource = "t"\ntls = true\n'
                   for name, port in ports.items())  # fmt: skip
    path = folder / "sharing.toml"
    path.write_text(f'name = "sharing"\n[tls]\nexpected_roots = "{roots}"\n[clock]\nntp_servers = []\n{rows}')
    return path


def _run(served: dict[str, Any], server: CountingTlsServer, *only: str) -> Any:
    profile = _profile(served["tmp"], served["roots"], {"shared.test": server.port})
    with DnsServer({"shared.test": Behaviour(a=("127.0.0.1",))}) as dns:
        return run_cli("run", "--profile", str(profile), "--dns-server", dns.address, "--timeout", "2",
                       "--format", "json", *[a for c in only for a in ("--only", c)], env=cli_env())  # fmt: skip


def test_the_handshake_uses_the_connection_tcp_connect_opened(served: dict[str, Any]) -> None:
    with CountingTlsServer(served["chain"], served["key"]) as server:
        run = _run(served, server, "tcp.connect", "tls.handshake", "tls.interception")
        server.settle(handshakes=1)
    key = f"shared.test:{server.port}"
    assert run.result("tcp.connect", key)["code"] == "tcp.open"
    handshake = run.result("tls.handshake", key)
    assert handshake["code"] == "tls.ok", handshake["summary"]
    assert run.result("tls.interception", key)["code"] == "tls.clean"
    assert (server.accepted, server.handshakes) == (1, 1)
    # The handshake's evidence reports the connect that opened its connection.
    assert handshake["evidence"]["addresses"]["127.0.0.1"]["connect_ms"] is not None


def test_a_connection_dropped_while_parked_is_replaced_by_a_new_one(served: dict[str, Any]) -> None:
    with CountingTlsServer(served["chain"], served["key"], drop=(1,)) as server:
        run = _run(served, server, "tcp.connect", "tls.handshake")
        server.settle(handshakes=1, closed_by_client=0)
    key = f"shared.test:{server.port}"
    assert run.result("tcp.connect", key)["code"] == "tcp.open"
    handshake = run.result("tls.handshake", key)
    assert handshake["code"] == "tls.ok", handshake["summary"]
    assert (server.accepted, server.handshakes) == (2, 1)


def test_without_a_tls_check_the_connection_is_closed_at_once(served: dict[str, Any]) -> None:
    with CountingTlsServer(served["chain"], served["key"]) as server:
        run = _run(served, server, "tcp.connect")
        server.settle(handshakes=0, closed_by_client=1)
    assert run.result("tcp.connect", f"shared.test:{server.port}")["code"] == "tcp.open"
    assert (server.accepted, server.closed_by_client, server.handshakes) == (1, 1, 0)


async def _wait_for(condition: Any, what: str) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def _context(served: dict[str, Any], ports: dict[str, int], *, concurrency: int = 32) -> RunContext:
    built = plan_module.build(profile_module.load(str(_profile(served["tmp"], served["roots"], ports))))
    selected = {check: list(built.port_targets(tls_only=True)) for check in ("tcp.connect", "tls.handshake")}
    return RunContext(built, RunOptions(timeout=2, concurrency=concurrency), selected=selected,
                      reusing={"tls.handshake"})  # fmt: skip


def test_parked_connections_are_capped_and_closed_when_the_run_ends(served: dict[str, Any]) -> None:
    with CountingTlsServer(served["chain"], served["key"]) as first, \
            CountingTlsServer(served["chain"], served["key"]) as second:  # fmt: skip

        async def scenario() -> None:
            ctx = _context(served, {"a.test": first.port, "b.test": second.port}, concurrency=1)
            await ctx.connect("127.0.0.1", first.port, host="a.test")
            await ctx.connect("127.0.0.1", second.port, host="b.test")
            # One slot, so one parked connection: the second was closed at once.
            await _wait_for(lambda: second.closed_by_client == 1, "the unparked connection to close")
            assert first.closed_by_client == 0
            ctx.close()
            await _wait_for(lambda: first.closed_by_client == 1, "the parked connection to close")

        asyncio.run(scenario())
    assert (first.accepted, second.accepted) == (1, 1)


def test_a_connection_parked_too_long_is_not_used(served: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(context_module, "PARKED_MAX_AGE_S", 0.0)
    with CountingTlsServer(served["chain"], served["key"]) as server:

        async def scenario() -> None:
            ctx = _context(served, {"shared.test": server.port})
            await ctx.connect("127.0.0.1", server.port, host="shared.test")
            await asyncio.sleep(0.05)
            handshake = await ctx.handshake("127.0.0.1", server.port, host="shared.test")
            assert handshake.outcome == "ok", handshake.error
            ctx.close()
            await _wait_for(lambda: (server.handshakes, server.closed_by_client) == (1, 1), "the server to see both")

        asyncio.run(scenario())
    assert (server.accepted, server.handshakes, server.closed_by_client) == (2, 1, 1)
