"""Following AIA caIssuers URLs (checks/aia.py): what a body may hold, which certificate counts as the issuer
(by signature, never by name), and the limits that keep a hostile or broken URL to one finding."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from pki import FakePki, Issued, ca, leaf

from checks import aia
from preflight.probes.http import HttpFetch

HOST = "login.microsoftonline.com"
URL = "http://cacerts.lab.test/issuing.crt"


@pytest.fixture(scope="module")
def pki() -> FakePki:
    return FakePki.build()


def served(answers: Mapping[str, HttpFetch | bytes]) -> tuple[aia.Fetcher, list[str]]:
    asked: list[str] = []

    async def fetch(url: str) -> HttpFetch:
        asked.append(url)
        answer = answers.get(url)
        if answer is None:
            return HttpFetch(url, "198.18.0.9", "GET", "refused", error="connection refused")
        if isinstance(answer, HttpFetch):
            return answer
        return HttpFetch(url, "198.18.0.9", "GET", "response", status=200, body=answer)

    return fetch, asked


def complete(chain: list[Issued], anchors: list[Issued], answers: Mapping[str, HttpFetch | bytes]):  # type: ignore[no-untyped-def]
    fetch, asked = served(answers)
    result = asyncio.run(aia.complete([c.cert for c in chain], [a.cert for a in anchors], fetch))
    return result, asked


def test_a_missing_intermediate_is_fetched_and_recognised_by_its_signature(pki: FakePki) -> None:
    served_leaf = leaf([HOST], pki.issuing, ca_issuers_url=URL)
    result, asked = complete([served_leaf], [pki.root], {URL: pki.issuing.der})
    assert asked == [URL]
    assert [f.outcome for f in result.fetches] == ["issuer"]
    assert result.found == (pki.issuing.der,)


@pytest.mark.parametrize("form", ["der", "pem", "pkcs7-der", "pkcs7-pem"])
def test_every_body_form_windows_reads_is_read(pki: FakePki, form: str) -> None:
    body = {
        "der": pki.issuing.der,
        "pem": pki.issuing.pem,
        "pkcs7-der": pkcs7.serialize_certificates([pki.issuing.cert, pki.root.cert], Encoding.DER),
        "pkcs7-pem": pkcs7.serialize_certificates([pki.issuing.cert], Encoding.PEM),
    }[form]
    result, _ = complete([leaf([HOST], pki.issuing, ca_issuers_url=URL)], [pki.root], {URL: body})
    assert result.fetches[0].outcome == "issuer"
    assert pki.issuing.der in result.found


def test_a_certificate_with_the_right_name_but_another_key_is_not_the_issuer(pki: FakePki) -> None:
    impostor = ca("Test Microsoft Azure RSA TLS Issuing CA 04", parent=pki.root, org="Microsoft Corporation")
    assert impostor.cert.subject == pki.issuing.cert.subject
    result, _ = complete([leaf([HOST], pki.issuing, ca_issuers_url=URL)], [pki.root], {URL: impostor.der})
    assert [f.outcome for f in result.fetches] == ["not_issuer"]
    assert result.found == ()


def test_two_levels_are_followed_to_an_available_anchor(pki: FakePki) -> None:
    second = "http://cacerts.lab.test/policy.crt"
    policy = ca("Test Policy CA", parent=pki.root, org="Microsoft Corporation")
    issuing = ca("Test Issuing CA 9", parent=policy, org="Microsoft Corporation", ca_issuers_url=second)
    result, asked = complete([leaf([HOST], issuing, ca_issuers_url=URL)], [pki.root],
                             {URL: issuing.der, second: policy.der})  # fmt: skip
    assert asked == [URL, second]
    assert result.found == (issuing.der, policy.der)


def test_a_url_that_leads_back_to_itself_is_fetched_once(pki: FakePki) -> None:
    # The fetched intermediate names the same URL for its own (missing) issuer.
    policy = ca("Test Loop Policy CA", org="Microsoft Corporation")
    issuing = ca("Test Loop Issuing CA", parent=policy, org="Microsoft Corporation", ca_issuers_url=URL)
    result, asked = complete([leaf([HOST], issuing, ca_issuers_url=URL)], [pki.root], {URL: issuing.der})
    assert asked == [URL]
    assert [f.outcome for f in result.fetches] == ["issuer", "loop"]


def test_a_deep_chain_stops_at_the_fetch_limit(pki: FakePki) -> None:
    parent, answers, cas = pki.root, {}, []
    for depth in range(aia.MAX_FETCHES + 3):
        parent = ca(f"Deep {depth}", parent=parent, org="Deep", ca_issuers_url=f"http://deep.lab.test/{depth - 1}")
        cas.append(parent)
        answers[f"http://deep.lab.test/{depth}"] = parent.der
    # Served: the leaf under the deepest CA; each CA's AIA names its parent's URL; the root is not available.
    result, asked = complete([leaf([HOST], parent, ca_issuers_url=f"http://deep.lab.test/{len(cas) - 1}")], [],
                             answers)  # fmt: skip
    assert len(asked) == aia.MAX_FETCHES
    assert result.fetches[-1].outcome == "limit"


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        (HttpFetch(URL, "a", "GET", "timeout", error="timed out"), "unreachable"),
        (HttpFetch(URL, "a", "GET", "response", status=404, body=b"<html>no</html>"), "http_error"),
        (HttpFetch(URL, "a", "GET", "response", status=200, body=b"<html><title>Blocked</title></html>"),
         "not_certificate"),
        (HttpFetch(URL, "a", "GET", "response", status=200, body=b"\x30\x82" + b"\x00" * (aia.MAX_AIA_BODY + 1),
                   truncated=True), "too_large"),
        (HttpFetch(URL, "a", "GET", "response", status=200, body=b"\x30\x03\x02\x01\x00"), "not_certificate"),
    ],
    ids=["timeout", "404", "block page", "huge", "not a certificate"],
)  # fmt: skip
def test_a_bad_answer_is_one_finding(pki: FakePki, answer: HttpFetch, outcome: str) -> None:
    result, _ = complete([leaf([HOST], pki.issuing, ca_issuers_url=URL)], [pki.root], {URL: answer})
    assert [f.outcome for f in result.fetches] == [outcome]
    assert result.found == ()


def test_urls_that_are_not_plain_http_and_certificates_without_one(pki: FakePki) -> None:
    result, asked = complete([leaf([HOST], pki.issuing, ca_issuers_url="ldap:///CN=Issuing,O=x?cACertificate")],
                             [pki.root], {})  # fmt: skip
    assert asked == [] and [f.outcome for f in result.fetches] == ["unsupported"]
    result, asked = complete([leaf([HOST], pki.issuing)], [pki.root], {})
    assert asked == [] and [f.outcome for f in result.fetches] == ["no_url"]


def test_a_complete_chain_fetches_nothing(pki: FakePki) -> None:
    result, asked = complete([leaf([HOST], pki.issuing, ca_issuers_url=URL), pki.issuing], [pki.root], {})
    assert asked == [] and not result.attempted
    assert aia.orphans([pki.issuing.cert], [pki.root.cert]) == []
    assert aia.orphans([pki.issuing.cert], []) == [pki.issuing.cert]
