"""TLS checks end to end: the CLI against real TLS servers on loopback, one condition each.

The profile's expected_roots is the fake PKI's anchors; the 'OS trust store' is set with SSL_CERT_FILE, which is
how OpenSSL (and so this tool on Linux) finds the system store.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dnsserver import Behaviour, DnsServer
from helpers import cli_env, run_cli
from pki import DAY, NOW, FakePki, leaf, self_signed, write_bundle
from tlsserver import TlsServer


@pytest.fixture(scope="module")
def pki() -> FakePki:
    return FakePki.build()


@pytest.fixture
def lab(pki: FakePki, tmp_path: Path) -> Iterator[dict[str, Any]]:
    roots = write_bundle(tmp_path / "expected.pem", pki.root, pki.ms_root)
    os_store = write_bundle(tmp_path / "os-store.pem", pki.inspection_root)
    yield {"tmp": tmp_path, "roots": roots, "os_store": os_store}


def served_by(pki: FakePki, folder: Path, mode: str, name: str, **options: Any) -> TlsServer:
    if mode in ("ok", "legacy"):
        chain, key = pki.server_files(folder, [name], **options)
        return TlsServer(mode, chain, key)
    return TlsServer(mode)


def run_against(lab: dict[str, Any], servers: dict[str, TlsServer], *extra: str) -> Any:
    """One CLI run: each name resolves to 127.0.0.1 and is served by its own server's port."""
    rows = ""
    for name, server in servers.items():
        rows += f'[[endpoint]]\nhost = "{name}"\nports = [{server.port}]\npurpose = "t"\nsource = "t"\ntls = true\n'
    profile = lab["tmp"] / "tls.toml"
    profile.write_text(f'name = "tls-live"\n[tls]\nexpected_roots = "{lab["roots"]}"\n{rows}')
    zone = {name: Behaviour(a=("127.0.0.1",)) for name in servers}
    with DnsServer(zone) as dns:
        return run_cli("run", "--profile", str(profile), "--dns-server", dns.address, "--timeout", "1.5",
                       "--format", "json", *extra, env=cli_env(SSL_CERT_FILE=str(lab["os_store"])))  # fmt: skip


CONDITIONS = [
    # name, server mode, leaf options, (tls.handshake status/code), (tls.interception status/code or None)
    ("clean.test", "ok", {}, ("pass", "tls.ok"), ("pass", "tls.clean")),
    ("legacy.test", "legacy", {}, ("fail", "tls.protocol_too_old"), None),
    ("reset.test", "reset", {}, ("fail", "tls.reset"), None),
    ("closed.test", "close", {}, ("fail", "tls.reset"), None),
    ("alert.test", "alert", {}, ("fail", "tls.alert"), None),
    ("stall.test", "stall", {}, ("fail", "tls.timeout"), None),
    ("http.test", "http", {}, ("fail", "tls.block_page"), None),
    ("expired.test", "ok", {"not_before": NOW - 400 * DAY, "not_after": NOW - DAY}, ("fail", "tls.expired"), None),
    ("future.test", "ok", {"not_before": NOW + 10 * DAY}, ("fail", "tls.not_yet_valid"), None),
]


def test_every_handshake_condition(pki: FakePki, lab: dict[str, Any]) -> None:
    servers = {name: served_by(pki, lab["tmp"], mode, name, **opts) for name, mode, opts, _h, _i in CONDITIONS}
    for server in servers.values():
        server.__enter__()
    try:
        run = run_against(lab, servers)
    finally:
        for server in servers.values():
            server.__exit__()
    for name, _mode, _opts, handshake, interception in CONDITIONS:
        key = f"{name}:{servers[name].port}"
        result = run.result("tls.handshake", key)
        assert (result["status"], result["code"]) == handshake, (name, result["summary"])
        downstream = run.result("tls.interception", key)
        if interception is None:
            assert (downstream["status"], downstream["code"]) == ("skip", "run.upstream")
            assert downstream["caused_by"] == f"tls.handshake/{key}"
        else:
            assert (downstream["status"], downstream["code"]) == interception
    legacy = run.result("tls.handshake", f"legacy.test:{servers['legacy.test'].port}")
    assert legacy["evidence"]["addresses"]["127.0.0.1"]["legacy_version"] in ("TLSv1", "TLSv1.1")
    stall = run.result("tls.handshake", f"stall.test:{servers['stall.test'].port}")
    assert stall["duration_ms"] < 5000  # bounded by --timeout 1.5


