"""What the tool writes to stdout and stderr is correct whatever the console or pipe encoding is.

Redirected output on Windows (`> run.txt`, `| Out-File`, a remote session) is encoded with the ANSI code page
(cp1252) by default, which cannot hold the table's `└`, a summary's `→` or the text of a certificate: the write
failed and the report was lost. So: pipes and files get UTF-8 (what the HTML and JSON declare); a console keeps
its own encoding (Windows writes to it in UTF-16) with anything it cannot show replaced rather than failing; and
`--ascii` (or PREFLIGHT_ASCII=1) never emits a non-ASCII byte, for consumers that read the console's code page.
"""

from __future__ import annotations

import codecs
import io
import os
import sys
from collections.abc import Sequence
from typing import TextIO

ASCII_HANDLER = "preflight-ascii"
# What the reports use beyond ASCII, as readable ASCII; anything else becomes a JSON-compatible \uXXXX escape.
_ASCII = {
    "→": "->",
    "←": "<-",
    "└": "`-",
    "·": "-",
    "±": "+/-",
    "−": "-",
    "–": "-",
    "—": "-",
    "…": "...",
    "≥": ">=",
    "≤": "<=",
    "×": "x",
    "“": '"',
    "”": '"',
    "‘": "'",
    "’": "'",
    "✓": "ok",
    "✗": "x",
    "°": " deg",
    "\u00a0": " ",
}


def json_escape(char: str) -> str:
    """A character as a JSON \\u escape (a surrogate pair beyond the BMP): exact, and valid inside JSON strings."""
    code = ord(char)
    if code > 0xFFFF:
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def _ascii_replace(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    chunk = error.object[error.start : error.end]
    return "".join(_ASCII.get(char) or json_escape(char) for char in chunk), error.end


def exact_ascii(text: str, markup: bool) -> str:
    """Text made ASCII without changing what it means: character references in HTML/XML, JSON escapes else."""
    if text.isascii():
        return text
    if markup:
        return text.encode("ascii", "xmlcharrefreplace").decode("ascii")
    return "".join(char if char.isascii() else json_escape(char) for char in text)


codecs.register_error(ASCII_HANDLER, _ascii_replace)


def ascii_requested(argv: Sequence[str]) -> bool:
    """--ascii anywhere before a `--` (it is a global option), or PREFLIGHT_ASCII=1 in the environment."""
    options = list(argv[: argv.index("--")] if "--" in argv else argv)
    return "--ascii" in options or os.environ.get("PREFLIGHT_ASCII", "") not in ("", "0")


class AsciiWriter(io.TextIOWrapper):
    """A UTF-8 text stream that only ever receives ASCII: each write is transliterated first. (A stream declared
    ASCII would not do: click treats an ASCII stream as misconfigured and writes UTF-8 under it.)"""

    def write(self, text: str) -> int:
        super().write(text.encode("ascii", ASCII_HANDLER).decode("ascii"))
        return len(text)


def ascii_active() -> bool:
    return isinstance(sys.stdout, AsciiWriter)


def configure(ascii_only: bool) -> None:
    """sys.stdout and sys.stderr: ASCII with transliteration, UTF-8 for pipes and files, a console's own encoding
    with replacement. Streams that cannot be reconfigured (a test's capture) are left alone."""
    sys.stdout = _configured(sys.stdout, ascii_only)
    sys.stderr = _configured(sys.stderr, ascii_only)


def _configured(stream: TextIO, ascii_only: bool) -> TextIO:
    if not isinstance(stream, io.TextIOWrapper) or isinstance(stream, AsciiWriter):
        return stream
    try:
        if ascii_only:
            stream.flush()
            return AsciiWriter(
                stream.buffer,
                encoding="utf-8",
                errors="strict",
                line_buffering=stream.line_buffering,
                write_through=True,
            )
        if not stream.isatty():
            stream.reconfigure(encoding="utf-8", errors="strict")
        else:
            stream.reconfigure(errors="replace")
    except (ValueError, OSError, AttributeError):  # closed or detached: nothing will be written there
        pass
    return stream
