"""Escaping per output format. Names, certificate subjects, page titles and error texts come from the network and
may carry whatever an attacker wrote: terminal control sequences, Markdown links and raw HTML, spreadsheet
formulas, characters XML forbids. Each reporter passes every such text through the function for its format;
the HTML reporter escapes with `html.escape` and drops controls the same way (`visible`).
"""

from __future__ import annotations

import re

# C0 controls, DEL and C1 controls; the Unicode format characters that reorder or hide text (bidirectional
# embeddings, overrides and isolates, zero-width marks: "Trojan Source", CVE-2021-42574); lone surrogates.
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ud800-\udfff]")


def _shown(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """`text` on one line (a tab or line break becomes a space) with every other control and invisible format
    character written as an escape (`\\x1b`, `\\u202e`): a terminal, a spreadsheet or a reader's eye sees what
    is there, nothing acts on it."""
    return _INVISIBLE.sub(_shown, _SPACES.sub(" ", text))


_SPACES = re.compile(r"\r\n|[\t\n\r]")


def terminal(text: str) -> str:
    """For the table: as `visible`, but line breaks the layout put there stay (a text's own are escaped before
    the layout sees it; see `visible`)."""
    return "\n".join(visible(line) for line in text.split("\n"))


# What Markdown (CommonMark and GitHub's tables) gives meaning to inside a line: emphasis, code, links and images
# (which need '['), strikethrough, the cell separator. A backslash makes each literal; '<' and '&' become entities.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def markdown(text: str) -> str:
    """Text for a Markdown paragraph or table cell: no emphasis, link, image, code span, raw HTML or autolink
    can form from it, and a '|' does not end the cell."""
    text = visible(text).replace("&", "&amp;").replace("<", "&lt;")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def markdown_code(text: str) -> str:
    """A code span holding `text` literally: fenced by more backticks than any run inside it (CommonMark), with
    '|' escaped, which GitHub's tables read even inside code spans."""
    text = visible(text).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


_SAFE_URL = re.compile(r"https?://[A-Za-z0-9._~:/?#@!$&'*+,;=%-]+\Z")


def markdown_link(url: str, label: str = "link") -> str:
    """A link only to an http(s) URL made of URL characters (no `javascript:`, no parenthesis or space that
    would end it early); anything else is shown as text."""
    if _SAFE_URL.match(url):
        return f"[{markdown(label)}]({url})"
    return markdown(url)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_cell(text: str) -> str:
    """A CSV field a spreadsheet shows as text: one that starts like a formula (`=`, `+`, `-`, `@`, a tab or a
    carriage return, or their full-width forms) gets a leading apostrophe (OWASP, "CSV Injection"), and controls
    are escaped."""
    if text.startswith(_FORMULA_START):
        text = "'" + text
    return visible(text)


# XML 1.0 allows tab, newline, carriage return and U+0020 upwards, except surrogates and U+FFFE/U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    """Text an XML 1.0 document can carry: the characters it forbids are written as escapes; ElementTree escapes
    the markup characters."""
    return _NOT_XML.sub(_shown, text)
