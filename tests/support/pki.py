"""A fake PKI for tests, built with cryptography: roots named like the real anchors, issuing CAs, leaves with
embedded SCTs, interception CAs, and broken variants (expired, not yet valid, wrong host, self-signed)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import os
import struct
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from preflight.pki.certs import SCT_OID

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
DAY = dt.timedelta(days=1)


@dataclasses.dataclass
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())  # fmt: skip


def _name(common_name: str, org: str | None) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COUNTRY_NAME, "US")]
    if org:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    parts.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(parts)


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    """What the web PKI profile wants: signing for leaves, certificate and CRL signing for CAs."""
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                         encipher_only=False, decipher_only=False)  # fmt: skip


def fake_scts(count: int = 2) -> x509.UnrecognizedExtension:
    """A well-formed SignedCertificateTimestampList (RFC 6962) with made-up logs and signatures."""
    entries = b""
    for i in range(count):
        sig = os.urandom(70)
        sct = (b"\x00" + bytes([i + 1]) * 32 + struct.pack("!Q", int(NOW.timestamp() * 1000)) + b"\x00\x00"
               + b"\x04\x03" + struct.pack("!H", len(sig)) + sig)  # fmt: skip
        entries += struct.pack("!H", len(sct)) + sct
    tls_list = struct.pack("!H", len(entries)) + entries
    octet = b"\x04" + _der_length(len(tls_list)) + tls_list
    return x509.UnrecognizedExtension(x509.ObjectIdentifier(SCT_OID), octet)


def _der_length(n: int) -> bytes:
    if n < 128:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def ca(common_name: str, *, parent: Issued | None = None, org: str | None = "DigiCert Inc",
       not_before: dt.datetime | None = None, not_after: dt.datetime | None = None,
       key: ec.EllipticCurvePrivateKey | None = None,
       name_constraints: x509.NameConstraints | None = None, ca_issuers_url: str | None = None) -> Issued:  # fmt: skip
    key = key or ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name, org)
    issuer_name = parent.cert.subject if parent else name
    signer = parent.key if parent else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - 365 * DAY)
        .not_valid_after(not_after or NOW + 3650 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if parent:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(parent.key.public_key()), critical=False
        )
    if name_constraints is not None:
        builder = builder.add_extension(name_constraints, critical=True)
    if ca_issuers_url:
        access = x509.AccessDescription(x509.AuthorityInformationAccessOID.CA_ISSUERS,
                                        x509.UniformResourceIdentifier(ca_issuers_url))  # fmt: skip
        builder = builder.add_extension(x509.AuthorityInformationAccess([access]), critical=False)
    return Issued(builder.sign(signer, hashes.SHA256()), key)


def leaf(names: list[str], issuer: Issued, *, sct: int = 2, not_before: dt.datetime | None = None,
         not_after: dt.datetime | None = None, crl_url: str | None = None, ocsp_url: str | None = None,
         ca_issuers_url: str | None = None) -> Issued:  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    alt: list[x509.GeneralName] = []
    for n in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            alt.append(x509.DNSName(n))
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0], None))
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - 30 * DAY)
        .not_valid_after(not_after or NOW + 180 * DAY)
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if crl_url:
        builder = builder.add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
            [x509.UniformResourceIdentifier(crl_url)], None, None, None)]), critical=False)  # fmt: skip
    access = []
    if ocsp_url:
        access.append(x509.AccessDescription(x509.AuthorityInformationAccessOID.OCSP,
                                             x509.UniformResourceIdentifier(ocsp_url)))  # fmt: skip
    if ca_issuers_url:
        access.append(x509.AccessDescription(x509.AuthorityInformationAccessOID.CA_ISSUERS,
                                             x509.UniformResourceIdentifier(ca_issuers_url)))  # fmt: skip
    if access:
        builder = builder.add_extension(x509.AuthorityInformationAccess(access), critical=False)
    if sct:
        builder = builder.add_extension(fake_scts(sct), critical=False)
    return Issued(builder.sign(issuer.key, hashes.SHA256()), key)


def self_signed(names: list[str]) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(names[0], None)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(NOW - DAY).not_valid_after(NOW + 90 * DAY)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return Issued(cert, key)


@dataclasses.dataclass
class FakePki:
    """The lab's 'public' PKI (named like the real one) and an enterprise inspection CA.

    `expected` stands for the profile's anchors: a DigiCert-like root and a Microsoft-like root.
    """

    @property
    def expected(self) -> list[x509.Certificate]:
        return [self.root.cert, self.ms_root.cert]

    root: Issued
    ms_root: Issued
    issuing: Issued
    other_public_root: Issued
    other_public_issuing: Issued
    inspection_root: Issued

    @classmethod
    def build(cls) -> FakePki:
        root = ca("Test DigiCert Global Root G2")
        ms_root = ca("Test Microsoft RSA Root Certificate Authority 2017", org="Microsoft Corporation")
        issuing = ca("Test Microsoft Azure RSA TLS Issuing CA 04", parent=root, org="Microsoft Corporation")
        other_root = ca("Test Public Root X1", org="Some Public CA")
        other_issuing = ca("Test Public Issuing R3", parent=other_root, org="Some Public CA")
        inspection = ca("Zscaler Root CA (test)", org="Zscaler Inc.")
        return cls(root, ms_root, issuing, other_root, other_issuing, inspection)

    def server_files(self, folder: Path, names: list[str], *, issuer: Issued | None = None,
                     served: list[Issued] | None = None, **leaf_options: object) -> tuple[Path, Path]:  # fmt: skip
        """Write a leaf for `names` (plus the chain to serve) and its key; returns (chain.pem, key.pem)."""
        issuer = issuer or self.issuing
        issued = leaf(names, issuer, **leaf_options)  # type: ignore[arg-type]
        served = [issuer] if served is None else served
        chain = folder / f"{names[0].replace('*', '_')}-{os.urandom(3).hex()}.pem"
        chain.write_bytes(issued.pem + b"".join(c.pem for c in served))
        key = chain.with_suffix(".key")
        key.write_bytes(issued.key_pem)
        return chain, key


def crl(issuer: Issued, revoked_serials: tuple[int, ...] = ()) -> bytes:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.cert.subject)
        .last_update(NOW - DAY)
        .next_update(NOW + 7 * DAY)
    )
    for serial in revoked_serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(NOW - DAY).build()
        )
    return builder.sign(issuer.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def write_bundle(path: Path, *certs: Issued) -> Path:
    path.write_bytes(b"".join(c.pem for c in certs))
    return path


def ocsp_good(cert: x509.Certificate, issuer: Issued) -> bytes:
    """A successful OCSP response saying `cert` is good, signed by its issuer (as a CA's own responder does)."""
    from cryptography.x509 import ocsp

    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response(cert=cert, issuer=issuer.cert, algorithm=hashes.SHA1(), cert_status=ocsp.OCSPCertStatus.GOOD,
                      this_update=NOW - DAY, next_update=NOW + 7 * DAY, revocation_time=None,
                      revocation_reason=None)
        .responder_id(ocsp.OCSPResponderEncoding.HASH, issuer.cert)
    )  # fmt: skip
    return builder.sign(issuer.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
