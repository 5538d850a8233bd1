"""The PAC engine's worker on real scripts and hostile ones, and PAC inside a run: fetched over HTTP on loopback,
bounded by --timeout, counted in --deadline, ended by Ctrl-C, and reported as proxy.pac_* codes."""

from __future__ import annotations

import asyncio
import http.server
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dnsserver import Behaviour, DnsServer
from fakeproxy import FakeProxy
from helpers import cli_env, run_cli

from preflight.proxy.pac import MAX_LOOKUPS, PacError, PacSession

CORPORATE = """
function isMicrosoft(host) {
    return dnsDomainIs(host, ".microsoftonline.com") || dnsDomainIs(host, ".msappproxy.net");
}
function FindProxyForURL(url, host) {
    host = host.toLowerCase();
    var proxy = "PROXY 198.18.1.1:3128";
    if (isPlainHostName(host) || shExpMatch(host, "*.contoso.local")) return "DIRECT";
    if (isMicrosoft(host)) return proxy + "; DIRECT";
    if (isInNet(dnsResolve(host), "198.18.60.0", "255.255.255.0")) return "DIRECT";
    if (url.substring(0, 5) === "http:") { return "PROXY 198.18.1.1:8080"; }
    else if (localHostOrDomainIs(host, "www.microsoft.com")) return "SOCKS 198.18.1.1:1080";
    return typeof host == "string" ? proxy : "DIRECT";
}
"""
NAMES = {"internal.contoso.com": "198.18.60.7"}


async def table_lookup(question: str, host: str) -> Any:
    if question == "myIpAddress":
        return "198.18.20.40"
    return NAMES.get(host)


def evaluate(script: str, queries: list[tuple[str, str]], timeout: float = 5.0,
             lookup: Any = table_lookup) -> list[Any]:  # fmt: skip
    """Each query's answer, or the PacError it raised (as (code, message))."""

    async def run() -> list[Any]:
        session = PacSession(script, lookup, timeout)
        try:
            try:
                await session.start()
            except PacError as exc:
                return [(exc.code, exc.message)]
            answers: list[Any] = []
            for url, host in queries:
                try:
                    answers.append(await session.find(url, host))
                except PacError as exc:
                    answers.append((exc.code, exc.message))
            return answers
        finally:
            await session.close()

    return asyncio.run(run())


@pytest.mark.parametrize(
    ("url", "host", "expected"),
    [
        ("https://intranet/", "intranet", "DIRECT"),
        ("https://app.contoso.local/", "app.contoso.local", "DIRECT"),
        ("https://login.microsoftonline.com/", "LOGIN.MicrosoftOnline.com", "PROXY 198.18.1.1:3128; DIRECT"),
        ("https://internal.contoso.com/", "internal.contoso.com", "DIRECT"),
        ("http://crl3.digicert.com/", "crl3.digicert.com", "PROXY 198.18.1.1:8080"),
        ("https://www.microsoft.com/", "www.microsoft.com", "SOCKS 198.18.1.1:1080"),
        ("https://management.azure.com/", "management.azure.com", "PROXY 198.18.1.1:3128"),
    ],
)
def test_corporate_pac(url: str, host: str, expected: str) -> None:
    assert evaluate(CORPORATE, [(url, host)]) == [expected]


@pytest.mark.parametrize(
    ("script", "code", "words"),
    [
        ("function FindProxyForURL(u, h) {\n  return 'DIRECT' ", "proxy.pac_error", ["SyntaxError", ":2"]),
        ("function Other(u, h) { return 'DIRECT'; }", "proxy.pac_error", ["no function FindProxyForURL"]),
        ("function FindProxyForURL(u, h) { return 1; }", "proxy.pac_error", ["returned a number, not a string"]),
        ("function FindProxyForURL(u, h) { return missing(h); }", "proxy.pac_error", ["ReferenceError", "missing"]),
        ("function FindProxyForURL(u, h) {\n\n  throw new Error('boom'); }", "proxy.pac_error", ["boom", ":3"]),
        ("function FindProxyForURL(u, h) { return undefined; }", "proxy.pac_error", ["null or undefined"]),
        ("function FindProxyForURL(u, h) { return require('fs'); }", "proxy.pac_error", ["require"]),
        ("function FindProxyForURL(u, h) { return typeof process + typeof require + typeof window; }", None,
         ["undefinedundefinedundefined"]),
    ],
)  # fmt: skip
def test_script_errors_are_one_line_with_the_line(script: str, code: str | None, words: list[str]) -> None:
    [answer] = evaluate(script, [("https://a.test/", "a.test")])
    if code is None:  # the script sees no Python or Node object
        assert answer == words[0]
        return
    assert answer[0] == code
    assert "\n" not in answer[1]
    for word in words:
        assert word in answer[1], answer[1]


