"""The tenant of a connector already installed on this host, read from where the connector keeps its trust.

Sources (docs/windows.md, "The tenant of an installed connector", lists them too):
- `%ProgramData%\\Microsoft\\Microsoft AAD Application Proxy Connector\\Config\\TrustSettings.xml` names the
  connector's client certificate (`CloudProxyTrust/Thumbprint`) and whether it is in the Network Service user
  store (`IsInUserStore` true) or the local machine's Personal store (false): Microsoft's "Problem installing the
  Application Proxy Agent Connector" page. The folder of the newer product name is tried as well.
- That certificate is issued by connectorregistrationca.msappproxy.net; its subject is `CN=<tenant ID>` and the
  extension 1.3.6.1.4.1.311.82.1 holds the connector's ID (the AADInternals project's MSAppProxy.ps1 reads both).
- The local machine's Personal store is the registry key HKLM\\SOFTWARE\\Microsoft\\SystemCertificates\\MY\\
  Certificates\\<thumbprint>, value `Blob`; Network Service's is the file of the same name under
  `%windir%\\ServiceProfiles\\NetworkService\\AppData\\Roaming\\Microsoft\\SystemCertificates\\My\\Certificates`.
  Both hold a serialized certificate: a run of (property ID, reserved, length, value) records, the certificate
  itself under property 32 (CERT_CERT_PROP_ID).

Pure parsers take bytes; `WindowsConnectorReader` is the only part that touches the OS.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import struct
import sys
import uuid
from typing import TYPE_CHECKING, Any, Literal, Protocol

from preflight import lazy
from preflight.textfile import decode_text, without_xml_declaration

if TYPE_CHECKING:
    from xml.etree import ElementTree
else:
    ElementTree = lazy.module("xml.etree.ElementTree")

MAX_FILE = 1024 * 1024
CERT_PROPERTY_ID = 32
CONNECTOR_ID_OID = "1.3.6.1.4.1.311.82.1"
REGISTRATION_CA = "connectorregistrationca.msappproxy.net"
TRUST_SETTINGS = (
    "Microsoft\\Microsoft AAD Application Proxy Connector\\Config\\TrustSettings.xml",
    "Microsoft\\Microsoft Entra private network connector\\Config\\TrustSettings.xml",
)
MACHINE_STORE_KEY = "SOFTWARE\\Microsoft\\SystemCertificates\\MY\\Certificates\\"
NETWORK_SERVICE_STORE = (
    "ServiceProfiles\\NetworkService\\AppData\\Roaming\\Microsoft\\SystemCertificates\\My\\Certificates\\"
)

HostTenantOutcome = Literal["found", "absent", "unreadable"]


class InstalledConnectorError(ValueError):
    """A file or value of the installed connector that cannot be used, with a one-line reason."""


@dataclasses.dataclass(frozen=True)
class TrustSettings:
    thumbprint: str
    in_user_store: bool


def parse_trust_settings(data: bytes) -> TrustSettings:
    try:
        root = ElementTree.fromstring(without_xml_declaration(decode_text(data)))
    except (UnicodeDecodeError, ElementTree.ParseError) as exc:
        raise InstalledConnectorError(f"not readable XML: {exc}") from None
    if root.tag != "ConnectorTrustSettingsFile":
        raise InstalledConnectorError(f"root element is <{root.tag}>, not <ConnectorTrustSettingsFile>")
    thumbprint = (root.findtext("CloudProxyTrust/Thumbprint") or "").strip().upper()
    if not re.fullmatch(r"[0-9A-F]{40}", thumbprint):
        raise InstalledConnectorError(f"CloudProxyTrust/Thumbprint is not a SHA-1 thumbprint: {thumbprint[:60]!r}")
    store = (root.findtext("CloudProxyTrust/IsInUserStore") or "").strip().lower()
    if store not in ("true", "false"):
        raise InstalledConnectorError(f"CloudProxyTrust/IsInUserStore is {store[:20]!r}, not true or false")
    return TrustSettings(thumbprint, store == "true")


def certificate_from_blob(blob: bytes) -> bytes:
    """The DER certificate inside a serialized store element (registry `Blob` value or store file)."""
    offset = 0
    while offset + 12 <= len(blob):
        prop_id, _reserved, length = struct.unpack_from("<III", blob, offset)
        offset += 12
        if length > len(blob) - offset:
            raise InstalledConnectorError(f"property {prop_id} runs past the end of the certificate blob")
        if prop_id == CERT_PROPERTY_ID:
            return blob[offset : offset + length]
        offset += length
    raise InstalledConnectorError("the certificate blob holds no certificate (property 32)")


def build_certificate_blob(der: bytes, *, extra: dict[int, bytes] | None = None) -> bytes:
    """The inverse of certificate_from_blob, for fixtures: other properties first, as Windows writes them."""
    out = b""
    for prop_id, value in (extra or {}).items():
        out += struct.pack("<III", prop_id, 1, len(value)) + value
    return out + struct.pack("<III", CERT_PROPERTY_ID, 1, len(der)) + der


@dataclasses.dataclass(frozen=True)
class ConnectorIdentity:
    tenant_id: str
    connector_id: str | None
    subject: str
    issuer: str
    not_after: str
    expired: bool


def connector_identity(der: bytes, now: dt.datetime | None = None) -> ConnectorIdentity:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise InstalledConnectorError(f"the connector certificate does not parse: {exc}") from None
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = str(names[0].value).strip() if names else ""
    try:
        tenant = str(uuid.UUID(common_name))
    except ValueError:
        raise InstalledConnectorError(
            f"the certificate's subject {cert.subject.rfc4514_string()[:100]!r} is not CN=<tenant ID>"
        ) from None
    connector_id = None
    for extension in cert.extensions:
        if extension.oid.dotted_string == CONNECTOR_ID_OID and isinstance(extension.value, x509.UnrecognizedExtension):
            raw = extension.value.value
            raw = raw[2:] if len(raw) == 18 and raw[:2] == b"\x04\x10" else raw  # an OCTET STRING around it
            if len(raw) == 16:
                connector_id = str(uuid.UUID(bytes_le=raw))  # a .NET Guid's byte order
    not_after = cert.not_valid_after_utc
    moment = now or dt.datetime.now(dt.UTC)
    return ConnectorIdentity(
        tenant,
        connector_id,
        cert.subject.rfc4514_string(),
        cert.issuer.rfc4514_string(),
        not_after.isoformat(),
        not_after < moment,
    )


class ConnectorReader(Protocol):
    """Where the installed connector's files and certificates are read from (Windows, or a fake in tests)."""

    def read_file(self, path: str) -> bytes | None:
        """The file's bytes, None if it does not exist; OSError if it cannot be read."""

    def program_data(self) -> str | None: ...

    def windows_dir(self) -> str | None: ...

    def machine_certificate_blob(self, thumbprint: str) -> bytes | None:
        """The `Blob` value of the local machine's Personal store entry, None if absent; OSError if unreadable."""


