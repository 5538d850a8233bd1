"""The tenant lookup through the real CLI against a loopback sign-in service: every bad answer is one clear
`tenant.*` result with evidence, the rest of the run goes on, and a silent service costs one bounded wait.

The profile's [tenant] authority points at the loopback server; SSL_CERT_FILE makes the test CA this host's trust
store for the CLI process (the lookup verifies TLS against the OS store, as the connector does)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dnsserver import Behaviour, DnsServer
from helpers import cli_env, run_cli
from loopthread import LoopThread
from pki import ca, leaf

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
DISCOVERY = "/v2.0/.well-known/openid-configuration"


def discovery_document(guid: str, cloud: str = "microsoftonline.com") -> bytes:
    host = "login.microsoftonline.us" if cloud.endswith(".us") else "login.microsoftonline.com"
    return json.dumps({"issuer": f"https://{host}/{guid}/v2.0", "token_endpoint": f"https://{host}/{guid}/oauth2/v2.0/token",
                       "tenant_region_scope": "USGov" if cloud.endswith(".us") else "EU",
                       "cloud_instance_name": cloud}).encode()  # fmt: skip


# path tenant → (status line, content type, body, extra headers)
ANSWERS: dict[str, tuple[str, str, bytes, str]] = {
    "contoso.test": ("200 OK", "application/json", discovery_document(TENANT), ""),
    "gov.test": ("200 OK", "application/json", discovery_document(TENANT, "microsoftonline.us"), ""),
    "nobody.test": ("400 Bad Request", "application/json", json.dumps({
        "error": "invalid_tenant", "error_description": "AADSTS90002: Tenant 'nobody.test' not found."}).encode(), ""),
    "portal.test": ("200 OK", "text/html", b"<html><head><title>Hotel WiFi - Sign in</title></head></html>", ""),
    "noguid.test": ("200 OK", "application/json", json.dumps({"issuer": "https://login.test/common/v2.0"}).encode(),
                    ""),
    "loop.test": ("302 Found", "text/plain", b"", f"Location: /loop.test{DISCOVERY}\r\n"),
    "huge.test": ("200 OK", "application/json", b"{" + b" " * (3 * 1024 * 1024), ""),
}  # fmt: skip


class SignInService(LoopThread):
    """HTTPS on loopback answering the discovery path per tenant; `silent` accepts and never answers."""

    def __init__(self, chain: Path, key: Path, *, silent: bool = False) -> None:
        super().__init__()
        self.chain, self.key, self.silent = chain, key, silent
        self.requests: list[str] = []

    async def _start(self) -> None:
        import ssl

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.chain, self.key)
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0,
                                                  ssl=None if self.silent else context)  # fmt: skip
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = self.track()
        try:
            if self.silent:
                await asyncio.sleep(3600)
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            path = head.split(" ")[1]
            self.requests.append(path)
            status, kind, body, extra = ANSWERS.get(path.split("/")[1], ("404 Not Found", "text/plain", b"", ""))
            writer.write(f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n{extra}"
                         "Connection: close\r\n\r\n".encode() + body)  # fmt: skip
            await writer.drain()
        except (ConnectionError, OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self.discard(task)
            writer.close()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("signin")
    trusted, stranger = ca("Test Sign-in Root"), ca("Test Inspection Root", org="Some Middlebox")
    files = {}
    for name, issuer in (("trusted", trusted), ("stranger", stranger)):
        issued = leaf(["127.0.0.1", "login.test"], issuer)
        (folder / f"{name}.pem").write_bytes(issued.pem + issuer.pem)
        (folder / f"{name}.key").write_bytes(issued.key_pem)
        files[name] = folder / f"{name}.pem"
    (folder / "os-store.pem").write_bytes(trusted.pem)
    files["os_store"] = folder / "os-store.pem"
    return files


@pytest.fixture
def world(pki: dict[str, Path], tmp_path: Path) -> Iterator[dict[str, Any]]:
    zone = {
        f"{TENANT}.boot.test": Behaviour(a=("127.0.0.1",)),
        "ok.test": Behaviour(a=("127.0.0.1",)),
        "login.test": Behaviour(a=("127.0.0.1",)),
    }
    with DnsServer(zone) as dns:
        yield {"dns": dns, "tmp": tmp_path, "pki": pki}


def profile_for(world: dict[str, Any], port: int) -> str:
    path = world["tmp"] / f"profile-{port}.toml"
    row = '[[endpoint]]\nhost = "{host}"\nports = [9]\npurpose = "t"\nsource = "t"\n'
    path.write_text(
        f'name = "tenant-test"\n[tenant]\nauthority = "https://127.0.0.1:{port}"\n'
        'cloud_instance_name = "microsoftonline.com"\n[clock]\nntp_servers = ["127.0.0.1:9"]\n'
        + row.format(host="{tenant_id}.boot.test")
        + 'role = "service"\n'
        + row.format(host="ok.test")
    )
    return str(path)


def run(world: dict[str, Any], service: SignInService, tenant: str, *extra: str) -> Any:
    env = cli_env(SSL_CERT_FILE=str(world["pki"]["os_store"]))
    return run_cli("run", "--profile", profile_for(world, service.port), "--tenant-id", tenant, "--dns-server",
                   world["dns"].address, "--timeout", "1", "--format", "json", "--only", "tenant.*", "--only", "dns.*",
                   *extra, env=env)  # fmt: skip


@pytest.fixture
def service(pki: dict[str, Path]) -> Iterator[SignInService]:
    with SignInService(pki["trusted"], pki["trusted"].with_suffix(".key")) as server:
        yield server


def test_a_domain_is_looked_up_and_its_tenant_fills_the_service_rows(world: dict[str, Any],
                                                                      service: SignInService) -> None:  # fmt: skip
    result = run(world, service, "contoso.test")
    tenant = result.result("tenant.resolve", "tenant")
    assert (tenant["status"], tenant["code"]) == ("pass", "tenant.ok"), tenant["summary"]
    assert tenant["evidence"]["tenant_id"] == TENANT
    lookup = tenant["evidence"]["discovery"]
    assert lookup["url"] == f"https://127.0.0.1:{service.port}/contoso.test{DISCOVERY}"
    assert lookup["document"]["tenant_region_scope"] == "EU" and lookup["route"] == "direct"
    assert lookup["trust"] == "os"
    assert result.result("dns.resolve", f"{TENANT}.boot.test")["status"] == "pass"
    assert result.report["options"]["tenant"] == {"given": "contoso.test", "source": "domain"}
    assert result.report["options"]["tenant_id"] == TENANT
    assert service.requests == [f"/contoso.test{DISCOVERY}"]


@pytest.mark.parametrize(
    ("tenant", "code", "words"),
    [
        ("nobody.test", "tenant.not_found", "AADSTS90002"),
        ("portal.test", "tenant.bad_response", "Hotel WiFi - Sign in"),
        ("noguid.test", "tenant.bad_response", "tenant GUID"),
        ("loop.test", "tenant.bad_response", "redirected back"),
        ("huge.test", "tenant.bad_response", "larger than"),
        ("gov.test", "tenant.other_cloud", "--profile azure-government"),
    ],
)
def test_bad_answers_are_one_clear_result_and_the_run_goes_on(world: dict[str, Any], service: SignInService,
                                                              tenant: str, code: str, words: str) -> None:  # fmt: skip
    result = run(world, service, tenant)
    found = result.result("tenant.resolve", "tenant")
    assert (found["status"], found["code"]) == ("fail", code), found["summary"]
    assert words in found["summary"]
    assert found["evidence"]["discovery"]["requests"], "what was asked is in the evidence"
    assert result.result("dns.resolve", "ok.test")["status"] == "pass"  # the rest of the run still ran
    assert result.code == 1
    assert "Traceback" not in result.stderr


def test_a_certificate_this_host_does_not_trust_is_a_tls_error(world: dict[str, Any], pki: dict[str, Path]) -> None:
    with SignInService(pki["stranger"], pki["stranger"].with_suffix(".key")) as stranger:
        result = run(world, stranger, "contoso.test")
    found = result.result("tenant.resolve", "tenant")
    assert (found["status"], found["code"]) == ("fail", "tenant.tls_error"), found["summary"]
    assert "CERTIFICATE_VERIFY_FAILED" in found["evidence"]["discovery"]["error"]
    assert result.report["summary"]["untested_service"][0]["reason"] == "needs_tenant"


def test_a_silent_sign_in_service_costs_one_bounded_wait(world: dict[str, Any], pki: dict[str, Path]) -> None:
    with SignInService(pki["trusted"], pki["trusted"].with_suffix(".key"), silent=True) as silent:
        start = time.monotonic()
        result = run(world, silent, "contoso.test")
        took = time.monotonic() - start
    found = result.result("tenant.resolve", "tenant")
    assert (found["status"], found["code"]) == ("fail", "tenant.unreachable"), found["summary"]
    assert found["evidence"]["discovery"]["outcome"] == "timeout"
    assert took < 10  # one request, at most 3 x --timeout; not the run's deadline


def test_the_deadline_and_signals_end_a_lookup_that_hangs(world: dict[str, Any], pki: dict[str, Path]) -> None:
    with SignInService(pki["trusted"], pki["trusted"].with_suffix(".key"), silent=True) as silent:
        result = run(world, silent, "contoso.test", "--timeout", "30", "--deadline", "1")
    assert result.code == 3
    assert result.report["ended_by"] == "deadline"
    assert result.result("tenant.resolve", "tenant")["code"] == "run.deadline"
    assert result.report["results"], "every planned result is still reported"


def test_the_lookup_s_name_resolution_is_shared_with_the_run(world: dict[str, Any], service: SignInService) -> None:
    """The sign-in host is resolved once per run: by the lookup, whose answer dns.resolve then reports."""
    path = world["tmp"] / "by-name.toml"
    path.write_text(f'name = "by-name"\n[tenant]\nauthority = "https://login.test:{service.port}"\n[clock]\n'
                    'ntp_servers = []\n[[endpoint]]\nhost = "login.test"\nports = [9]\npurpose = "t"\n'
                    'source = "t"\n')  # fmt: skip
    result = run_cli("run", "--profile", str(path), "--tenant-id", "contoso.test", "--dns-server",
                     world["dns"].address, "--timeout", "1", "--format", "json", "--only", "tenant.*",
                     "--only", "dns.*", env=cli_env(SSL_CERT_FILE=str(world["pki"]["os_store"])))  # fmt: skip
    assert result.result("tenant.resolve", "tenant")["code"] == "tenant.ok"
    assert result.result("dns.resolve", "login.test")["code"] == "dns.ok"
    asked = [q for q in world["dns"].queries if q[1] == "login.test"]
    assert sorted(q[2] for q in asked) == ["A", "AAAA"], asked  # once, not again for dns.resolve
