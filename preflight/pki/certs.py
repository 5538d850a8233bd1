"""Facts about certificates, as evidence: what a person or a firewall team needs to recognise a chain.

Everything here tolerates hostile certificates: a field that cannot be parsed is reported as such, never raised.

Parsing and the facts are memoised per certificate: the endpoints of a run share a handful of intermediates and
often one wildcard leaf, and turning names into text cost more than the TLS handshake that fetched them.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import warnings
from typing import TYPE_CHECKING, Any

from preflight import lazy

if TYPE_CHECKING:
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509 import oid as x509_oid
else:
    hashlib = lazy.module("hashlib")
    x509 = lazy.module("cryptography.x509")
    serialization = lazy.module("cryptography.hazmat.primitives.serialization")
    x509_oid = lazy.module("cryptography.x509.oid")


SCT_OID = "1.3.6.1.4.1.11129.2.4.2"  # a dotted string: an ObjectIdentifier here would import cryptography
# Distinct certificates remembered: a run sees a few dozen. A handshake delivers at most ~100 KB of chain, so even
# a hostile run serving thousands of different large certificates keeps the caches within ~25 MB.
CACHED_CERTS = 256

_memo = functools.lru_cache(maxsize=CACHED_CERTS)


@_memo
def load_der(der: bytes) -> x509.Certificate | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. negative serials: evidence, not our problem
            return x509.load_der_x509_certificate(der)
    except ValueError:
        return None


def load_pem_bundle(data: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle that parses; unparseable entries are skipped."""
    certs: list[x509.Certificate] = []
    marker = b"-----BEGIN CERTIFICATE-----"
    for block in data.split(marker)[1:]:
        end = block.find(b"-----END CERTIFICATE-----")
        if end < 0:
            continue
        pem = marker + block[: end + len(b"-----END CERTIFICATE-----")] + b"\n"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                certs.append(x509.load_pem_x509_certificate(pem))
        except ValueError:
            continue
    return certs


@_memo
def sha256(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


@_memo
def spki_sha256(cert: x509.Certificate) -> str | None:
    try:
        spki = cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    except (ValueError, TypeError):
        return None
    return hashlib.sha256(spki).hexdigest()


def _name(name_getter: Any) -> str:
    try:
        return str(name_getter().rfc4514_string())
    except (ValueError, TypeError):
        return "(unparseable name)"


@_memo
def subject(cert: x509.Certificate) -> str:
    return _name(lambda: cert.subject)


@_memo
def issuer(cert: x509.Certificate) -> str:
    return _name(lambda: cert.issuer)


def _extension(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> Any:
    try:
        return cert.extensions.get_extension_for_oid(oid).value
    except (x509.ExtensionNotFound, ValueError):
        return None


@_memo
def san_names(cert: x509.Certificate) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(DNS names, IP addresses) from subjectAltName."""
    san = _extension(cert, x509_oid.ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    if san is None:
        return (), ()
    dns_names = tuple(str(n) for n in san.get_values_for_type(x509.DNSName))
    ips = tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    return dns_names, ips


def matches_host(cert: x509.Certificate, host: str) -> bool:
    """RFC 6125 matching against subjectAltName: exact, or one left-most wildcard label."""
    dns_names, ips = san_names(cert)
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None:
        return any(ipaddress.ip_address(candidate) == ip for candidate in ips)
    wanted = host.rstrip(".").lower()
    for name in dns_names:
        pattern = name.rstrip(".").lower()
        if pattern == wanted:
            return True
        if pattern.startswith("*.") and "." in wanted:
            label, rest = wanted.split(".", 1)
            if label and rest == pattern[2:] and "*" not in rest:
                return True
    return False


@_memo
def sct_count(cert: x509.Certificate) -> int:
    """Embedded certificate-transparency SCTs (0 when absent; 1 when present but unparseable)."""
    try:
        for extension in cert.extensions:
            if extension.oid.dotted_string == SCT_OID:
                value = extension.value
                try:
                    return len(value)
                except TypeError:
                    return 1
    except ValueError:
        return 0
    return 0


def urls(cert: x509.Certificate) -> dict[str, list[str]]:
    """CRL distribution points, OCSP responders and CA-issuer URLs."""
    out: dict[str, list[str]] = {"crl": [], "ocsp": [], "ca_issuers": []}
    cdp = _extension(cert, x509_oid.ExtensionOID.CRL_DISTRIBUTION_POINTS)
    for point in cdp or []:
        for name in point.full_name or []:
            if isinstance(name, x509.UniformResourceIdentifier):
                out["crl"].append(name.value)
    aia = _extension(cert, x509_oid.ExtensionOID.AUTHORITY_INFORMATION_ACCESS)
    for access in aia or []:
        if isinstance(access.access_location, x509.UniformResourceIdentifier):
            if access.access_method == x509_oid.AuthorityInformationAccessOID.OCSP:
                out["ocsp"].append(access.access_location.value)
            elif access.access_method == x509_oid.AuthorityInformationAccessOID.CA_ISSUERS:
                out["ca_issuers"].append(access.access_location.value)
    return out


def signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Did `issuer` sign `cert`? By signature; the name is only an index."""
    if issuer.subject != cert.issuer:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except Exception:
        return False
    return True


@_memo
def is_self_signed(cert: x509.Certificate) -> bool:
    return signed_by(cert, cert)


def validity(cert: x509.Certificate) -> tuple[dt.datetime, dt.datetime]:
    return cert.not_valid_before_utc, cert.not_valid_after_utc


def facts(cert: x509.Certificate) -> dict[str, Any]:
    """The evidence for one certificate (a fresh copy: callers own what they are given)."""
    known = _facts(cert)
    return known | {
        "san_dns": list(known["san_dns"]),
        "san_ip": list(known["san_ip"]),
        "urls": {kind: list(found) for kind, found in known["urls"].items()},
    }


@_memo
def _facts(cert: x509.Certificate) -> dict[str, Any]:
    dns_names, ips = san_names(cert)
    not_before, not_after = validity(cert)
    return {
        "subject": subject(cert),
        "issuer": issuer(cert),
        "serial": format(cert.serial_number, "x"),
        "not_before": not_before.isoformat(),
        "not_after": not_after.isoformat(),
        "san_dns": dns_names[:50],
        "san_dns_count": len(dns_names),
        "san_ip": ips[:50],
        "sha256": sha256(cert),
        "spki_sha256": spki_sha256(cert),
        "sct_count": sct_count(cert),
        "self_signed": is_self_signed(cert),
        "urls": urls(cert),
    }


@_memo
def to_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
