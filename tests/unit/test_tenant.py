"""The tenant: --tenant-id parsing, the discovery answer read as a pure function, redirects, the verdicts, and the
installed connector's files (fixtures shaped like the real ones, read through a fake with Windows semantics)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest
from helpers import FIXTURES

from checks.tenant import judge, judge_discovery
from preflight.errors import UsageError
from preflight.host import installed
from preflight.model import Status
from preflight.probes.http import HttpFetch
from preflight.tenant.discovery import Discovery, Document, TenantResolution, discover, interpret, parse_tenant_option

CONNECTOR_FIXTURES = FIXTURES / "windows" / "connector"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CONNECTOR = "51f3afd9-685b-413a-aafa-bab0d556ea4b"
THUMBPRINT = "CC45A1CC0AA7143BD320C09E21523980AAAA9705"  # of the fixture certificate
URL = "https://login.microsoftonline.com/contoso.com/v2.0/.well-known/openid-configuration"
CLOUDS = {"microsoftonline.com": "entra-private-access", "microsoftonline.us": "azure-government"}


@pytest.mark.parametrize(
    ("text", "guid", "domain"),
    [
        (TENANT.upper(), TENANT, None),
        (f" {{{TENANT}}} ", TENANT, None),  # the braces PowerShell prints around a GUID
        ("contoso.onmicrosoft.com", None, "contoso.onmicrosoft.com"),
        ("Contoso.COM.", None, "contoso.com"),
        ("sub.contoso.co.uk", None, "sub.contoso.co.uk"),
    ],
)
def test_tenant_option_accepts_a_guid_or_a_domain(text: str, guid: str | None, domain: str | None) -> None:
    parsed = parse_tenant_option(text)
    assert (parsed.guid, parsed.domain) == (guid, domain)


@pytest.mark.parametrize("text", ["", "contoso", "https://contoso.com", "contoso..com", "user@contoso.com",
                                  "-contoso.com", "contoso.123", "münchen.de", "72f988bf-86f1-41af-91ab"])  # fmt: skip
def test_tenant_option_refuses_anything_else_in_one_line(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_tenant_option(text)
    assert "\n" not in str(caught.value) and "--tenant-id" in str(caught.value)


def answer(status: int = 200, body: object = None, *, raw: bytes | None = None, truncated: bool = False,
           location: str | None = None) -> HttpFetch:  # fmt: skip
    data = raw if raw is not None else json.dumps(body).encode()
    return HttpFetch(URL, "198.18.50.10", "GET", "response", status, "application/json", location, data, truncated)


def document(guid: str = TENANT, **extra: object) -> dict[str, object]:
    return {"issuer": f"https://login.microsoftonline.com/{guid}/v2.0",
            "token_endpoint": f"https://login.microsoftonline.com/{guid}/oauth2/v2.0/token",
            "tenant_region_scope": "EU", "cloud_instance_name": "microsoftonline.com", **extra}  # fmt: skip


NOT_FOUND = {"error": "invalid_tenant", "error_description": "AADSTS90002: Tenant 'nobody.example' not found."}


@pytest.mark.parametrize(
    ("fetch", "guid", "problem"),
    [
        (answer(body=document()), TENANT, None),
        (answer(raw=b"\xef\xbb\xbf" + json.dumps(document()).encode()), TENANT, None),  # a BOM
        (answer(body=document(issuer="https://sts.windows.net/")), TENANT, None),  # the token endpoint still says
        (answer(body={"issuer": "https://login.microsoftonline.com/{tenantid}/v2.0"}), None, "no_guid"),
        (
            answer(body=document(token_endpoint=f"https://x/{'0' * 8}-0000-0000-0000-{'0' * 12}/t")),
            None,
            "guid_mismatch",
        ),
        (answer(raw=b"<html><head><title>Blocked by policy</title></head></html>"), None, "not_json"),
        (answer(body=[1, 2]), None, "not_json"),
        (answer(400, NOT_FOUND), None, "not_found"),
        (answer(400, {"error": "invalid_request"}), None, "http_status"),
        (answer(502, raw=b"<html><title>Bad Gateway</title></html>"), None, "http_status"),
        (answer(raw=b"{" * 100, truncated=True), None, "too_large"),
    ],
)
def test_interpret_a_discovery_answer(fetch: HttpFetch, guid: str | None, problem: str | None) -> None:
    read = interpret(fetch)
    assert (read.guid, read.problem) == (guid, problem), read.detail


def test_interpret_keeps_the_cloud_facts() -> None:
    read = interpret(answer(body=document(tenant_region_sub_scope="GCC", msgraph_host="graph.microsoft.com")))
    assert read.facts["tenant_region_scope"] == "EU"
    assert read.facts["tenant_region_sub_scope"] == "GCC"
    assert "token_endpoint" in read.facts


def run_discovery(answers: dict[str, HttpFetch]) -> Discovery:
    asked: list[str] = []

    async def fetch(url: str) -> HttpFetch:
        asked.append(url)
        return answers[url]

    return asyncio.run(discover(URL, fetch, route="direct", trust="os"))


def test_redirects_are_followed_once_each_and_recorded() -> None:
    other = "https://login.microsoftonline.com/elsewhere"
    found = run_discovery({URL: answer(302, raw=b"", location="/elsewhere"), other: answer(body=document())})
    assert found.outcome == "answer" and found.document is not None and found.document.guid == TENANT
    assert [r["status"] for r in found.requests] == [302, 200]


@pytest.mark.parametrize(
    ("answers", "outcome"),
    [
        ({URL: answer(302, raw=b"", location=URL)}, "redirect_loop"),
        ({URL: answer(301, raw=b"", location="http://login.microsoftonline.com/x")}, "insecure_redirect"),
        (
            {
                URL: answer(307, raw=b"", location="https://a/0"),
                **{f"https://a/{i}": answer(302, raw=b"", location=f"https://a/{i + 1}") for i in range(10)},
            },
            "too_many_redirects",
        ),
        ({URL: HttpFetch(URL, "198.18.50.10", "GET", "timeout", error="no answer within 5s")}, "timeout"),
    ],
)
def test_redirect_trouble_and_failures_end_the_lookup(answers: dict[str, HttpFetch], outcome: str) -> None:
    assert run_discovery(answers).outcome == outcome


def discovery(outcome: str = "answer", doc: Document | None = None, error: str | None = None) -> Discovery:
    return Discovery(URL, "direct", "os", (), outcome, doc, error)


@pytest.mark.parametrize(
    ("observed", "status", "code"),
    [
        (discovery(doc=interpret(answer(body=document()))), Status.PASS, "tenant.ok"),
        (
            discovery(doc=interpret(answer(body=document(cloud_instance_name="microsoftonline.us")))),
            Status.FAIL,
            "tenant.other_cloud",
        ),
        (discovery(doc=interpret(answer(400, NOT_FOUND))), Status.FAIL, "tenant.not_found"),
        (discovery(doc=interpret(answer(raw=b"<html>portal</html>"))), Status.FAIL, "tenant.bad_response"),
        (discovery("redirect_loop", error="redirected back"), Status.FAIL, "tenant.bad_response"),
        (discovery("tls_error", error="CERTIFICATE_VERIFY_FAILED"), Status.FAIL, "tenant.tls_error"),
        (discovery("timeout", error="no answer"), Status.FAIL, "tenant.unreachable"),
        (discovery("dns_error", error="did not resolve"), Status.FAIL, "tenant.unreachable"),
        (discovery("proxy_error", error="407"), Status.FAIL, "tenant.unreachable"),
    ],
)
def test_judge_the_lookup(observed: Discovery, status: Status, code: str) -> None:
    finding = judge_discovery("contoso.com", observed, "microsoftonline.com", CLOUDS)
    assert (finding.status, finding.code) == (status, code), finding.summary
    assert finding.evidence["discovery"]["url"] == URL
    assert (finding.remediation == "") == (status == Status.PASS)


def test_another_cloud_names_the_profile_to_use() -> None:
    doc = interpret(answer(body=document(cloud_instance_name="microsoftonline.us", tenant_region_scope="USGov")))
    finding = judge_discovery("contoso.us", discovery(doc=doc), "microsoftonline.com", CLOUDS)
    assert "--profile azure-government" in finding.summary
    assert finding.evidence["suggested_profile"] == "azure-government"
    assert finding.evidence["discovery"]["document"]["tenant_region_scope"] == "USGov"


def test_an_unfinished_lookup_is_a_skip_never_a_pass() -> None:
    finding = judge(TenantResolution("domain", "contoso.com", ended="run.deadline"), "microsoftonline.com", CLOUDS)
    assert (finding.status, finding.code) == (Status.SKIP, "run.deadline")


# --- the installed connector ---------------------------------------------------------------------------------

PROGRAM_DATA = "C:\\ProgramData"
SETTINGS_PATH = PROGRAM_DATA + "\\" + installed.TRUST_SETTINGS[0]


class FakeWindows:
    """Files by Windows path and the local machine's Personal store, with Windows' failure modes."""

    def __init__(self, files: dict[str, bytes | OSError] | None = None,
                 machine: dict[str, bytes | OSError] | None = None) -> None:  # fmt: skip
        self.files = files or {}
        self.machine = machine or {}

    def read_file(self, path: str) -> bytes | None:
        value = self.files.get(path)
        if isinstance(value, OSError):
            raise value
        return value

    def program_data(self) -> str | None:
        return PROGRAM_DATA

    def windows_dir(self) -> str | None:
        return "C:\\Windows"

    def machine_certificate_blob(self, thumbprint: str) -> bytes | None:
        value = self.machine.get(thumbprint)
        if isinstance(value, OSError):
            raise value
        return value


def fixture(name: str) -> bytes:
    return (CONNECTOR_FIXTURES / name).read_bytes()


def test_trust_settings_as_microsoft_documents_them() -> None:
    settings = installed.parse_trust_settings(fixture("TrustSettings.xml"))  # UTF-8 with a BOM and CRLF
    assert settings == installed.TrustSettings(THUMBPRINT, False)
    utf16 = installed.parse_trust_settings(fixture("TrustSettings-user-store-utf16.xml"))
    assert utf16 == installed.TrustSettings(THUMBPRINT, True)


@pytest.mark.parametrize(
    ("name", "problem"),
    [("TrustSettings-broken.xml", "not readable XML"), ("TrustSettings-bad-thumbprint.xml", "not a SHA-1 thumbprint")],
)
def test_broken_trust_settings_are_one_line_errors(name: str, problem: str) -> None:
    with pytest.raises(installed.InstalledConnectorError, match=problem):
        installed.parse_trust_settings(fixture(name))


def test_the_connector_certificate_names_the_tenant_and_the_connector() -> None:
    der = installed.certificate_from_blob(fixture("connector-cert.blob"))
    identity = installed.connector_identity(der, now=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    assert (identity.tenant_id, identity.connector_id) == (TENANT, CONNECTOR)
    assert "connectorregistrationca.msappproxy.net" in identity.issuer
    assert identity.not_after.startswith("2027-03-01") and not identity.expired
    later = installed.connector_identity(der, now=dt.datetime(2027, 6, 1, tzinfo=dt.UTC))
    assert later.expired


def test_a_blob_round_trips() -> None:
    der = installed.certificate_from_blob(fixture("connector-cert.blob"))
    rebuilt = installed.build_certificate_blob(der, extra={3: b"\x01" * 20})
    assert installed.certificate_from_blob(rebuilt) == der


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("connector-cert-truncated.blob", "runs past the end"),
        ("connector-cert-not-tenant.blob", "is not CN=<tenant ID>"),
    ],
)
def test_unusable_certificates_are_one_line_errors(name: str, problem: str) -> None:
    with pytest.raises(installed.InstalledConnectorError, match=problem):
        installed.connector_identity(installed.certificate_from_blob(fixture(name)))


def test_the_tenant_of_an_installed_connector_in_the_machine_store() -> None:
    windows = FakeWindows({SETTINGS_PATH: fixture("TrustSettings.xml")}, {THUMBPRINT: fixture("connector-cert.blob")})
    found = installed.read_host_tenant(windows)
    assert (found.outcome, found.tenant_id) == ("found", TENANT)
    assert found.evidence["certificate_location"] == f"HKLM\\{installed.MACHINE_STORE_KEY}{THUMBPRINT}"
    assert found.evidence["connector_id"] == CONNECTOR and found.evidence["issued_by_registration_ca"]
    finding = judge(TenantResolution("host", guid=TENANT, host=found.evidence), "microsoftonline.com", CLOUDS)
    assert (finding.status, finding.code) == (Status.PASS, "tenant.from_host")


def test_the_tenant_of_an_installed_connector_in_network_service_s_store() -> None:
    store = "C:\\Windows\\" + installed.NETWORK_SERVICE_STORE + THUMBPRINT
    windows = FakeWindows({SETTINGS_PATH: fixture("TrustSettings-user-store-utf16.xml"),
                           store: fixture("connector-cert.blob")})  # fmt: skip
    found = installed.read_host_tenant(windows)
    assert (found.outcome, found.tenant_id, found.evidence["certificate_location"]) == ("found", TENANT, store)


def test_the_newer_product_folder_is_read_too() -> None:
    newer = PROGRAM_DATA + "\\" + installed.TRUST_SETTINGS[1]
    windows = FakeWindows({newer: fixture("TrustSettings.xml")}, {THUMBPRINT: fixture("connector-cert.blob")})
    assert installed.read_host_tenant(windows).tenant_id == TENANT


@pytest.mark.parametrize(
    ("files", "machine", "problem"),
    [
        ({SETTINGS_PATH: PermissionError(13, "Access is denied")}, {}, "Access is denied"),
        ({SETTINGS_PATH: fixture("TrustSettings-broken.xml")}, {}, "not readable XML"),
        ({SETTINGS_PATH: fixture("TrustSettings.xml")}, {}, "is not in HKLM"),
        (
            {SETTINGS_PATH: fixture("TrustSettings.xml")},
            {THUMBPRINT: PermissionError(13, "Access is denied")},
            "cannot read: Access is denied",
        ),
        (
            {SETTINGS_PATH: fixture("TrustSettings.xml")},
            {THUMBPRINT: fixture("connector-cert-not-tenant.blob")},
            "is not CN=<tenant ID>",
        ),
    ],
)
def test_an_installed_connector_whose_tenant_cannot_be_read(files: dict[str, bytes | OSError],
                                                            machine: dict[str, bytes | OSError],
                                                            problem: str) -> None:  # fmt: skip
    found = installed.read_host_tenant(FakeWindows(files, machine))
    assert found.outcome == "unreadable" and found.problem is not None and problem in found.problem
    assert "\n" not in found.problem
    resolution = TenantResolution("none", host=found.evidence, host_problem=found.problem)
    finding = judge(resolution, "microsoftonline.com", CLOUDS)
    assert (finding.status, finding.code) == (Status.WARN, "tenant.host_unreadable")


def test_no_installed_connector_and_no_windows() -> None:
    assert installed.read_host_tenant(FakeWindows()).outcome == "absent"
    assert installed.read_host_tenant(None).outcome == "absent"
    assert installed.default_reader() is None  # on Linux the tool never pretends to have read anything