@pytest.mark.parametrize(
    ("label", "make", "code", "status"),
    [
        ("enterprise CA the OS trusts", lambda p, n: leaf([n], p.inspection_root, sct=0), "tls.intercepted", "fail"),
        ("interceptor nobody trusts", lambda p, n: leaf([n], p.other_public_issuing, sct=0),
         "tls.intercepted_untrusted", "fail"),
        ("self-signed", lambda p, n: self_signed([n]), "tls.self_signed", "fail"),
    ],
)  # fmt: skip
def test_interception_verdicts_live(pki: FakePki, lab: dict[str, Any], label: str, make: Any, code: str,
                                    status: str) -> None:  # fmt: skip
    name = "login.microsoftonline.test"
    issued = make(pki, name)
    chain = lab["tmp"] / "chain.pem"
    chain.write_bytes(issued.pem)
    key = lab["tmp"] / "key.pem"
    key.write_bytes(issued.key_pem)
    with TlsServer("ok", chain, key) as server:
        run = run_against(lab, {name: server})
    handshake = run.result("tls.handshake", f"{name}:{server.port}")
    assert handshake["code"] == "tls.ok"  # the handshake itself is fine: only trust says otherwise
    result = run.result("tls.interception", f"{name}:{server.port}")
    assert (result["status"], result["code"]) == (status, code), result["summary"]
    pem = handshake["evidence"]["addresses"]["127.0.0.1"]["chain_pem"][0]
    assert pem.startswith("-----BEGIN CERTIFICATE-----")
    if code == "tls.intercepted":
        evidence = result["evidence"]["addresses"]["127.0.0.1"]
        assert evidence["product_hint"]["product"] == "Zscaler Internet Access"
        assert "Zscaler" in result["summary"]
    assert run.code == 1


def test_wrong_host_collapses_interception(pki: FakePki, lab: dict[str, Any]) -> None:
    chain, key = pki.server_files(lab["tmp"], ["portal.example.net"])
    with TlsServer("ok", chain, key) as server:
        run = run_against(lab, {"login.portal.test": server})
    key_ = f"login.portal.test:{server.port}"
    assert run.result("tls.handshake", key_)["code"] == "tls.wrong_host"
    assert run.result("tls.interception", key_)["caused_by"] == f"tls.handshake/{key_}"


def test_public_ca_with_scts_is_a_warning_not_interception(pki: FakePki, lab: dict[str, Any]) -> None:
    name = "login.publicca.test"
    chain, key = pki.server_files(lab["tmp"], [name], issuer=pki.other_public_issuing)
    public = write_bundle(lab["tmp"] / "public.pem", pki.other_public_root)
    with TlsServer("ok", chain, key) as server:
        run = run_against(lab, {name: server}, "--public-roots", str(public))
    result = run.result("tls.interception", f"{name}:{server.port}")
    assert (result["status"], result["code"]) == ("warn", "tls.unexpected_public_ca")
    assert result["evidence"]["addresses"]["127.0.0.1"]["sct_count"] == 2
    assert run.code == 0


