"""Table-driven tests of the revocation verdict for one HTTP fetch."""

from __future__ import annotations

import pytest
from pki import FakePki, crl, leaf
from pki import ocsp_good as pki_ocsp_good

from checks.crl import CODES, judge_fetch, ocsp_request
from preflight.probes.http import HttpFetch, page_title

PKI = FakePki.build()
CRL = crl(PKI.issuing)
BLOCK = b"<!DOCTYPE html><html><head><title>Blocked by Contoso Filter</title></head></html>"


def fetch(status: int | None = 200, body: bytes = b"", kind: str | None = None, outcome: str = "response",
          truncated: bool = False, location: str | None = None) -> HttpFetch:  # fmt: skip
    return HttpFetch("http://crl.test/x.crl", "198.18.50.10", "GET", outcome, status, kind, location, body, truncated)


def ocsp_unsuccessful(status: str) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509 import ocsp

    return ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus[status]).public_bytes(Encoding.DER)


def ocsp_good() -> bytes:
    return pki_ocsp_good(leaf(["crl.test"], PKI.issuing).cert, PKI.issuing)


CASES = [
    ("crl parses", fetch(body=CRL, kind="application/pkix-crl"), "crl", "crl.ok"),
    ("crl with a wrong content type still parses", fetch(body=CRL, kind="application/octet-stream"), "crl", "crl.ok"),
    ("html block page", fetch(body=BLOCK, kind="text/html"), "crl", "crl.blocked_page"),
    ("html without a content type", fetch(body=BLOCK), "crl", "crl.blocked_page"),
    ("403 with a page", fetch(403, BLOCK, "text/html"), "crl", "crl.blocked_page"),
    ("407 from a proxy", fetch(407, BLOCK, "text/html"), "crl", "crl.blocked_page"),
    ("redirect to a login", fetch(302, b"", location="http://login.portal.test/"), "crl", "crl.http_error"),
    ("404", fetch(404, b"not found", "text/plain"), "crl", "crl.http_error"),
    ("garbage body", fetch(body=b"\x00\x01garbage", kind="application/pkix-crl"), "crl", "crl.bad_body"),
    (
        "huge DER body cut at the limit, its header announcing 16 MiB",
        fetch(body=b"\x30\x84\x01\x00\x00\x00" + b"\x00" * 100, truncated=True),
        "crl",
        "crl.ok",
    ),
    (
        "DER-looking body cut at the limit, its header announcing less than was read",
        fetch(body=b"\x30\x30" + b"\x30" * 100, truncated=True),
        "crl",
        "crl.bad_body",
    ),
    ("huge non-DER body cut at the limit", fetch(body=b"AAAA", truncated=True), "crl", "crl.bad_body"),
    ("ocsp answers", fetch(body=ocsp_good(), kind="application/ocsp-response"), "ocsp", "crl.ok"),
    (
        "ocsp unauthorized",
        fetch(body=ocsp_unsuccessful("UNAUTHORIZED"), kind="application/ocsp-response"),
        "ocsp",
        "crl.ocsp_refused",
    ),
    (
        "ocsp try later",
        fetch(body=ocsp_unsuccessful("TRY_LATER"), kind="application/ocsp-response"),
        "ocsp",
        "crl.ocsp_refused",
    ),
    (
        "ocsp internal error",
        fetch(body=ocsp_unsuccessful("INTERNAL_ERROR"), kind="application/ocsp-response"),
        "ocsp",
        "crl.ocsp_refused",
    ),
    ("ocsp answered by html", fetch(body=BLOCK, kind="text/html"), "ocsp", "crl.blocked_page"),
    ("ocsp garbage", fetch(body=b"nope", kind="application/ocsp-response"), "ocsp", "crl.bad_body"),
    ("bare host answers", fetch(200, BLOCK, "text/html"), "probe", "crl.reachable"),
    # An OCSP POST to a host no chain named a URL on: what a responder, a CDN, a portal and a filter answer.
    ("probe: a responder answers", fetch(body=ocsp_good(), kind="application/ocsp-response"), "ocsp_probe", "crl.ok"),
    (
        "probe: another CA's responder says unauthorized",
        fetch(body=ocsp_unsuccessful("UNAUTHORIZED")),
        "ocsp_probe",
        "crl.ok",
    ),
    (
        "probe: a portal redirects the POST elsewhere",
        fetch(302, b"", location="http://portal.lab.test/login"),
        "ocsp_probe",
        "crl.http_error",
    ),
    (
        "probe: a redirect on the same host is not a portal",
        fetch(301, b"", location="http://crl.test/index.html"),
        "ocsp_probe",
        "crl.reachable",
    ),
    ("probe: a filter's 200 page", fetch(200, BLOCK, "text/html"), "ocsp_probe", "crl.blocked_page"),
    ("probe: a proxy wants a login", fetch(407, BLOCK, "text/html"), "ocsp_probe", "crl.blocked_page"),
    ("probe: a CDN refuses the method", fetch(405, b"", "text/plain"), "ocsp_probe", "crl.reachable"),
    ("probe: a CDN's 404 page", fetch(404, BLOCK, "text/html"), "ocsp_probe", "crl.reachable"),
    ("timeout", fetch(None, outcome="timeout"), "crl", "crl.timeout"),
    ("reset", fetch(None, outcome="reset"), "crl", "crl.unreachable"),
    ("refused", fetch(None, outcome="refused"), "crl", "crl.unreachable"),
]


@pytest.mark.parametrize(("label", "observed", "kind", "code"), CASES, ids=[c[0] for c in CASES])
def test_judge_fetch(label: str, observed: HttpFetch, kind: str, code: str) -> None:
    assert judge_fetch(observed, kind) == code
    assert code in CODES


def test_page_title_is_evidence() -> None:
    assert page_title(BLOCK) == "Blocked by Contoso Filter"
    assert page_title(b"\x30\x82binary") is None


def test_ocsp_request_is_real_der() -> None:
    from cryptography.x509 import ocsp

    issued = leaf(["login.microsoftonline.com"], PKI.issuing)
    request = ocsp.load_der_ocsp_request(ocsp_request(issued.cert, PKI.issuing.cert))
    assert request.serial_number == issued.cert.serial_number


RESULT_ROWS = [
    # (rows, code, words in the summary)
    ([], "run.upstream", "no address to fetch from"),
    ([{"kind": "crl", "url": "http://c.test/a.crl", "code": "crl.ok"}], "crl.ok", "1 revocation fetch(es)"),
    ([{"kind": "crl", "url": "http://c.test/a.crl", "code": "crl.ok"},
      {"kind": "ocsp", "url": "http://o.test/", "code": "crl.filtered", "tcp": "filtered"}], "crl.filtered", ""),
    ([{"kind": "crl", "url": "http://c.test/a.crl", "code": "crl.timeout"},
      {"kind": "crl", "url": "http://c.test/b.crl", "code": "crl.blocked_page", "title": "Blocked", "status": 200,
       "content_type": "text/html"}], "crl.blocked_page", "b.crl answered with a web page titled 'Blocked'"),
]  # fmt: skip


@pytest.mark.parametrize(("rows", "code", "words"), RESULT_ROWS)
def test_judge_results_takes_the_worst_row(rows: list[dict[str, object]], code: str, words: str) -> None:
    from checks.crl import judge_results
    from preflight import Target

    finding = judge_results(Target("c.test", 80), rows, upstream="dns.resolve/c.test")
    assert finding.code == code and words in finding.summary
    if not rows:
        assert (finding.status, finding.caused_by) == ("skip", "dns.resolve/c.test")
    else:
        assert finding.evidence["fetches"] == rows
