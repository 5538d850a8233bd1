"""proxy.tunnel codes from real (loopback) proxies that refuse, stall, break or are absent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dnsserver import Behaviour, DnsServer
from fakeproxy import FakeProxy
from helpers import free_port, run_cli


def run_via(tmp_path: Path, proxy_url: str, *extra: str) -> Any:
    profile = tmp_path / "p.toml"
    profile.write_text('name = "proxy-live"\n[clock]\nntp_servers = []\n'
                       '[[endpoint]]\nhost = "svc.test"\nports = [443]\npurpose = "p"\nsource = "s"\n')  # fmt: skip
    with DnsServer({"svc.test": Behaviour(a=("127.0.0.1",))}) as dns:
        return run_cli("run", "--profile", str(profile), "--dns-server", dns.address, "--proxy", proxy_url,
                       "--timeout", "1", "--format", "json", *extra)  # fmt: skip


@pytest.mark.parametrize(
    ("mode", "status", "code"),
    [("status", 502, "proxy.bad_gateway"), ("status", 504, "proxy.bad_gateway"), ("status", 403, "proxy.denied"),
     ("status", 407, "proxy.auth_required"), ("stall", 0, "proxy.timeout"), ("garbage", 0, "proxy.bad_response"),
     ("status", 200, "proxy.ok")],
)  # fmt: skip
def test_tunnel_codes(tmp_path: Path, mode: str, status: int, code: str) -> None:
    with FakeProxy(mode, status) as proxy:
        run = run_via(tmp_path, f"http://127.0.0.1:{proxy.port}")
        assert proxy.requests and proxy.requests[0].startswith(b"CONNECT svc.test:443 HTTP/1.1\r\n")
    result = run.result("proxy.tunnel", "svc.test:443")
    assert result["code"] == code, result["summary"]
    if mode == "status" and status != 200:
        assert result["evidence"]["status"] == status
        assert result["evidence"]["title"] == "Bad Gateway (lab proxy)"
        assert result["evidence"]["server"] == "lab-proxy"
    if code != "proxy.ok":
        assert run.result("tls.handshake", "svc.test:443")["caused_by"] == "proxy.tunnel/svc.test:443"


def test_proxy_that_is_not_there(tmp_path: Path) -> None:
    run = run_via(tmp_path, f"http://127.0.0.1:{free_port()}")
    result = run.result("proxy.tunnel", "svc.test:443")
    assert (result["status"], result["code"]) == ("fail", "proxy.unreachable")


def test_credentials_are_sent_only_when_asked(tmp_path: Path) -> None:
    with FakeProxy("status", 407) as proxy:
        run_via(tmp_path, f"http://alice:Sekr3t-Value@127.0.0.1:{proxy.port}")
        run = run_via(tmp_path, f"http://alice:Sekr3t-Value@127.0.0.1:{proxy.port}", "--proxy-credentials")
        sent = [r for r in proxy.requests if b"Proxy-Authorization: Basic " in r]
    assert len(sent) == 1  # the second run only
    assert "Sekr3t-Value" not in run.stdout and "Sekr3t-Value" not in run.stderr
    assert run.result("proxy.tunnel", "svc.test:443")["evidence"]["sent_credentials"] is True
