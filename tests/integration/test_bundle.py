"""`preflight bundle` end to end: a real run on loopback packed into one archive, with secrets planted in every
place a bundle collects from (proxy URLs, the environment, config files, the PAC script, check evidence), none
of which may survive; pseudonyms consistent across files; the manifest; `show`/`diff` reading bundles; and
archives that were cut short, altered or refused by the self-audit."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dnsserver import Behaviour, DnsServer
from fakeproxy import FakeProxy
from helpers import cli_env, run_cli, validate_report
from pki import FakePki, write_bundle
from plugindir import make_plugin
from tlsserver import TlsServer

from preflight.bundle import archive


def secret(tag: str) -> str:
    return f"Zq{tag}{secrets.token_hex(6)}"


@pytest.fixture(scope="module")
def pki() -> FakePki:
    return FakePki.build()


@pytest.fixture
def site(pki: FakePki, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """clean.test served by a good TLS server, a proxy that answers 407, a DNS server for both."""
    chain, key = pki.server_files(tmp_path, ["clean.test"])
    roots = write_bundle(tmp_path / "expected.pem", pki.root, pki.ms_root)
    with (
        TlsServer("ok", chain, key) as tls,
        FakeProxy(status=407, title="auth") as proxy,
        DnsServer({"clean.test": Behaviour(a=("127.0.0.1",))}) as dns,
    ):
        profile = tmp_path / "bundle.toml"
        profile.write_text(f'name = "bundle-test"\n[tls]\nexpected_roots = "{roots}"\n[clock]\nntp_servers = []\n'
                           f'[[endpoint]]\nhost = "clean.test"\nports = [{tls.port}]\npurpose = "t"\nsource = "t"\n'
                           "tls = true\n")  # fmt: skip
        yield {"tmp": tmp_path, "profile": str(profile), "dns": dns, "proxy": proxy, "tls": tls}


def bundle(site: dict[str, Any], out: Path, *extra: str, env: dict[str, str] | None = None) -> Any:
    return run_cli("bundle", "--profile", site["profile"], "--dns-server", site["dns"].address, "--timeout", "1",
                   "--quiet", "-o", str(out), *extra, env=env or cli_env())  # fmt: skip


def unpack(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name).decode("utf-8") for name in z.namelist()}


LEAKY_PLUGIN = """
from preflight import CodeDoc, Finding, Status

S = {secrets!r}
CODES = {{"secretplug.leaky": CodeDoc(Status.WARN, "A plugin that puts secrets in its evidence.", "-", "-")}}


class LeakyCheck:
    id = "secretplug.leaky"
    title = "leaks secrets into evidence"
    requires = "nothing"
    needs = ()
    codes = CODES

    def targets(self, plan):
        return plan.host_targets()[:1]

    async def run(self, target, ctx):
        evidence = {{
            "password": S["e-password"], "secret": S["e-secret"], "api_key": S["e-api_key"],
            "client_secret": S["e-client_secret"], "access_token": S["e-access_token"],
            "refresh_token": S["e-refresh_token"], "session_id": S["e-session_id"], "cookie": S["e-cookie"],
            "private_key": S["e-private_key"], "credentials": S["e-credentials"], "X-Api-Key": S["e-x-api-key"],
            "headers": ["Authorization: Basic " + S["e-basic-b64"],
                        "Proxy-Authorization: Negotiate YII" + S["e-negotiate"],
                        "Set-Cookie: id=" + S["e-set-cookie"] + "; Path=/"],
            "url": "https://svc:" + S["e-url"] + "@intranet.example/api",
            "sas": "https://acct.blob.core.windows.net/c?sv=2022&sig=" + S["e-sig"] + "&se=2026",
            "bearer": "Bearer " + S["e-bearer"] + "0123456789",
            "jwt": "eyJhbGciOiJub25lIn0.eyJ" + S["e-jwt"] + ".sig",
            "key_pem": "-----BEGIN EC PRIVATE KEY-----\\n" + S["e-pem"] + "\\n-----END EC PRIVATE KEY-----",
            "config_line": '<add key="StorageAccountKey" value="' + S["e-appsetting"] + '"/>',
            "nested": [{{"token": S["e-nested-token"]}}],
            "connection_string": "Server=db;User Id=x;Password=" + S["e-connstr"] + ";",
            "SharedAccessSignature": "sv=1&sig=" + S["e-sas2"],
        }}
        return Finding(Status.WARN, "secretplug.leaky",
                       "login password=" + S["e-summary"] + " for " + S["e-codename"], evidence,
                       "rotate secret: " + S["e-remediation"])
