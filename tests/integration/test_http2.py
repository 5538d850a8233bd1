"""tls.http2 end to end: the CLI against real HTTP/2 servers on loopback (the h2 library's server side), directly
and through a proxy's CONNECT tunnel, one condition each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dnsserver import Behaviour, DnsServer
from fakeproxy import FakeProxy
from h2server import Http2Server
from helpers import cli_env, run_cli
from pki import FakePki, write_bundle

NAME = "tunnel.h2.test"


@pytest.fixture(scope="module")
def pki() -> FakePki:
    return FakePki.build()


def run_against(tmp: Path, pki: FakePki, server: Http2Server, *extra: str) -> Any:
    roots = write_bundle(tmp / "expected.pem", pki.root, pki.ms_root)
    profile = tmp / "h2.toml"
    profile.write_text(
        f'name = "h2"\n[tls]\nexpected_roots = "{roots}"\n[clock]\nntp_servers = []\n'
        '[checks."tls.http2"]\nhosts = ["*.h2.test"]\n'
        f'[[endpoint]]\nhost = "{NAME}"\nports = [{server.port}]\npurpose = "t"\nsource = "t"\ntls = true\n'
        f'[[endpoint]]\nhost = "other.test"\nports = [{server.port}]\npurpose = "t"\nsource = "t"\ntls = true\n'
    )
    with DnsServer({NAME: Behaviour(a=("127.0.0.1",)), "other.test": Behaviour(a=("127.0.0.1",))}) as dns:
        return run_cli("run", "--profile", str(profile), "--dns-server", dns.address, "--timeout", "1.5",
                       "--format", "json", *extra, env=cli_env())  # fmt: skip


CASES = [
    ("h2", ("pass", "http2.ok"), "ok"),
    ("http1", ("fail", "http2.not_negotiated"), "no_h2"),
    ("garbage", ("fail", "http2.broken"), "garbage"),
    ("goaway", ("fail", "http2.broken"), "goaway"),
    ("silent", ("fail", "http2.broken"), "silent"),
]


@pytest.mark.parametrize(("mode", "verdict", "outcome"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("through", ["direct", "proxy"])
def test_the_tunnel_endpoint_carries_http2_or_says_what_broke_it(
    pki: FakePki, tmp_path: Path, mode: str, verdict: tuple[str, str], outcome: str, through: str
) -> None:
    chain, key = pki.server_files(tmp_path, [NAME, "other.test"])
    with Http2Server(mode, chain, key) as server, FakeProxy(mode="tunnel") as proxy:
        extra = ["--proxy", f"http://127.0.0.1:{proxy.port}"] if through == "proxy" else []
        run = run_against(tmp_path, pki, server, *extra)
    assert run.result("tls.handshake", f"{NAME}:{server.port}")["code"] == "tls.ok"  # TLS alone looks fine
    result = run.result("tls.http2", f"{NAME}:{server.port}")
    assert (result["status"], result["code"]) == verdict, result["summary"]
    (path,) = result["evidence"]["paths"]
    assert path["outcome"] == outcome
    assert path["path"] == ("127.0.0.1" if through == "direct" else f"via http://127.0.0.1:{proxy.port}")
    if mode == "h2":
        assert server.prefaces >= 1 and "MAX_CONCURRENT_STREAMS" in result["summary"]
    if mode == "goaway":
        assert "ENHANCE_YOUR_CALM" in result["summary"]
    # Only the profile's tunnel hosts are asked.
    assert [r["id"] for r in run.report["results"] if r["check"] == "tls.http2"] == [f"tls.http2/{NAME}:{server.port}"]
