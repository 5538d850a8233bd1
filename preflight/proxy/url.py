"""Proxy URLs: parsing (--proxy, the environment, .NET's proxyaddress, a PAC result) and the printable forms that
never carry credentials."""

from __future__ import annotations

import contextlib
import dataclasses
import re
from urllib.parse import unquote, urlsplit

from preflight.errors import UsageError
from preflight.netutil import bracketed, is_host
from preflight.redact import known_secret


@dataclasses.dataclass(frozen=True)
class ProxyConfig:
    scheme: str  # http (CONNECT for TLS, absolute-form for plain HTTP)
    host: str
    port: int
    username: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)

    @property
    def display(self) -> str:
        """The URL without its userinfo: the only form that may be printed, written or used as a key. Not even a
        mask of the credentials: a masked URL still looks like one carrying credentials to every scanner (the
        bundle's self-audit among them); `has_credentials` says whether there were any."""
        host = bracketed(self.host)
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def has_credentials(self) -> bool:
        return self.username is not None


def parse_proxy_url(value: str, *, where: str = "--proxy", default_port: int = 8080) -> ProxyConfig:
    """An http:// proxy URL (the scheme may be left out). `default_port` for a URL without one: 8080 for options
    and the environment as most tools do, 80 where the connector's own stack (.NET's Uri, a PAC result) decides."""
    text = value.strip()
    if "://" not in text:
        text = "http://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:  # urllib's message quotes the netloc, userinfo and all
        raise UsageError(f"{where} {redact_url(value)!r}: {without_userinfo(str(exc), value)}") from None
    if parts.scheme.lower() != "http":
        raise UsageError(f"{where} {redact_url(value)!r}: only http:// proxies are supported (CONNECT is used for TLS)")
    host = (parts.hostname or "").lower()
    if not host:
        raise UsageError(f"{where} {redact_url(value)!r}: no proxy host")
    if not host.isascii():
        with contextlib.suppress(UnicodeError):  # else refused below, with the name as written
            host = host.encode("idna").decode("ascii")
    if not is_host(host):
        raise UsageError(f"{where} {redact_url(value)!r}: {host!r} is not a host name or address")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise UsageError(f"{where} {redact_url(value)!r}: a proxy URL has no path")
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    if password:  # wherever it came from (--proxy, the environment, a .exe.config, a PAC answer): never printed
        known_secret(password)
        known_secret(parts.password)
    return ProxyConfig("http", host, port or default_port, username, password)


def redact_url(value: str) -> str:
    """Any URL-like string without its userinfo, for messages and evidence about proxy settings: everything up to
    the last '@' after the scheme goes, however malformed the rest ('u:secret@://' included)."""
    scheme = re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", value)
    prefix = scheme.group(0) if scheme else ""
    rest = value[len(prefix) :]
    at = rest.rfind("@")
    return value if at < 0 else prefix + rest[at + 1 :]


def without_userinfo(text: str, value: str) -> str:
    """`text` (a message about the URL `value`) with the URL's userinfo, and its password alone, removed."""
    scheme = re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", value)
    rest = value[len(scheme.group(0)) if scheme else 0 :]
    at = rest.rfind("@")
    if at > 0:
        userinfo = rest[:at]
        text = text.replace(userinfo, "[REDACTED]")
        password = userinfo.partition(":")[2]
        if len(password) >= 4:  # shorter ones would match inside ordinary words of the message
            text = text.replace(password, "[REDACTED]")
    return strip_userinfo(text)


_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/?#@'\"<>]*@")


def strip_userinfo(text: str) -> str:
    """Text (an error message) with the userinfo of every URL in it removed."""
    return _USERINFO.sub(r"\1", text)
