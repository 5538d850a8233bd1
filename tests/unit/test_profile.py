from __future__ import annotations

from pathlib import Path

import pytest

from preflight import profile as profile_mod
from preflight.errors import ProfileError

# The 2023-06-08 preview of this page (the seed) is the only document that names 8398: rows cite the public page.
SEED = (
    "https://github.com/MicrosoftDocs/azure-docs/blob/main/articles/global-secure-access/how-to-configure-connectors.md"
)


@pytest.mark.parametrize("name", profile_mod.embedded_names())
def test_embedded_profiles_load_and_cite_a_source_per_row(name: str) -> None:
    loaded = profile_mod.load(name)
    assert loaded.endpoints
    for endpoint in loaded.endpoints:
        assert endpoint.purpose
        assert endpoint.source.startswith("https://"), endpoint  # a public document, never a file name


def test_the_three_design_profiles_exist_and_the_default_is_private_access() -> None:
    assert {"entra-private-access", "entra-app-proxy", "azure-government"} <= set(profile_mod.embedded_names())
    assert profile_mod.DEFAULT_PROFILE == "entra-private-access"


def test_default_profile_carries_8398_only_for_gsa_connector_endpoints_citing_the_seed() -> None:
    loaded = profile_mod.load("entra-private-access")
    rows_8398 = [e for e in loaded.endpoints if 8398 in e.ports]
    assert rows_8398
    for endpoint in rows_8398:
        assert endpoint.source == SEED
        assert "2023-06-08 preview" in endpoint.purpose
        assert endpoint.host.endswith((".msappproxy.net", ".servicebus.windows.net"))
    ports = {p for e in loaded.endpoints for p in e.ports}
    assert ports == {80, 443, 8398}
    hosts = {e.host for e in loaded.endpoints}
    assert {"login.microsoftonline.com", "crl3.digicert.com", "{tenant_id}.bootstrap.msappproxy.net"} <= hosts


def test_app_proxy_profile_has_no_8398() -> None:
    assert all(8398 not in e.ports for e in profile_mod.load("entra-app-proxy").endpoints)


def test_tls_defaults_follow_the_port() -> None:
    crl = next(e for e in profile_mod.load("entra-private-access").endpoints if e.host == "crl3.digicert.com")
    assert not crl.tls_on(80)
    assert crl.tls_on(443) and crl.tls_on(8398)


GOOD_ROW = '[[endpoint]]\nhost = "a.test"\nports = [443]\npurpose = "p"\nsource = "s"\n'

BAD_PROFILES = [
    # (text, expected line, words expected in the message)
    ('name = "x"\n' + GOOD_ROW + "prots = [1]\n", 7, ["endpoint[1].prots", "unknown key"]),
    ('name = "x"\n' + GOOD_ROW.replace("[443]", '"443"'), 4, ["endpoint[1].ports", "wrong type", "array"]),
    ('name = "x"\n' + GOOD_ROW.replace("[443]", "[0]"), 4, ["not a TCP port"]),
    ('name = "x"\n' + GOOD_ROW.replace("[443]", "[443, 443]"), 4, ["twice"]),
    ('name = "x"\n' + GOOD_ROW.replace("[443]", "[]"), 4, ["at least one port"]),
    ('name = "x"\n' + GOOD_ROW.replace("[443]", "[true]"), 4, ["not a TCP port"]),
    ('name = "x"\n' + GOOD_ROW.replace('"a.test"', '"bad host!"'), 3, ["endpoint[1].host", "not a host name"]),
    ('name = "x"\n' + GOOD_ROW.replace('"a.test"', '"{tenant}.a.test"'), 3, ["unknown placeholder"]),
    ('name = "x"\n' + GOOD_ROW.replace('source = "s"\n', ""), 2, ["missing required key 'source'"]),
    ('name = "x"\n' + GOOD_ROW + GOOD_ROW.replace('purpose = "p"', "purpose = 3"), 10, ["endpoint[2].purpose"]),
    ('name = "x"\ncolour = "red"\n' + GOOD_ROW, 2, ["colour", "unknown key"]),
    ("name = 5\n" + GOOD_ROW, 1, ["name", "wrong type"]),
    ('description = "d"\n' + GOOD_ROW, 1, ["missing required key 'name'"]),
    ('name = "x"\n', 1, ["missing required key 'endpoint'"]),
    ('name = "x"\n[clock]\nwarn_s = 500\nfail_s = 300\n' + GOOD_ROW, 3, ["warn_s", "larger than fail_s"]),
    ('name = "x"\n[clock]\nntp = []\n' + GOOD_ROW, 3, ["clock.ntp", "unknown key"]),
    ('name = "x"\n[tls]\nexpected_roots = "nope.pem"\n' + GOOD_ROW, 3, ["tls.expected_roots", "not found"]),
    ('name = "x"\n[tls]\nknown_intermediates = "nope.pem"\n' + GOOD_ROW, 3, ["tls.known_intermediates", "not found"]),
    ('name = "x"\n' + GOOD_ROW + "tls = 1\n", 7, ["endpoint[1].tls", "boolean"]),
    ('name = "x"\n[[endpoint]\nhost = 1\n', 2, ["invalid TOML"]),
]