def test_a_missing_intermediate_without_an_aia_url_fails_as_windows_would(pki: FakePki, lab: dict[str, Any]) -> None:
    name = "login.incomplete.test"
    chain, key = pki.server_files(lab["tmp"], [name], served=[])  # the leaf alone, no caIssuers URL
    with TlsServer("ok", chain, key) as server:
        run = run_against(lab, {name: server})
    result = run.result("tls.interception", f"{name}:{server.port}")
    assert (result["status"], result["code"]) == ("fail", "tls.incomplete_chain")  # never called interception
    assert result["evidence"]["addresses"]["127.0.0.1"]["aia"] == [
        {"url": "", "wanted_by": result["evidence"]["addresses"]["127.0.0.1"]["leaf"]["subject"], "outcome": "no_url"}
    ]


class AiaServer:
    """A real HTTP server on loopback for caIssuers URLs: each path answers with its (status, type, body), or
    accepts and never answers ("hang")."""

    def __init__(self, answers: dict[str, Any]) -> None:
        import http.server
        import threading

        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.asked.append(self.path)
                answer = answers.get(self.path, (404, "text/html", b"<html><title>Not here</title></html>"))
                if answer == "hang":
                    threading.Event().wait(10)
                    return
                status, content_type, body = answer
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.asked: list[str] = []
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> AiaServer:
        self.thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


AIA_CASES = [
    # label, what /issuing.crt answers, (status, code), the fetch's outcome
    ("completed", "intermediate", ("pass", "tls.chain_completed"), "issuer"),
    (
        "block page",
        (200, "text/html", b"<html><title>Access denied</title></html>"),
        ("fail", "tls.incomplete_chain"),
        "not_certificate",
    ),
    ("not found", (404, "text/html", b"<html></html>"), ("fail", "tls.incomplete_chain"), "http_error"),
    (
        "huge body",
        (200, "application/pkix-cert", b"\x30\x82" + b"A" * (1024 * 1024)),
        ("fail", "tls.incomplete_chain"),
        "too_large",
    ),
    ("hangs", "hang", ("fail", "tls.incomplete_chain"), "unreachable"),
]


@pytest.mark.parametrize(("label", "answer", "verdict", "outcome"), AIA_CASES, ids=[c[0] for c in AIA_CASES])
def test_an_incomplete_chain_is_completed_from_its_aia_url_as_windows_does(
    pki: FakePki, lab: dict[str, Any], label: str, answer: Any, verdict: tuple[str, str], outcome: str
) -> None:
    name = "login.aia.test"
    body = (200, "application/pkix-cert", pki.issuing.der) if answer == "intermediate" else answer
    with AiaServer({"/issuing.crt": body}) as aia_server:
        chain, key = pki.server_files(lab["tmp"], [name], served=[], ca_issuers_url=aia_server.url("/issuing.crt"))
        with TlsServer("ok", chain, key) as server:
            run = run_against(lab, {name: server})
    result = run.result("tls.interception", f"{name}:{server.port}")
    assert (result["status"], result["code"]) == verdict, result["summary"]
    fetches = result["evidence"]["addresses"]["127.0.0.1"]["aia"]
    assert [f["outcome"] for f in fetches] == [outcome]
    assert aia_server.asked == ["/issuing.crt"]  # fetched once, however many checks looked at the chain
    assert "AIA" in result["summary"]
    assert run.code == (0 if verdict[0] == "pass" else 1)


def test_a_dead_aia_url_is_one_finding_and_the_rest_of_the_run_stands(pki: FakePki, lab: dict[str, Any]) -> None:
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}/issuing.crt"  # bound, not listening: refused
        chain, key = pki.server_files(lab["tmp"], ["login.deadaia.test"], served=[], ca_issuers_url=dead)
        good_chain, good_key = pki.server_files(lab["tmp"], ["login.fine.test"])
        with TlsServer("ok", chain, key) as server, TlsServer("ok", good_chain, good_key) as fine:
            run = run_against(lab, {"login.deadaia.test": server, "login.fine.test": fine})
    result = run.result("tls.interception", f"login.deadaia.test:{server.port}")
    assert result["code"] == "tls.incomplete_chain"
    fetch = result["evidence"]["addresses"]["127.0.0.1"]["aia"][0]
    assert fetch["outcome"] == "unreachable" and "refused" in fetch["error"]
    assert run.result("tls.interception", f"login.fine.test:{fine.port}")["code"] == "tls.clean"