def test_an_endless_loop_is_stopped_within_the_timeout() -> None:
    script = "function FindProxyForURL(u, h) { if (h === 'loop.test') { for (;;) {} } return 'DIRECT'; }"
    started = time.monotonic()
    answers = evaluate(script, [("https://ok.test/", "ok.test"), ("https://loop.test/", "loop.test"),
                                ("https://ok.test/", "ok.test")], timeout=1.0)  # fmt: skip
    took = time.monotonic() - started
    assert answers[0] == "DIRECT"
    assert answers[1][0] == "proxy.pac_timeout" and "longer than 1 s" in answers[1][1]
    assert answers[2][0] == "proxy.pac_timeout"  # the worker is gone; later queries fail at once
    assert took < 1.0 + 1.5, f"{took:.2f}s"


@pytest.mark.parametrize("body", ["var s = 'x'; while (true) { s += s; }", "var a = []; while (true) a.push([a]);"])
def test_a_huge_allocation_ends_the_worker_not_the_host(body: str) -> None:
    started = time.monotonic()
    [answer] = evaluate(f"{body}\nfunction FindProxyForURL(u, h) {{ return 'DIRECT'; }}", [], timeout=5.0)
    assert answer[0] in ("proxy.pac_error", "proxy.pac_timeout"), answer
    assert time.monotonic() - started < 5.0 + 1.5


def test_time_spent_on_lookups_does_not_count_but_lookups_are_capped() -> None:
    asked: list[str] = []

    async def slow_lookup(question: str, host: str) -> Any:
        asked.append(host)
        await asyncio.sleep(0.3)  # three of them: more than the query's 0.5 s, less than the 1 s lookup budget
        return "198.18.0.1"

    script = "function FindProxyForURL(u, h) { dnsResolve('a.test'); dnsResolve('b.test'); dnsResolve('a.test');" \
             " return 'PROXY ' + dnsResolve(h) + ':80'; }"  # fmt: skip
    assert evaluate(script, [("https://c.test/", "c.test")], timeout=0.5, lookup=slow_lookup) == ["PROXY 198.18.0.1:80"]
    assert asked == ["a.test", "b.test", "c.test"]  # each name once

    async def quick(question: str, host: str) -> Any:
        asked.append(host)
        return None

    asked.clear()
    flood = (
        "function FindProxyForURL(u, h) { for (var i = 0; i < 500; i++) dnsResolve('n' + i + '.test');"
        " return 'DIRECT'; }"
    )
    assert evaluate(flood, [("https://c.test/", "c.test")], lookup=quick) == ["DIRECT"]
    assert len(asked) == MAX_LOOKUPS


FUZZ_TOKENS = ["function", "FindProxyForURL", "(", ")", "{", "}", "return", '"DIRECT"', '"PROXY p:8080"', ";", "if",
               "else", "var", "x", "=", "+", "==", "&&", "||", "!", "url", "host", ",", "isPlainHostName",
               "dnsDomainIs", "shExpMatch", "isInNet", "dnsResolve", "myIpAddress", "'*.test'", "1", "[", "]", ".",
               "length", "while", "for", "/x/", "new", "RegExp", "this", "null", "throw"]  # fmt: skip