@pytest.mark.parametrize(("text", "line", "words"), BAD_PROFILES)
def test_bad_profiles_are_refused_with_file_line_and_key(
    tmp_path: Path, text: str, line: int, words: list[str]
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ProfileError) as caught:
        profile_mod.load(str(path))
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert "\n" not in message
    for word in words:
        assert word in message


def test_unknown_profile_name_lists_the_embedded_ones() -> None:
    with pytest.raises(ProfileError, match="entra-private-access"):
        profile_mod.load("no-such-profile")


def test_expected_roots_resolve_relative_to_the_profile_file(tmp_path: Path) -> None:
    (tmp_path / "roots.pem").write_text("-----BEGIN CERTIFICATE-----\nparsed by the TLS checks, not here\n")
    (tmp_path / "p.toml").write_text('name = "x"\n[tls]\nexpected_roots = "roots.pem"\n' + GOOD_ROW)
    assert profile_mod.load(str(tmp_path / "p.toml")).expected_roots == (tmp_path / "roots.pem").resolve()


def test_the_embedded_profiles_offer_microsofts_published_cross_certificate() -> None:
    loaded = profile_mod.load(profile_mod.DEFAULT_PROFILE)
    assert loaded.known_intermediates is not None and loaded.known_intermediates.name == "microsoft-intermediates.pem"
    assert loaded.expected_roots is not None and loaded.expected_roots.parent == loaded.known_intermediates.parent


@pytest.mark.parametrize("name", profile_mod.embedded_names())
def test_embedded_profiles_mark_the_connector_service_rows(name: str) -> None:
    loaded = profile_mod.load(name)
    service = {e.host for e in loaded.endpoints if e.role == "service"}
    assert any(host.startswith("{tenant_id}.bootstrap.") for host in service)
    assert all(".msappproxy." in host or ".servicebus." in host for host in service)
    assert loaded.tenant.authority.startswith("https://login.microsoftonline.")


def test_role_and_tenant_tables_are_validated(tmp_path: Path) -> None:
    base = '[[endpoint]]\nhost = "a.test"\nports = [443]\npurpose = "p"\nsource = "s"\n'
    for extra, problem in [
        ('role = "primary"\n', "endpoint[1].role: unknown role 'primary' (known: service)"),
        ('\n[tenant]\nauthority = "http://login.test/x"\n', "tenant.authority: expected https://"),
    ]:
        path = tmp_path / "p.toml"
        path.write_text('name = "t"\n' + base + extra)
        with pytest.raises(ProfileError) as caught:
            profile_mod.load(str(path))
        assert problem in str(caught.value)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('name = "x"\n[[endpoint]]\nhost = "a"\nports = [443,\npurpose = "p"\nsource = "s"\n', 4),
        ('name = "x"\n# a comment with [ in it\nports = [443\n', 3),
        ('name = "x [y"\nlist = [\n  "a",\n  "b",\n', 2),
    ],
)
def test_an_unclosed_array_is_reported_where_it_opened(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "p.toml"
    path.write_text(text)
    with pytest.raises(ProfileError) as caught:
        profile_mod.load(str(path))
    assert str(caught.value).startswith(f"{path}:{line}: invalid TOML: ")
    assert "never closed" in str(caught.value)


def test_shipped_files_cite_public_documents_only() -> None:
    """A user's `preflight profiles show` and the expected roots cite Microsoft's documents, not this project's
    working notes."""
    from helpers import ROOT

    shipped = [*(ROOT / "preflight" / "profiles").iterdir(), ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
    for path in shipped:
        text = path.read_text(encoding="utf-8")
        for word in ("shared/reference", "../shared", "seed,", "the seed", "000_9e5cd9834f2ccbb2"):
            assert word not in text, (path.name, word)