def test_an_sni_filter_is_told_from_a_dead_port_by_a_second_name(pki: FakePki, lab: dict[str, Any]) -> None:
    """A reset right after the ClientHello: the same address asked for another name answers (an alert) when it
    was the name that was filtered, and is reset again when it is the address or port."""
    name = "login.sni.test"
    with TlsServer(f"sni_reset:{name}") as filtered, TlsServer("reset") as dead:
        run = run_against(lab, {name: filtered, "login.deadport.test": dead})
    result = run.result("tls.handshake", f"{name}:{filtered.port}")
    assert (result["status"], result["code"]) == ("fail", "tls.sni_filtered"), result["summary"]
    evidence = result["evidence"]["addresses"]["127.0.0.1"]
    assert evidence["reset_after_client_hello"] and evidence["received_bytes"] == 0
    assert evidence["second_sni"]["sni"] == "preflight-sni-check.invalid"
    assert evidence["second_sni"]["outcome"] == "alert"
    assert "the name is filtered" in result["summary"]
    other = run.result("tls.handshake", f"login.deadport.test:{dead.port}")
    assert other["code"] == "tls.reset"
    assert "another name on the same address is reset too" in other["summary"]


def test_a_block_page_inside_a_connect_tunnel_keeps_its_status_and_title(pki: FakePki, lab: dict[str, Any]) -> None:
    from fakeproxy import FakeProxy

    name = "login.tunnelpage.test"
    chain, key = pki.server_files(lab["tmp"], [name])
    with (
        TlsServer("ok", chain, key) as server,
        FakeProxy(mode="tunnel_page", status=403, title="Web Filter: Category Blocked") as proxy,
    ):
        run = run_against(lab, {name: server}, "--proxy", f"http://127.0.0.1:{proxy.port}")
    result = run.result("tls.handshake", f"{name}:{server.port}")
    assert (result["status"], result["code"]) == ("fail", "tls.block_page"), result["summary"]
    (evidence,) = result["evidence"]["addresses"].values()
    assert evidence["http_status"] == 403 and evidence["page_title"] == "Web Filter: Category Blocked"
    assert "HTTP 403" in result["summary"] and "Web Filter: Category Blocked" in result["summary"]


def test_an_sni_filter_behind_a_proxy_is_named_by_a_second_handshake_through_a_new_tunnel(
    pki: FakePki, lab: dict[str, Any]
) -> None:
    """Through the connector's proxy: the tunnel opens, the ClientHello naming the host is reset; a new tunnel to
    the same host with another name in the ClientHello is answered, so the name is what is filtered."""
    from fakeproxy import FakeProxy

    name = "login.sni-via.test"
    with TlsServer(f"sni_reset:{name}") as filtered, TlsServer("reset") as dead, FakeProxy(mode="tunnel") as proxy:
        run = run_against(
            lab, {name: filtered, "login.dead-via.test": dead}, "--proxy", f"http://127.0.0.1:{proxy.port}"
        )
    result = run.result("tls.handshake", f"{name}:{filtered.port}")
    assert (result["status"], result["code"]) == ("fail", "tls.sni_filtered"), result["summary"]
    (label,) = result["evidence"]["addresses"]
    assert label == f"via http://127.0.0.1:{proxy.port}"
    evidence = result["evidence"]["addresses"][label]
    assert evidence["second_sni"]["sni"] == "preflight-sni-check.invalid"
    assert evidence["second_sni"]["outcome"] == "alert"
    assert "the same proxy path asked for preflight-sni-check.invalid answers" in result["summary"]
    other = run.result("tls.handshake", f"login.dead-via.test:{dead.port}")
    assert other["code"] == "tls.reset" and "another name on the same proxy path is reset too" in other["summary"]
