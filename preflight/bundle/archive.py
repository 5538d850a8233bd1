"""The bundle file itself: assembled from redacted parts, a manifest with the SHA-256 of every file, written to a
temp file that is audited before it is renamed into place, so an archive under the final name is always complete
and clean. Reading verifies the manifest before anything is trusted."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from preflight.errors import UsageError
from preflight.redact import DETECTORS, value_pattern
from preflight.reporting.output import replace_with_retry

BUNDLE_FORMAT = "connector-preflight-bundle"
BUNDLE_VERSION = 1
MANIFEST = "manifest.json"
MAX_MEMBERS = 5000
MAX_MEMBER_BYTES = 64 * 1024 * 1024
MAX_TOTAL_BYTES = 256 * 1024 * 1024


class BundleError(UsageError):
    """A bundle that cannot be read, or one the self-audit refused to finish."""


@dataclasses.dataclass(frozen=True)
class AuditFinding:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def manifest(files: Mapping[str, bytes], extra: Mapping[str, Any]) -> bytes:
    entries = [
        {"path": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        for name, data in sorted(files.items())
    ]
    document = {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **extra,
        "files": entries,
    }
    return (json.dumps(document, indent=2, sort_keys=False) + "\n").encode("utf-8")


def write(
    path: Path,
    files: Mapping[str, bytes],
    manifest_extra: Mapping[str, Any],
    audit_values: Iterable[str] = (),
    audit_names: Iterable[str] = (),
    user_patterns: Iterable[re.Pattern[str]] = (),
) -> str:
    """Writes the archive atomically and returns its SHA-256. Raises BundleError, leaving nothing at `path`,
    if the self-audit finds a secret in the finished archive."""
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for name, data in sorted(files.items()):
                    archive.writestr(_info(name), data)
                # The manifest goes last: an archive cut short has no manifest and is refused by `read`.
                archive.writestr(_info(MANIFEST), manifest(files, manifest_extra))
            handle.flush()
            os.fsync(handle.fileno())
        findings = audit(Path(tmp), audit_values, audit_names, user_patterns)
        if findings:
            more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
            raise BundleError(f"bundle not written: the self-audit found {findings[0]}{more}")
        digest = hashlib.sha256(Path(tmp).read_bytes()).hexdigest()
        replace_with_retry(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return digest


def _info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=dt.datetime.now().timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def audit(
    path: Path,
    values: Iterable[str] = (),
    names: Iterable[str] = (),
    user_patterns: Iterable[re.Pattern[str]] = (),
) -> list[AuditFinding]:
    """Everything in the archive that still looks like a secret: the redactor's detectors, the user's patterns,
    the values that were redacted, and (when pseudonymizing) the original names and addresses."""
    checks: list[tuple[str, re.Pattern[str]]] = []
    values = [v for v in values if v]
    if values:
        checks.append(("a redacted value", value_pattern(values)))
    names = [n for n in names if n]
    if names:
        alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
        checks.append(("a pseudonymized name", re.compile(rf"(?i)(?<![\w-])(?:{alternatives})(?![\w-])")))
    checks.extend(("a match of --redact", p) for p in user_patterns)
    findings: list[AuditFinding] = []
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            text = archive.read(info).decode("utf-8", errors="replace")
            for what, start in _leftovers(text, checks):
                findings.append(AuditFinding(info.filename, text.count("\n", 0, start) + 1, what))
    return sorted(findings, key=lambda f: (f.path, f.line))


def _leftovers(text: str, checks: list[tuple[str, re.Pattern[str]]]) -> Iterable[tuple[str, int]]:
    for detector in DETECTORS:
        for start, _end in detector.secrets(text):
            yield f"{detector.name} left in", start
    for what, pattern in checks:
        for match in pattern.finditer(text):
            yield f"{what} left in", match.start()


def read(path: str) -> dict[str, bytes]:
    """The files of a complete bundle, each checked against the manifest. Raises BundleError otherwise."""
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise BundleError(f"{path}: cannot read: no such file") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise BundleError(f"{path}: not a readable bundle ({exc})") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS or sum(i.file_size for i in infos) > MAX_TOTAL_BYTES:
            raise BundleError(f"{path}: too large to be a bundle ({len(infos)} files)")
        names = {i.filename for i in infos}
        if MANIFEST not in names:
            raise BundleError(f"{path}: incomplete bundle (no {MANIFEST}); it was not finished")
        try:
            files = {i.filename: _bounded(archive, i, path) for i in infos if i.file_size <= MAX_MEMBER_BYTES}
            listed = json.loads(files[MANIFEST])
        except (zipfile.BadZipFile, OSError, KeyError, ValueError, EOFError) as exc:
            raise BundleError(f"{path}: damaged bundle ({type(exc).__name__}: {exc})") from None
    if not isinstance(listed, dict) or listed.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{path}: {MANIFEST} is not a connector-preflight bundle manifest")
    if listed.get("version") != BUNDLE_VERSION:
        raise BundleError(f"{path}: unsupported bundle version {listed.get('version')!r}")
    for entry in listed.get("files", []):
        name = entry.get("path") if isinstance(entry, dict) else None
        if name not in files:
            raise BundleError(f"{path}: {name!r} is listed in the manifest but missing")
        if hashlib.sha256(files[name]).hexdigest() != entry.get("sha256"):
            raise BundleError(f"{path}: {name} does not match its SHA-256 in the manifest (altered or damaged)")
    unlisted = set(files) - {e.get("path") for e in listed.get("files", []) if isinstance(e, dict)} - {MANIFEST}
    if unlisted:
        raise BundleError(f"{path}: {sorted(unlisted)[0]} is not in the manifest (added after the bundle was made)")
    return files


def _bounded(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str) -> bytes:
    """One member, never more than the size its header declares: a member that lies about its size (a small
    header, a huge deflate stream) is refused when it passes that size, not after inflating all of it and
    failing its CRC."""
    with archive.open(info) as member:
        data = member.read(info.file_size + 1)
    if len(data) > info.file_size:
        raise BundleError(
            f"{path}: {info.filename} holds more than the {info.file_size} bytes it declares (damaged or crafted)"
        )
    return data


def is_bundle(path: str) -> bool:
    try:
        return zipfile.is_zipfile(path)
    except OSError:
        return False
