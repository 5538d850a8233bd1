"""Secret redaction, the one pass every output goes through: each report format (emit.py redacts the report once
before any reporter sees it) and every file of a support bundle. Detectors for credentials in URLs and in bare
`user:password@host` userinfo (a PAC answer, NO_PROXY), auth headers, tokens, keys and secret-named settings
(a SAS `sig=` among them), plus the user's own patterns and the secrets the run itself read (`known_secret`: a
proxy URL's password wherever it was parsed). Every value it removes is remembered, so the same secret is also
removed where it appears without context, and the bundle's self-audit can look for it afterwards.

Every detector runs in time linear in its input: text from the network (a PAC script, a page title) can be
shaped against a regular expression, so each pattern starts only at the beginning of a run of the characters it
repeats (a lookbehind) and its repetitions are possessive (no backtracking into them).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from typing import Any

REDACTED = "[REDACTED]"
# Shorter remembered values would match inside unrelated words and numbers; they are still removed where a
# detector sees them in context, just not hunted down elsewhere.
MIN_REMEMBERED = 4

_SECRET_WORDS = (
    r"password|passwd|passphrase|pwd|secret|token|apikey|api[_-]?key|access[_-]?key|accountkey|"
    r"sharedaccesskey|client[_-]?secret|private[_-]?key|credentials?|sig|signature|session[_-]?id|cookie"
)
# A key is secret-named when it ends with one of the words ("proxy_password", "x-api-key", "AccountKey").
SECRET_KEY = re.compile(rf"(?i)^[\w.-]*?(?:{_SECRET_WORDS})$")
_NOT_A_VALUE = r"(?!(?:true|false|null|none|yes|no|\[REDACTED\])(?![\w-]))"


@dataclasses.dataclass(frozen=True)
class Detector:
    name: str
    pattern: re.Pattern[str]
    check: Any = None  # optional predicate on the secret text, to keep prose like "basic connectivity" out
    # optional: the secret's span within the match's "secret" group, or None (for what a linear pattern cannot say)
    narrow: Callable[[str], tuple[int, int] | None] | None = None

    def secrets(self, text: str) -> Iterator[tuple[int, int]]:
        for match in self.pattern.finditer(text):
            start, end = match.span("secret")
            if self.narrow is not None:
                inner = self.narrow(text[start:end])
                if inner is None:
                    continue
                start, end = start + inner[0], start + inner[1]
            value = text[start:end]
            if value and not value.startswith(REDACTED) and (self.check is None or self.check(value)):
                yield start, end


def _userinfo(authority: str) -> tuple[int, int] | None:
    """In `user:password@host` (the password may hold '@'), the span of `user:password`: up to the last '@',
    when what comes before it has a ':' and a host follows. Not `host:443@address`, the way reports name one
    address of an endpoint: digits between the first ':' and an '@' are a port (a digits-only password the run
    itself read is still removed, as a known secret)."""
    at = authority.rfind("@")
    head = authority[:at]
    bracket = head.find("]") + 1 if head.startswith("[") else 0  # [2001:db8::1]:443@...: its colons are no user's
    colon = head.find(":", bracket)
    if at <= 0 or colon < 0:
        return None
    following = authority[at + 1 : at + 2]
    if not (following.isalnum() or following == "["):
        return None
    if _PORT_FIRST.match(authority[colon + 1 : at + 1]):
        return None
    return 0, at


_PORT_FIRST = re.compile(r"\d++@")


def _looks_like_basic(value: str) -> bool:
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return False
    return ":" in decoded and decoded.isprintable()


DETECTORS: tuple[Detector, ...] = (
    Detector(
        "private key",
        re.compile(
            r"(?s)(?P<secret>-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----.*?"
            r"(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\Z))"
        ),
    ),
    Detector(
        "URL credentials",
        re.compile(r"(?i)(?<![a-z0-9+.-])[a-z][a-z0-9+.-]*+://(?P<secret>[^\s/?#'\"<>]++)"),
        narrow=_userinfo,
    ),
    # user:password@host with no scheme: a PAC answer ("PROXY user:pw@proxy:8080"), NO_PROXY, a bare --proxy value
    Detector(
        "userinfo",
        re.compile(r"(?<![^\s\"'<>=,;(|])(?P<secret>[^\s/?#'\"<>=,;()|]++)"),
        narrow=_userinfo,
    ),
    Detector(
        "authorization header",
        re.compile(
            r"(?i)\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?(?:(?:basic|bearer|negotiate|ntlm|digest)\s+)?"
            r"(?P<secret>[^\r\n\"']+)"
        ),
    ),
    Detector("cookie header", re.compile(r"(?i)\b(?:set-)?cookie[\"']?\s*[:=]\s*[\"']?(?P<secret>[^\r\n\"']+)")),
    Detector("bearer token", re.compile(r"(?i)\bbearer\s+(?P<secret>[A-Za-z0-9._~+/=-]{16,})")),
    Detector("basic credentials", re.compile(r"(?i)\bbasic\s+(?P<secret>[A-Za-z0-9+/]{6,}={0,2})"), _looks_like_basic),
    Detector(
        "negotiate token", re.compile(r"(?i)\b(?:negotiate|ntlm)\s+(?P<secret>(?:TlRMTVNTUA|YII)[A-Za-z0-9+/=]+)")
    ),
    Detector(
        "JWT",
        re.compile(r"(?<![A-Za-z0-9_-])(?P<secret>eyJ[A-Za-z0-9_-]{4,}+\.eyJ[A-Za-z0-9_-]{4,}+\.[A-Za-z0-9_-]*+)"),
    ),
    Detector("AWS access key", re.compile(r"\b(?P<secret>(?:AKIA|ASIA)[0-9A-Z]{16})\b")),
    Detector("GitHub token", re.compile(r"\b(?P<secret>gh[pousr]_[A-Za-z0-9]{30,})\b")),
    Detector("Slack token", re.compile(r"\b(?P<secret>xox[abprs]-[A-Za-z0-9-]{10,})")),
    Detector(
        "XML secret element",
        re.compile(rf"(?i)<(?P<tag>[\w:.-]*?(?:{_SECRET_WORDS}))(?:\s[^<>]*+)?>(?P<secret>[^<]++)</(?P=tag)>"),
    ),
    Detector(
        "secret appSetting",
        re.compile(rf"(?i)\bkey\s*=\s*[\"'][\w.:-]*?(?:{_SECRET_WORDS})[\"']\s+value\s*=\s*[\"'](?P<secret>[^\"']+)"),
    ),
    Detector(
        "secret setting",
        re.compile(
            rf"(?i)(?<![\w.-])[\w.-]*?(?:{_SECRET_WORDS})[\"']?\s*(?:=|:)\s*[\"']?{_NOT_A_VALUE}"
            r"(?P<secret>[^\s\"'&;,<>]+)"
        ),
    ),
)


def well_formed(text: str) -> str:
    """`text` itself, or a copy with each lone UTF-16 surrogate replaced by U+FFFD: JSON may carry them as
    escapes (a saved report, a PAC answer) and no UTF-8 writer takes them; one of them must not lose a report."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


