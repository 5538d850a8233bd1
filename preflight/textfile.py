"""Text files as Windows tools save them: UTF-8 with or without a BOM, or UTF-16 with its BOM (Notepad's
"Unicode", PowerShell 5's Out-File). Profiles, connector configurations and the connector's own files all come
through here."""

from __future__ import annotations

import re


def decode_text(data: bytes) -> str:
    """The text of a file's bytes; UnicodeDecodeError when it is neither UTF-16 with a BOM nor UTF-8."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    return data.decode("utf-8-sig")


def without_xml_declaration(text: str) -> str:
    """XML text without its `<?xml ... encoding="utf-16"?>` line: once decoded, the declared encoding is history,
    and ElementTree refuses a str that declares a multi-byte one."""
    return re.sub(r"^\s*<\?xml[^>]*\?>", "", text, count=1)