"""


def test_no_planted_secret_survives_in_a_bundle(site: dict[str, Any], tmp_path: Path) -> None:
    s: dict[str, str] = {}

    def plant(tag: str) -> str:
        s[tag] = secret(tag.replace("-", "").replace("_", "")[:6])
        return s[tag]

    for name in ("e-password", "e-secret", "e-api_key", "e-client_secret", "e-access_token", "e-refresh_token",
                 "e-session_id", "e-cookie", "e-private_key", "e-credentials", "e-x-api-key", "e-negotiate",
                 "e-set-cookie", "e-url", "e-sig", "e-bearer", "e-jwt", "e-pem", "e-appsetting", "e-nested-token",
                 "e-connstr", "e-sas2", "e-summary", "e-remediation"):  # fmt: skip
        plant(name)
    s["e-codename"] = f"Project-Falcon-{secrets.randbelow(10**6)}"
    basic_password = plant("basic-password")
    s["e-basic-b64"] = base64.b64encode(f"svc-account:{basic_password}".encode()).decode()
    plugin = make_plugin(tmp_path / "plugin", "secretplug", LEAKY_PLUGIN.format(secrets=s),
                         {"preflight.checks": {"secretplug.leaky": "secretplug:LeakyCheck"}})  # fmt: skip

    env_vars = {}
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env_vars[var] = f"http://user-{var.lower()}:{plant('env-' + var)}@127.0.0.1:{site['proxy'].port}"
    config = tmp_path / "connector.exe.config"
    config.write_text(f"""<?xml version="1.0"?>
<configuration>
  <appSettings>
    <add key="ClientSecret" value="{plant("cfg-client-secret")}" />
    <add key="ApiKey" value="{plant("cfg-apikey")}" />
    <add key="AuthToken" value="{plant("cfg-token")}" />
    <add key="ProxyPassword" value="{plant("cfg-proxy-password")}" />
  </appSettings>
  <connectionStrings>
    <add name="db" connectionString="Server=sql1;User Id=sa;Password={plant("cfg-db-password")};" />
    <add name="blob" connectionString="AccountName=x;AccountKey={plant("cfg-accountkey")};" />
    <add name="bus" connectionString="Endpoint=sb://x/;SharedAccessKey={plant("cfg-sak")}" />
  </connectionStrings>
  <password>{plant("cfg-password-element")}</password>
  <!-- -----BEGIN RSA PRIVATE KEY-----
  {plant("cfg-private-key")}
  -----END RSA PRIVATE KEY----- -->
  <system.net>
    <defaultProxy enabled="true">
      <proxy proxyaddress="http://cfg-user:{plant("cfg-proxyaddress")}@127.0.0.1:{site["proxy"].port}" />
    </defaultProxy>
  </system.net>
</configuration>
""")
    pac = tmp_path / "proxy.pac"
    pac.write_text(f"""// maintained by the network team; token={plant("pac-token")}