_KNOWN: set[str] = set()


def known_secret(value: str | None) -> None:
    """A secret the run read (a proxy URL's password): every Redactor made after this removes it wherever it
    appears, whatever the text around it looks like."""
    if value:
        _KNOWN.add(value)


# What every detector's match contains, one of them at least, lower-cased: most strings of a report (names,
# addresses, codes) hold none, and skip the detectors (a substring test per word is 10 times faster than one
# case-insensitive alternation over them).
TRIGGERS = (
    "@",
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "credential",
    "sig",
    "session",
    "cookie",
    "authorization",
    "bearer",
    "basic",
    "negotiate",
    "ntlm",
    "eyj",
    "akia",
    "asia",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "xox",
)  # fmt: skip  (24 words on 2 lines rather than 24 lines)


def may_hold_a_secret(text: str) -> bool:
    low = text.lower()
    return any(word in low for word in TRIGGERS)


class Redactor:
    """Applies the detectors and the user's patterns; remembers every value removed."""

    def __init__(self, user_patterns: Iterable[re.Pattern[str]] = ()) -> None:
        self.user_patterns = tuple(user_patterns)
        self.remembered: set[str] = set()
        self.repaired = 0  # strings that held lone surrogates (from a saved report, a script, a peer)
        for value in _KNOWN:
            self._remember(value)
        self.count = 0
        self._remembered_re: re.Pattern[str] | None = None
        self._remembered_size = -1
        self._done: dict[str, tuple[str, int]] = {}  # text → (its redacted form, redactions), while the
        self._done_for = len(self.remembered)  # remembered values are these many
        self._secret_keys: dict[str, bool] = {}
        self._keys: dict[Any, str] = {}

    def text(self, text: str) -> str:
        text = self._apply(text, self._spans(text))
        return self.sweep(text)

    def walk(self, value: Any, key: str | None = None) -> Any:
        """A JSON tree with secrets removed: secret-named keys lose their string values, strings are scanned.
        Every string and key also comes out as text every encoder takes (`well_formed`). A report repeats most of
        its strings (codes, check names, purposes): each distinct one is scanned once while nothing new is
        remembered."""
        if isinstance(value, str):
            return self._string(value, key)
        if isinstance(value, dict):
            return {self._key(k): self.walk(v, k if isinstance(k, str) else str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.walk(v) for v in value]
        return value

    def _string(self, value: str, key: str | None) -> str:
        if key is not None and value and value != REDACTED and self._secret_key(key):
            value = self._well_formed(value)
            self._remember(value)
            self.count += 1
            return REDACTED
        if self._done_for != len(self.remembered):  # something new to hunt for: what was done is not done
            self._done.clear()
            self._done_for = len(self.remembered)
        cached = self._done.get(value)
        if cached is not None:
            self.count += cached[1]
            return cached[0]
        before = self.count
        cleaned = self.text(self._well_formed(value))
        if self._done_for == len(self.remembered):
            self._done[value] = (cleaned, self.count - before)
        return cleaned

    def _key(self, key: Any) -> str:
        found = self._keys.get(key)
        if found is None:
            found = self._keys[key] = self._well_formed(key if isinstance(key, str) else str(key))
        return found

    def _secret_key(self, key: str) -> bool:
        found = self._secret_keys.get(key)
        if found is None:
            found = self._secret_keys[key] = bool(SECRET_KEY.match(key))
        return found

    def _well_formed(self, text: str) -> str:
        fixed = well_formed(text)
        if fixed is not text:
            self.repaired += 1
        return fixed

    def _spans(self, text: str) -> list[tuple[int, int]]:
        spans = [span for detector in DETECTORS for span in detector.secrets(text)] if may_hold_a_secret(text) else []
        for pattern in self.user_patterns:
            spans.extend(m.span() for m in pattern.finditer(text) if m.end() > m.start())
        return spans

    def _apply(self, text: str, spans: list[tuple[int, int]]) -> str:
        if not spans:
            return text
        merged: list[list[int]] = []
        for start, end in sorted(spans):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        out: list[str] = []
        cursor = 0
        for start, end in merged:
            self._remember(text[start:end])
            out.append(text[cursor:start])
            out.append(REDACTED)
            cursor = end
        self.count += len(merged)
        out.append(text[cursor:])
        return "".join(out)

    def _remember(self, value: str) -> None:
        for variant in _variants(value):
            if len(variant) >= MIN_REMEMBERED and variant != REDACTED:
                self.remembered.add(variant)

    def sweep(self, text: str) -> str:
        """Removes remembered values wherever they still stand alone in the text."""
        pattern = self.remembered_pattern()
        if pattern is None:
            return text
        text, replaced = pattern.subn(REDACTED, text)
        self.count += replaced
        return text

    def remembered_pattern(self) -> re.Pattern[str] | None:
        if not self.remembered:
            return None
        if self._remembered_size != len(self.remembered):
            self._remembered_re = value_pattern(self.remembered)
            self._remembered_size = len(self.remembered)
        return self._remembered_re


def value_pattern(values: Iterable[str]) -> re.Pattern[str]:
    """Any of the values, not as part of a longer word or number."""
    alternatives = "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))
    return re.compile(rf"(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])")


def _variants(value: str) -> set[str]:
    """The forms a secret takes elsewhere: as found, URL-decoded, and the password half of user:password."""
    variants = {value, urllib.parse.unquote(value)}
    for form in list(variants):
        if ":" in form and "://" not in form and "\n" not in form:
            variants.add(form.split(":", 1)[1])
    if _looks_like_basic(value):
        decoded = base64.b64decode(value + "=" * (-len(value) % 4)).decode("utf-8")
        variants.update({decoded, decoded.split(":", 1)[1]})
    for prefix in ("Basic ", "Bearer ", "basic ", "bearer "):
        if value.startswith(prefix):
            variants |= _variants(value[len(prefix) :])
    return {v.strip() for v in variants if v.strip()}


def compile_user_pattern(text: str) -> re.Pattern[str]:
    """--redact REGEX; raises ValueError with a one-line reason."""
    try:
        pattern = re.compile(text)
    except re.error as exc:
        raise ValueError(f"--redact {text!r}: not a regular expression ({exc})") from None
    if pattern.search(""):
        raise ValueError(f"--redact {text!r}: matches the empty string, which would redact nothing useful")
    return pattern