def test_random_scripts_give_an_answer_or_a_one_line_error() -> None:
    import random

    rng = random.Random(20261201)
    for _ in range(25):
        body = " ".join(rng.choice(FUZZ_TOKENS) for _ in range(rng.randint(0, 25)))
        script = f"function FindProxyForURL(url, host) {{ {body} }}" if rng.random() < 0.7 else body
        for answer in evaluate(script, [("https://login.test/", "login.test")], timeout=1.0):
            if isinstance(answer, tuple):
                assert answer[0] in ("proxy.pac_error", "proxy.pac_timeout") and "\n" not in answer[1], answer
            else:
                assert isinstance(answer, str)


# --- PAC inside a run -------------------------------------------------------------------------------------------


class PacServer:
    """Serves one PAC body on loopback; `silent` accepts and never answers."""

    def __init__(self, body: bytes = b"", content_type: str = "application/x-ns-proxy-autoconfig",
                 silent: bool = False) -> None:  # fmt: skip
        self.body, self.content_type, self.silent = body, content_type, silent
        self.requests: list[str] = []

    def __enter__(self) -> PacServer:
        owner = self
        if self.silent:
            self.sock = socket.socket()
            self.sock.bind(("127.0.0.1", 0))
            self.sock.listen(16)
            self.port = self.sock.getsockname()[1]
            return self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", owner.content_type)
                self.send_header("Content-Length", str(len(owner.body)))
                self.end_headers()
                self.wfile.write(owner.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.silent:
            self.sock.close()
        else:
            self.server.shutdown()
            self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/proxy.pac"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[dict[str, Any]]:
    profile = tmp_path / "p.toml"
    profile.write_text('name = "pac-live"\n[clock]\nntp_servers = []\n'
                       '[[endpoint]]\nhost = "svc.test"\nports = [443]\npurpose = "p"\nsource = "s"\n'
                       '[[endpoint]]\nhost = "direct.test"\nports = [443]\npurpose = "p"\nsource = "s"\n')  # fmt: skip
    with DnsServer({"svc.test": Behaviour(a=("127.0.0.1",)), "direct.test": Behaviour(a=("127.0.0.1",))}) as dns:
        yield {"profile": str(profile), "dns": dns.address, "tmp": tmp_path}


def run_with_pac(site: dict[str, Any], pac: str, *extra: str) -> Any:
    return run_cli("run", "--profile", site["profile"], "--dns-server", site["dns"], "--pac", pac, "--timeout", "1",
                   "--format", "json", "--only", "proxy.*", *extra)  # fmt: skip


def test_a_pac_served_over_http_routes_through_its_proxy(site: dict[str, Any]) -> None:
    with FakeProxy("status", 200) as proxy:
        script = ("function FindProxyForURL(url, host) {\n"
                  "  if (/^direct\\./.test(host)) return 'DIRECT';\n"
                  f"  return 'PROXY 127.0.0.1:{proxy.port}; DIRECT'; }}\n").encode()  # fmt: skip
        with PacServer(b"\xef\xbb\xbf" + script) as server:
            run = run_with_pac(site, server.url)
        assert server.requests == ["/proxy.pac"]
        assert proxy.requests and proxy.requests[0].startswith(b"CONNECT svc.test:443 ")
    effective = run.result("proxy.effective", "proxy settings")
    assert effective["code"] == "proxy.configured", effective["summary"]
    pac = effective["evidence"]["pac"]
    assert pac["engine"].startswith("dukpy") and pac["origin"] == "--pac" and pac["fetch"]["status"] == 200
    assert pac["results"] == {"svc.test:443": f"PROXY 127.0.0.1:{proxy.port}; DIRECT", "direct.test:443": "DIRECT"}
    assert run.result("proxy.tunnel", "svc.test:443")["code"] == "proxy.ok"
    assert effective["evidence"]["routes"]["direct.test:443"]["proxy"] is None


def test_my_ip_address_is_this_hosts_outbound_address(site: dict[str, Any]) -> None:
    path = site["tmp"] / "me.pac"
    path.write_text("function FindProxyForURL(u, h) { return 'PROXY ' + myIpAddress() + ':3128'; }")
    run = run_with_pac(site, str(path), "--only", "proxy.effective")
    pac = run.result("proxy.effective", "proxy settings")["evidence"]["pac"]
    assert pac["my_ip_address"] == {"address": "127.0.0.1", "how": "source address of the route to svc.test "
                                    "(127.0.0.1)"}  # fmt: skip
    assert pac["results"]["svc.test:443"] == "PROXY 127.0.0.1:3128"


@pytest.mark.parametrize(
    ("setup", "code", "words"),
    [
        ("loop", "proxy.pac_timeout", "longer than 1 s"),
        ("huge", "proxy.pac_too_large", "larger than 4 MiB"),
        ("html", "proxy.pac_unavailable", "an HTML page"),
        ("missing", "proxy.pac_unavailable", "No such file"),
        ("syntax", "proxy.pac_error", "SyntaxError"),
    ],
)
def test_pac_failures_are_reported_and_the_run_goes_on(site: dict[str, Any], setup: str, code: str,
                                                       words: str) -> None:  # fmt: skip
    path = site["tmp"] / "x.pac"
    if setup == "loop":
        path.write_text("function FindProxyForURL(u, h) { while (true) {} }")
    elif setup == "huge":
        with path.open("wb") as handle:
            handle.truncate(50 * 1024 * 1024)  # 50 MB
    elif setup == "syntax":
        path.write_text("function FindProxyForURL(u, h) { return 'DIRECT' ")
    if setup == "html":
        with PacServer(b"<html><title>Sign in</title></html>", "text/html") as server:
            run = run_with_pac(site, server.url)
    else:
        started = time.monotonic()
        run = run_with_pac(site, str(path))
        assert time.monotonic() - started < 10
    effective = run.result("proxy.effective", "proxy settings")
    assert (effective["status"], effective["code"]) == ("fail", code), effective["summary"]
    assert words in effective["summary"] and "tested on the route without the script" in effective["summary"]
    assert run.code == 1


def test_a_silent_pac_host_honours_the_deadline(site: dict[str, Any]) -> None:
    with PacServer(silent=True) as server:
        started = time.monotonic()
        run = run_cli("run", "--profile", site["profile"], "--dns-server", site["dns"], "--pac", server.url,
                      "--timeout", "10", "--deadline", "2", "--format", "json")  # fmt: skip
        took = time.monotonic() - started
    assert took < 2 + 0.5 + 1.5, f"{took:.2f}s"  # the deadline, its 0.5 s grace, and the interpreter's start-up
    assert run.report["ended_by"] == "deadline"
    assert run.code == 3
    effective = run.result("proxy.effective", "proxy settings")  # a script that never answered is no "direct"
    assert (effective["status"], effective["code"]) == ("error", "proxy.pac_unfinished"), effective["summary"]
    assert "before the script had answered for every endpoint (0 answered)" in effective["summary"]


@pytest.mark.parametrize("body", ["while (true) {}", "for (var i = 0; i < 1e6; i++) dnsResolve('n' + i + '.test');"])
def test_a_script_cut_off_by_the_deadline_is_unfinished_not_direct(site: dict[str, Any], body: str) -> None:
    path = site["tmp"] / "slow.pac"
    path.write_text(f"function FindProxyForURL(u, h) {{ {body} return 'DIRECT'; }}")
    run = run_cli("run", "--profile", site["profile"], "--dns-server", site["dns"], "--pac", str(path),
                  "--timeout", "30", "--deadline", "1.5", "--format", "json")  # fmt: skip
    effective = run.result("proxy.effective", "proxy settings")
    assert effective["status"] != "pass", effective
    assert effective["code"] in ("proxy.pac_unfinished", "proxy.pac_timeout"), effective["summary"]
    assert run.report["ended_by"] == "deadline"


def test_ctrl_c_during_a_pac_fetch_ends_the_run_within_a_second(site: dict[str, Any], tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    with PacServer(silent=True) as server:
        proc = subprocess.Popen(
            [sys.executable, "-m", "preflight", "run", "--profile", site["profile"], "--dns-server", site["dns"],
             "--pac", server.url, "--timeout", "10", "--format", f"json={report}", "--quiet"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(),
        )  # fmt: skip
        time.sleep(2.0)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)
        took = time.monotonic() - sent
    assert took < 1.0, f"{took:.2f}s"
    assert proc.returncode == 130
    assert '"ended_by": "SIGINT"' in report.read_text()