// Authorization: Bearer {plant("pac-bearer")}0123456789
// old: https://pacadmin:{plant("pac-url")}@intranet.example/pac
// aws AKIA{secrets.token_hex(8).upper()} gh ghp_{plant("pac-gh")}{"a" * 20} slack xoxb-{plant("pac-slack")}
// jwt eyJhbGciOiJub25lIn0.eyJ{plant("pac-jwt")}.x  sas ?sv=1&sig={plant("pac-sig")} codename {s["e-codename"]}
var password = "{plant("pac-password")}";
function FindProxyForURL(url, host) {{ return "DIRECT"; }}
""")
    aws = next(w for w in pac.read_text().split() if w.startswith("AKIA"))
    s["pac-aws"] = aws
    s["pac-gh-full"] = f"ghp_{s['pac-gh']}{'a' * 20}"
    proxy_password = plant("cli-proxy")
    assert len(s) >= 50, len(s)

    out = tmp_path / "support.zip"
    env = cli_env(**env_vars, PYTHONPATH=f"{plugin}{os.pathsep}{cli_env()['PYTHONPATH']}")
    run = bundle(site, out, "--proxy", f"http://cli-user:{proxy_password}@127.0.0.1:{site['proxy'].port}",
                 "--connector-config", str(config), "--pac", str(pac), "--redact", r"Project-Falcon-\d+",
                 env=env)  # fmt: skip
    assert run.code in (0, 1), run.stderr
    assert "bundle written" in run.stderr

    files = unpack(out)
    assert {"report.json", "report.html", "host.json", "manifest.json", "evidence/dns.json", "evidence/proxy.json",
            "evidence/proxy.pac", "evidence/connector.config"} <= set(files)  # fmt: skip
    everything = "\n".join(files.values()) + "\n".join(files) + run.stdout + run.stderr
    leaked = {tag: value for tag, value in s.items() if value in everything}
    assert not leaked, f"secrets left in the bundle: {leaked}"

    report = json.loads(files["report.json"])
    leaky = next(r for r in report["results"] if r["check"] == "secretplug.leaky")
    assert leaky["evidence"]["password"] == "[REDACTED]"
    assert "svc-account" not in json.dumps(leaky)  # the whole Basic credential goes, not just the password
    assert '<add key="ApiKey" value="[REDACTED]" />' in files["evidence/connector.config"]
    assert "function FindProxyForURL" in files["evidence/proxy.pac"]  # redaction keeps what support needs
    manifest = json.loads(files["manifest.json"])
    assert manifest["redactions"] >= 50 and manifest["user_patterns"] == 1
    assert b"Proxy-Authorization" not in b"".join(site["proxy"].requests)  # credentials were not sent


def test_bundle_contents_manifest_and_show(site: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "b.zip"
    run = bundle(site, out)
    assert run.code == 0, run.stderr + run.stdout
    files = unpack(out)
    manifest = json.loads(files["manifest.json"])
    listed = {e["path"]: e for e in manifest["files"]}
    assert set(listed) == set(files) - {"manifest.json"}
    for name, entry in listed.items():
        assert hashlib.sha256(files[name].encode()).hexdigest() == entry["sha256"]
    pem = [n for n in files if n.startswith("evidence/tls/")]
    assert pem and all("-----BEGIN CERTIFICATE-----" in files[n] for n in pem)
    dns = json.loads(files["evidence/dns.json"])
    assert dns["clean.test"]["addresses"] == ["127.0.0.1"]
    host = json.loads(files["host.json"])
    report = json.loads(files["report.json"])
    assert host["tool"]["version"] and host["profile"]["sha256"] == report["profile"]["sha256"]
    assert isinstance(host["interfaces"], list) and any(i["name"] == "lo" for i in host["interfaces"])
    if shutil.which("ip") is None:  # no iproute2 on this machine: the names only, and the bundle says why
        assert "iproute2 is not installed" in host["interfaces_note"]
    assert "routes" in host and "resolver" in host and "hosts" in host
    assert manifest["verdict"] == json.loads(files["report.json"])["summary"]["verdict"]

    shown = run_cli("show", str(out), "--format", "json")
    assert shown.code == 0, shown.stderr
    validate_report(json.loads(shown.stdout), json.loads(Path("reports/schema/report.schema.json").read_text()))
    assert json.loads(shown.stdout)["summary"] == json.loads(files["report.json"])["summary"]
    table = run_cli("show", str(out))
    assert "clean.test" in table.stdout
    same = run_cli("diff", str(out), str(out))
    assert same.code == 0, same.stderr
    merged = run_cli("merge", str(out), str(out))
    assert merged.code == 0 and "clean.test" not in merged.stderr


def test_pseudonyms_are_consistent_across_files_and_the_map_stays_outside(site: dict[str, Any], tmp_path: Path) -> None:
    tenant = "3f2a1c4e-1111-4222-8333-944455556666"
    pac = tmp_path / "p.pac"
    pac.write_text('// intranet proxy fd12:3456:789a::1\nfunction FindProxyForURL(url, host) {\n'
                   '  if (isInNet(host, "198.18.77.0", "255.255.255.0")) return "DIRECT";\n'
                   '  return "PROXY proxy.corp.test:3128; DIRECT";\n}\n')  # fmt: skip
    env = cli_env(USER="alice-admin", HOME="/home/alice-admin", NO_PROXY="198.18.77.5,.corp.test",
                  HTTPS_PROXY="http://proxy.corp.test:3128")  # fmt: skip
    out = tmp_path / "p.zip"
    run = bundle(site, out, "--pseudonymize", "--pac", str(pac), "--tenant-id", tenant,
                 "--only", "dns.resolve", "--only", "proxy.effective", env=env)  # fmt: skip
    assert run.code in (0, 1), run.stderr
    files = unpack(out)
    reverse_path = Path(f"{out}.pseudonyms.json")
    reverse = json.loads(reverse_path.read_text())["pseudonyms"]
    originals = ["proxy.corp.test", "corp.test", "alice-admin", tenant, "198.18.77.5", "fd12:3456:789a::1"]
    hostname = socket.gethostname()
    if len(hostname) >= 4:
        originals.append(hostname)
    for original in originals:
        for name, text in files.items():
            assert original.lower() not in text.lower(), f"{original} left in {name}"
        assert original in reverse.values() or original.lower() in (v.lower() for v in reverse.values()), original
    proxy_alias = next(k for k, v in reverse.items() if v == "proxy.corp.test")
    holders = [n for n, t in files.items() if proxy_alias in t]
    assert {"report.json", "host.json", "evidence/proxy.pac", "evidence/proxy.json"} <= set(holders)
    assert "clean.test" in files["report.json"]  # the profile's public names stay readable
    assert not any("pseudonyms" in n for n in files)
    assert oct(reverse_path.stat().st_mode & 0o777) == "0o600"


def test_self_audit_refuses_and_leaves_nothing(site: dict[str, Any], tmp_path: Path) -> None:
    """A --redact pattern that matches the tool's own text cannot be honoured: the bundle is refused."""
    out = tmp_path / "refused.zip"
    run = bundle(site, out, "--redact", "connector-preflight")
    assert run.code == 2
    line = run.stderr.strip().splitlines()[-1]
    assert "bundle not written" in line and ("--redact" in line or "redacted value" in line)
    assert re.search(r"(report\.html|manifest\.json|host\.json|report\.json):\d+: ", line), line
    assert not out.exists() and not list(tmp_path.glob(".refused.zip.*"))


