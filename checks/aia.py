"""Completing a served chain the way Windows does: when no served or known certificate issued the top of the
chain, fetch the `caIssuers` URL of its Authority Information Access extension (RFC 5280 4.2.2.1) and try again.

Windows' chain engine does this by default: .NET's `X509ChainPolicy.DisableCertificateDownloads` ("whether the
chain engine can use the Authority Information Access (AIA) extension to locate unknown issuer certificates")
defaults to false. So a server that sends only its leaf still works for the connector when the AIA URL answers
with the right certificate, and fails when it does not. Issuers are judged by signature, never by name.

Limits follow Chromium's AIA fetcher (net/cert/internal/cert_issuer_source_aia.cc): a body of at most 64 KiB,
read as one DER certificate, a PEM bundle or a PKCS #7 (CMS) certificate bag; a bounded number of fetches.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from preflight import lazy
from preflight.pki.certs import is_self_signed, load_der, load_pem_bundle, signed_by, subject, urls

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs7

    from preflight.probes.http import HttpFetch
else:
    x509 = lazy.module("cryptography.x509")
    serialization = lazy.module("cryptography.hazmat.primitives.serialization")
    pkcs7 = lazy.module("cryptography.hazmat.primitives.serialization.pkcs7")

MAX_AIA_BODY = 64 * 1024
MAX_FETCHES = 4  # per served chain: a chain one intermediate short needs one, a cross-signed root two
MAX_CERTIFICATES = 8  # read from one body

AiaOutcome = Literal[
    "issuer",  # a certificate in the body issued the certificate it was fetched for (its signature verifies)
    "not_issuer",  # certificates came, none of them issued it
    "not_certificate",  # the body is not a DER, PEM or PKCS #7 certificate
    "too_large",  # more than MAX_AIA_BODY bytes
    "http_error",  # an HTTP status other than 200
    "unreachable",  # no response (the fetch's own outcome is in `error`)
    "unsupported",  # not an http:// URL (ldap:, https:, file:): not fetched
    "loop",  # the URL was fetched already for this chain
    "limit",  # MAX_FETCHES reached
    "no_url",  # the certificate names no caIssuers URL: nothing to fetch
]

Fetcher = Callable[[str], Awaitable["HttpFetch"]]


@dataclasses.dataclass(frozen=True)
class AiaFetch:
    """One caIssuers URL followed for one certificate: what came back, and whether it issued that certificate."""

    url: str
    wanted_by: str  # the subject of the certificate whose issuer was missing
    outcome: AiaOutcome
    status: int | None = None
    bytes: int = 0
    certificates: tuple[str, ...] = ()  # subjects of what the body held
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v not in (None, (), 0) or k == "outcome"}


@dataclasses.dataclass(frozen=True)
class Completion:
    """What following AIA added to a served chain: every fetch, and the issuing certificates found (DER)."""

    fetches: tuple[AiaFetch, ...] = ()
    found: tuple[bytes, ...] = ()

    @property
    def attempted(self) -> bool:
        return bool(self.fetches)


def orphans(certs: Sequence[x509.Certificate], available: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    """The certificates whose issuer is neither among `certs` nor `available` (anchors, known intermediates), in
    the order served: where a path stops. Self-signed certificates end a path and are never orphans."""
    pool = [*certs, *available]
    return [c for c in certs if not is_self_signed(c) and not any(signed_by(c, other) for other in pool if other != c)]


def read_certificates(body: bytes) -> list[x509.Certificate] | None:
    """The certificates of an AIA body (DER, PEM, or a PKCS #7 bag in DER or PEM), None when it holds none."""
    one = load_der(body)
    if one is not None:
        return [one]
    if b"-----BEGIN CERTIFICATE-----" in body:
        return load_pem_bundle(body)[:MAX_CERTIFICATES] or None
    for loader in (pkcs7.load_der_pkcs7_certificates, pkcs7.load_pem_pkcs7_certificates):
        try:
            bag = loader(body)
        except Exception:
            continue
        return bag[:MAX_CERTIFICATES] or None
    return None


async def complete(
    chain: Sequence[x509.Certificate], available: Sequence[x509.Certificate], fetch: Fetcher
) -> Completion:
    """Follow caIssuers URLs from where the chain stops until every path ends at a self-signed certificate or
    an available one, a fetch fails, or MAX_FETCHES. `fetch` does one bounded HTTP GET on the run's route."""
    fetches: list[AiaFetch] = []
    found: list[x509.Certificate] = []
    seen: set[str] = set()
    waiting = orphans(chain, available)
    while waiting:
        cert = waiting.pop(0)
        wanted_by = subject(cert)
        if not urls(cert)["ca_issuers"]:
            fetches.append(AiaFetch("", wanted_by, "no_url"))
        for url in urls(cert)["ca_issuers"]:
            if len(fetches) >= MAX_FETCHES:
                fetches.append(AiaFetch(url, wanted_by, "limit"))
                return Completion(tuple(fetches), _ders(found))
            if url in seen:
                fetches.append(AiaFetch(url, wanted_by, "loop"))
                continue
            seen.add(url)
            if urlsplit(url).scheme.lower() != "http":
                fetches.append(AiaFetch(url, wanted_by, "unsupported", error="only http:// AIA URLs are fetched"))
                continue
            result = await fetch(url)
            row, certs = _judged(url, wanted_by, result, cert)
            fetches.append(row)
            if row.outcome != "issuer":
                continue
            issuers = [c for c in certs if signed_by(cert, c)]
            known = [*chain, *available, *found]
            new = [c for c in issuers if c not in known]
            found.extend(new)
            waiting.extend(orphans(new, [*chain, *available, *found]))
            break  # this certificate's issuer is found: its other URLs are not needed
    return Completion(tuple(fetches), _ders(found))


def _judged(url: str, wanted_by: str, result: HttpFetch, cert: x509.Certificate) -> tuple[AiaFetch, list[Any]]:
    if result.outcome != "response":
        return AiaFetch(url, wanted_by, "unreachable", error=f"{result.outcome}: {result.error or ''}".strip()), []
    size = len(result.body)
    if result.status != 200:
        return AiaFetch(url, wanted_by, "http_error", status=result.status, bytes=size), []
    if result.truncated or size > MAX_AIA_BODY:
        return AiaFetch(url, wanted_by, "too_large", status=200, bytes=size, error=f"over {MAX_AIA_BODY} bytes"), []
    certs = read_certificates(result.body)
    if not certs:
        return AiaFetch(url, wanted_by, "not_certificate", status=200, bytes=size), []
    names = tuple(subject(c) for c in certs)
    outcome: AiaOutcome = "issuer" if any(signed_by(cert, c) for c in certs) else "not_issuer"
    return AiaFetch(url, wanted_by, outcome, status=200, bytes=size, certificates=names), certs


def _ders(certs: Sequence[x509.Certificate]) -> tuple[bytes, ...]:
    return tuple(c.public_bytes(serialization.Encoding.DER) for c in certs)