@dataclasses.dataclass(frozen=True)
class HostTenant:
    outcome: HostTenantOutcome
    tenant_id: str | None = None
    evidence: dict[str, Any] = dataclasses.field(default_factory=dict)
    problem: str | None = None


def read_host_tenant(reader: ConnectorReader | None) -> HostTenant:
    """The installed connector's tenant: TrustSettings.xml → its certificate → the certificate's subject."""
    if reader is None:
        return HostTenant("absent")
    program_data = reader.program_data()
    if not program_data:
        return HostTenant("absent")
    for relative in TRUST_SETTINGS:
        path = f"{program_data.rstrip(chr(92))}\\{relative}"
        try:
            data = reader.read_file(path)
        except OSError as exc:
            return HostTenant(
                "unreadable", evidence={"trust_settings": path}, problem=f"{path}: cannot read: {exc.strerror or exc}"
            )
        if data is not None:
            return _from_trust_settings(reader, path, data)
    return HostTenant("absent")


def _from_trust_settings(reader: ConnectorReader, path: str, data: bytes) -> HostTenant:
    evidence: dict[str, Any] = {"trust_settings": path}
    try:
        settings = parse_trust_settings(data[:MAX_FILE])
    except InstalledConnectorError as exc:
        return HostTenant("unreadable", evidence=evidence, problem=f"{path}: {exc}")
    evidence.update(thumbprint=settings.thumbprint, in_user_store=settings.in_user_store)
    try:
        if settings.in_user_store:
            folder = reader.windows_dir() or "C:\\Windows"
            where = f"{folder.rstrip(chr(92))}\\{NETWORK_SERVICE_STORE}{settings.thumbprint}"
            blob = reader.read_file(where)
        else:
            where = f"HKLM\\{MACHINE_STORE_KEY}{settings.thumbprint}"
            blob = reader.machine_certificate_blob(settings.thumbprint)
    except (OSError, InstalledConnectorError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return HostTenant("unreadable", evidence=evidence, problem=f"{where}: cannot read: {reason}")
    evidence["certificate_location"] = where
    if blob is None:
        problem = f"the certificate {settings.thumbprint} named in {path} is not in {where}"
        return HostTenant("unreadable", evidence=evidence, problem=problem)
    try:
        identity = connector_identity(certificate_from_blob(blob[:MAX_FILE]))
    except InstalledConnectorError as exc:
        return HostTenant("unreadable", evidence=evidence, problem=f"{where}: {exc}")
    evidence.update(dataclasses.asdict(identity))
    evidence["issued_by_registration_ca"] = REGISTRATION_CA in identity.issuer.lower()
    return HostTenant("found", identity.tenant_id, evidence)


class WindowsConnectorReader:  # the few lines that need Windows; the parsers above are tested on fixtures
    def __init__(self) -> None:
        import winreg

        self._winreg = winreg

    def read_file(self, path: str) -> bytes | None:
        try:
            with open(path, "rb") as handle:
                return handle.read(MAX_FILE + 1)
        except FileNotFoundError:
            return None

    def program_data(self) -> str | None:
        return os.environ.get("PROGRAMDATA") or os.environ.get("ALLUSERSPROFILE")  # Windows' environ ignores case

    def windows_dir(self) -> str | None:
        return os.environ.get("SYSTEMROOT") or os.environ.get("WINDIR")

    def machine_certificate_blob(self, thumbprint: str) -> bytes | None:
        winreg = self._winreg
        access = winreg.KEY_READ | winreg.KEY_WOW64_64KEY  # the 64-bit view, also from a 32-bit Python
        try:
            with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, MACHINE_STORE_KEY + thumbprint, 0, access) as key:
                value, kind = winreg.QueryValueEx(key, "Blob")
        except FileNotFoundError:
            return None
        if kind != winreg.REG_BINARY or not isinstance(value, bytes):
            raise InstalledConnectorError(f"HKLM\\{MACHINE_STORE_KEY}{thumbprint}\\Blob is not REG_BINARY")
        return value


def default_reader() -> ConnectorReader | None:
    if sys.platform == "win32":
        return WindowsConnectorReader()
    else:
        return None