def test_audit_names_file_and_line(tmp_path: Path) -> None:
    out = tmp_path / "x.zip"
    with pytest.raises(archive.BundleError, match=r"evidence/notes.txt:3: secret setting left in"):
        archive.write(out, {"report.json": b"{}", "evidence/notes.txt": b"one\ntwo\nproxy_password=hunter22\n"}, {})
    assert not out.exists() and not list(tmp_path.iterdir())
    with pytest.raises(archive.BundleError, match=r"a redacted value left in"):
        archive.write(out, {"a.txt": b"the value was s3cr3t-value"}, {}, audit_values={"s3cr3t-value"})


def test_an_interrupted_write_leaves_no_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    real = zipfile.ZipFile.writestr

    def interrupted(self: zipfile.ZipFile, *args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        real(self, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", interrupted)
    out = tmp_path / "cut.zip"
    with pytest.raises(KeyboardInterrupt):
        archive.write(out, {f"f{i}.txt": b"data" for i in range(6)}, {})
    assert not out.exists() and not list(tmp_path.iterdir())


def test_cut_short_altered_and_unfinished_bundles_are_refused(site: dict[str, Any], tmp_path: Path) -> None:
    good = tmp_path / "good.zip"
    assert bundle(site, good).code == 0
    data = good.read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(data[: len(data) // 2])
    unfinished = tmp_path / "unfinished.zip"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(unfinished, "w") as dst:
        for name in src.namelist():
            if name != "manifest.json":
                dst.writestr(name, src.read(name))
    altered = tmp_path / "altered.zip"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(altered, "w") as dst:
        for name in src.namelist():
            body = src.read(name)
            dst.writestr(name, body.replace(b'"fail"', b'"pass"') if name == "report.json" else body)
    expected = {cut: "not", unfinished: "incomplete bundle", altered: "does not match its SHA-256"}
    for path, words in expected.items():
        shown = run_cli("show", str(path))
        assert shown.code == 2, (path, shown.stderr)
        assert words in shown.stderr and len(shown.stderr.strip().splitlines()) == 1, shown.stderr


def test_bundle_usage_errors(site: dict[str, Any], tmp_path: Path) -> None:
    for extra, words in [(["--redact", "(["], "not a regular expression"),
                         (["--redact", ".*"], "empty string")]:  # fmt: skip
        run = bundle(site, tmp_path / "u.zip", *extra)
        assert run.code == 2 and words in run.stderr
    run = run_cli("bundle", "--profile", site["profile"], "-o", str(tmp_path / "missing" / "b.zip"))
    assert run.code == 2 and "existing directory" in run.stderr


@pytest.mark.parametrize("where", ["--proxy", "HTTPS_PROXY", "connector config", "PAC URL"])
def test_a_bundle_behind_a_proxy_with_credentials(site: dict[str, Any], tmp_path: Path, where: str) -> None:
    """TLS evidence through an authenticated proxy is keyed by the proxy without its userinfo, so the self-audit
    passes and no member names the user or the password, masked or not."""
    user, password = "svc-proxy-user", secret("proxypw")
    with FakeProxy(mode="tunnel") as proxy:
        url = f"http://{user}:{password}@127.0.0.1:{proxy.port}"
        extra: list[str] = []
        env = cli_env()
        if where == "--proxy":
            extra = ["--proxy", url]
        elif where == "HTTPS_PROXY":
            env = cli_env(HTTPS_PROXY=url)
        elif where == "connector config":
            config = tmp_path / "connector.exe.config"
            config.write_text(f'<configuration><system.net><defaultProxy enabled="true"><proxy proxyaddress="{url}" '
                              'usesystemdefault="false" /></defaultProxy></system.net></configuration>')  # fmt: skip
            extra = ["--connector-config", str(config)]
        else:  # a PAC script behind a URL with credentials, sending everything through the proxy
            script = f'function FindProxyForURL(url, host) {{ return "PROXY 127.0.0.1:{proxy.port}"; }}\n'
            server = pac_server(script)
            extra = ["--pac", f"http://{user}:{password}@127.0.0.1:{server.server_address[1]}/proxy.pac"]
        out = tmp_path / "b.zip"
        try:
            run = bundle(site, out, *extra, env=env)
            plain = run_cli("run", "--profile", site["profile"], "--dns-server", site["dns"].address, "--timeout", "1",
                            "--format", "json", *extra, env=env)  # fmt: skip
        finally:
            if where == "PAC URL":
                server.shutdown()
        assert run.code == 0, run.stderr + run.stdout
        assert proxy.requests, "the TLS check went through the proxy"
    files = unpack(out)
    pems = [name for name in files if name.startswith("evidence/tls/") and name.endswith(".pem")]
    assert pems and all("via_http_127.0.0.1" in name for name in pems), pems
    everything = "\n".join(files.values()) + "\n".join(files) + run.stdout + run.stderr
    assert password not in everything and user not in everything and "***:***@" not in everything
    assert password not in plain.stdout + plain.stderr and user not in plain.stdout  # nor in a plain report
    tls = next(r for r in json.loads(files["report.json"])["results"] if r["check"] == "tls.interception")
    assert tls["status"] == "pass", tls["summary"]


def pac_server(script: str) -> Any:
    """A PAC file over plain HTTP on loopback, in a thread; the caller shuts it down."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = script.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ns-proxy-autoconfig")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
