"""The three trust stores the interception verdict consults, behind one small interface.

- expected: the profile's anchors (Microsoft and DigiCert roots for the default profiles);
- public: the web PKI as Mozilla ships it (certifi), or --public-roots;
- os: what this host trusts. Linux: OpenSSL's default verify paths (honouring SSL_CERT_FILE/SSL_CERT_DIR);
  Windows: the ROOT and CA system stores via ssl.enum_certificates. This is where an enterprise inspection CA
  is installed, which is what tells 'intercepted by your own proxy' from 'intercepted by a stranger'.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from preflight import lazy
from preflight.pki.certs import load_der, load_pem_bundle

if TYPE_CHECKING:
    import ssl
else:
    ssl = lazy.module("ssl")


if TYPE_CHECKING:
    from cryptography import x509


def load_file(path: Path) -> list[x509.Certificate]:
    return load_pem_bundle(path.read_bytes())


@functools.cache
def expected_roots(path: Path | None) -> tuple[x509.Certificate, ...]:
    """The profile's anchors, parsed once per run however many endpoints are judged against them."""
    return tuple(load_file(path)) if path is not None else ()


@functools.cache
def public_roots(path: str | None = None) -> tuple[x509.Certificate, ...]:
    if path is None:
        import certifi

        path = certifi.where()
    return tuple(load_file(Path(path)))


@functools.cache
def os_roots() -> tuple[x509.Certificate, ...]:
    if sys.platform == "win32":
        return tuple(_windows_roots())
    else:
        return tuple(_openssl_roots())


def _readable(path: Path) -> bool:
    try:
        return os.access(path, os.R_OK) and (path.is_file() or path.is_dir())
    except OSError:  # a folder this user may not enter: no store there
        return False


def _openssl_roots() -> list[x509.Certificate]:
    paths = ssl.get_default_verify_paths()
    certs: list[x509.Certificate] = []
    cafile = os.environ.get(paths.openssl_cafile_env) or paths.cafile or paths.openssl_cafile
    if cafile and _readable(Path(cafile)):
        certs.extend(load_file(Path(cafile)))
    capath = os.environ.get(paths.openssl_capath_env) or paths.capath
    if not certs and capath and _readable(Path(capath)):
        for entry in sorted(Path(capath).iterdir()):
            if entry.is_file() and entry.suffix in (".pem", ".crt", ".0", ".1"):
                try:
                    certs.extend(load_file(entry))
                except OSError:
                    continue
    return certs


def _windows_roots() -> list[x509.Certificate]:  # pragma: no cover - exercised on Windows only
    certs: list[x509.Certificate] = []
    enum = getattr(ssl, "enum_certificates", None)
    if enum is None:
        return certs
    for store in ("ROOT", "CA"):
        try:
            entries = enum(store)
        except OSError:
            continue
        for der, encoding, trust in entries:
            if encoding != "x509_asn" or not (trust is True or ssl.Purpose.SERVER_AUTH.oid in trust):
                continue
            cert = load_der(der)
            if cert is not None:
                certs.append(cert)
    return certs
