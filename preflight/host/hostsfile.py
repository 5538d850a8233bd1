"""The hosts file: where it is on this OS, and which lines name a host. Pure parsing; one small read per run.

A hosts entry overrides DNS for the connector (Windows' resolver reads it first), so a stale one is a classic
connector failure: dns.resolve compares it with what DNS answers.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
from pathlib import Path

MAX_BYTES = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class HostsEntry:
    line: int  # 1-based
    address: str
    names: tuple[str, ...]
    text: str  # the line as written (comments dropped), for the evidence

    def to_json(self) -> dict[str, object]:
        return {"line": self.line, "address": self.address, "names": list(self.names), "text": self.text}


def path() -> Path:
    if sys.platform == "win32":
        return Path(os.environ.get("SYSTEMROOT", r"C:\Windows")) / "System32" / "drivers" / "etc" / "hosts"
    else:
        return Path("/etc/hosts")


def parse(text: str) -> list[HostsEntry]:
    """Every `ADDRESS NAME [NAME...]` line; names lower-cased, a final dot dropped; zone indexes kept."""
    entries = []
    for number, raw in enumerate(text.splitlines(), start=1):
        content = raw.split("#", 1)[0].strip()
        fields = content.split()
        if len(fields) >= 2:
            names = tuple(name.lower().rstrip(".") for name in fields[1:])
            entries.append(HostsEntry(number, fields[0], names, content))
    return entries


def entries_for(entries: list[HostsEntry], host: str) -> list[HostsEntry]:
    name = host.lower().rstrip(".")
    return [entry for entry in entries if name in entry.names]


@functools.cache
def read(file: Path | None = None) -> tuple[str, list[HostsEntry]]:
    """(the file read, its entries): empty when it is missing or unreadable (the run never fails over it)."""
    where = file or path()
    try:
        with open(where, "rb") as handle:
            data = handle.read(MAX_BYTES)
    except OSError:
        return str(where), []
    return str(where), parse(data.decode("utf-8-sig", errors="replace"))
