"""Secrets in the places the first round missed, through every output: a password in a PAC answer's proxy, in a
proxy variable of unusual case, in NO_PROXY (no scheme: `user:pass@host`), a SAS `sig=` token in a --pac URL, and
userinfo in a WPAD script's answer. Each case is run for real on loopback and rendered in every report format and
as a bundle; the secret must appear in none of them (the one redaction pass: preflight/redact.py via emit.py)."""

from __future__ import annotations

import http.server
import json
import secrets
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dnsserver import Behaviour, DnsServer
from fakeproxy import FakeProxy
from helpers import cli_env, run_cli

from preflight.redact import Redactor
from preflight.reporting.report import from_json, redacted

FORMATS = ("json", "html", "markdown", "junit", "firewall", "firewall-md", "table")


def _secret(tag: str) -> str:
    return f"Zq{tag}{secrets.token_hex(6)}"


class PacHttp:
    """A PAC file over HTTP on loopback (any path and query)."""

    def __init__(self, script: str) -> None:
        body = script.encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ns-proxy-autoconfig")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[dict[str, Any]]:
    with FakeProxy(mode="tunnel") as proxy, DnsServer({"svc.test": Behaviour(a=("127.0.0.1",))}) as dns:
        profile = tmp_path / "p.toml"
        profile.write_text(
            'name = "secrets"\n[clock]\nntp_servers = []\n'
            '[[endpoint]]\nhost = "svc.test"\nports = [9]\npurpose = "p"\nsource = "s"\n'
        )
        yield {"tmp": tmp_path, "profile": str(profile), "dns": dns.address, "proxy": proxy}


def _outputs(site: dict[str, Any], extra: list[str], env: dict[str, str]) -> str:
    """Every format of one run, and a bundle of another, as one text."""
    tmp: Path = site["tmp"]
    common = ["--profile", site["profile"], "--dns-server", site["dns"], "--timeout", "1", *extra]
    formats = [arg for name in FORMATS for arg in ("--format", f"{name}={tmp / ('out.' + name)}")]
    run = run_cli("run", *common, *formats, env=env)
    assert run.code in (0, 1), run.stderr
    texts = [run.stdout, run.stderr, *((tmp / f"out.{name}").read_text(encoding="utf-8") for name in FORMATS)]
    out = tmp / "b.zip"
    made = run_cli("bundle", *common, "--quiet", "-o", str(out), env=env)
    assert made.code in (0, 1) and "bundle written" in made.stderr, made.stderr
    with zipfile.ZipFile(out) as archive:
        texts += [archive.read(name).decode("utf-8") for name in archive.namelist()]
    return "\n".join(texts)


@pytest.mark.parametrize("case", ["pac-answer", "env-odd-case", "no-proxy", "pac-sas", "pac-url-bare-userinfo"])
def test_no_secret_reaches_any_output(site: dict[str, Any], case: str) -> None:
    password = _secret(case.replace("-", "")[:6])
    port = site["proxy"].port
    env = cli_env()
    extra: list[str] = []
    server: PacHttp | None = None
    if case == "pac-answer":
        pac = site["tmp"] / "p.pac"
        pac.write_text(f'function FindProxyForURL(u, h) {{ return "PROXY pacuser:{password}@127.0.0.1:{port}"; }}')
        extra = ["--pac", str(pac)]
    elif case == "env-odd-case":
        env = cli_env(hTTpS_pRoXy=f"envuser:{password}@127.0.0.1:{port}")  # no scheme, unusual case
    elif case == "no-proxy":
        env = cli_env(HTTPS_PROXY=f"http://127.0.0.1:{port}", NO_PROXY=f"nouser:{password}@internal.test,.corp")
    elif case == "pac-sas":
        server = PacHttp('function FindProxyForURL(u, h) { return "DIRECT"; }')
        extra = ["--pac", f"http://127.0.0.1:{server.port}/proxy.pac?sv=2022-11-02&sr=b&sig={password}&se=2030"]
    else:
        pac = site["tmp"] / "p.pac"
        pac.write_text(f'function FindProxyForURL(u, h) {{ return "PROXY u:{password}@127.0.0.1:{port}; DIRECT"; }}')
        extra = ["--pac", str(pac)]
    try:
        everything = _outputs(site, extra, env)
    finally:
        if server is not None:
            server.close()
    assert password not in everything, f"{case}: the secret reached an output"
    assert "[REDACTED]" in everything  # it was there to remove, and was removed


def test_a_wpad_answer_with_userinfo_is_redacted_in_the_report_and_the_bundle(tmp_path: Path) -> None:
    """The WPAD script's answer and the script itself (evidence/wpad.dat) as a run records them."""
    from preflight.bundle.build import assemble

    password = _secret("wpad")
    answer = f"PROXY wpaduser:{password}@proxy.corp.test:3128; DIRECT"
    report = json.loads((Path(__file__).parent.parent / "golden" / "sample-report.json").read_text())
    effective = next(r for r in report["results"] if r["check"] == "proxy.effective")
    effective["evidence"]["wpad"] = {
        "url": "http://wpad.corp.test/wpad.dat",
        "used": False,
        "decisions": {"svc.test:443": answer},
    }
    effective["summary"] = f"a WPAD script answers {answer}"
    loaded = from_json(report, "report.json")
    cleaned = redacted(loaded)
    assert password not in json.dumps(cleaned.to_json())
    contents = assemble(
        loaded,
        {"hostname": "h"},
        {"evidence/wpad.dat": f'return "{answer}";'},
        Redactor(),
        None,
        lambda r: json.dumps(r.to_json()),
    )
    blob = b"".join(contents.files.values()).decode("utf-8")
    assert password not in blob and "wpaduser:" not in blob


def test_redaction_leaves_what_is_no_secret_alone() -> None:
    redactor = Redactor()
    for text in (
        "login.microsoftonline.com:443@198.18.50.10",
        "[2001:db8::1]:443@2001:db8::1",
        "svc.test@127.0.0.1",
        "PROXY proxy.corp:3128; DIRECT",
        "http://proxy.corp:3128",
        "clean.test:8443@addresses@127.0.0.1",
    ):
        assert redactor.text(text) == text
    assert redactor.text("user:p@ss@proxy.corp:80") == "[REDACTED]@proxy.corp:80"  # the password may hold '@'


@pytest.mark.timeout(60)  # a hang guard: each text below took minutes before the patterns were made linear
@pytest.mark.parametrize(
    "shape",
    [
        "a://" + ":" * 100_000,
        "a." * 50_000,
        "a-" * 50_000,
        "eyJa-" * 20_000,
        "<password " * 10_000,
        "<password a=" * 8_000,
        ":@" * 50_000,
        " a:b@" * 20_000,
        "x" * 100_000 + "@",
    ],
)
def test_a_text_shaped_against_the_redactor_does_not_stall_it(shape: str, tmp_path: Path) -> None:
    from preflight.bundle.archive import audit

    redactor = Redactor()
    cleaned = redactor.text(shape)
    redactor.walk({"evidence": {"script": shape, "list": [shape[:1000]] * 10}})
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("evidence/proxy.pac", cleaned)
    assert audit(archive, redactor.remembered) == []  # the self-audit reads it as fast, and finds nothing left
