"""WPAD, as Windows does it for the connector: where to look (DHCP option 252, then DNS names built from this
host's DNS suffixes), whether the connector's route follows what is found, and the lookups themselves.

Microsoft's proxy article for the connector: its OS components "automatically attempt to locate a proxy server
on the network using Web Proxy Auto-Discovery (WPAD)". WinHTTP's auto-proxy (Microsoft Learn, "WinHTTP AutoProxy
Support" and "WINHTTP_AUTOPROXY_OPTIONS"): DHCP first (WINHTTP_AUTO_DETECT_TYPE_DHCP, option 252 gives the URL),
then DNS (WINHTTP_AUTO_DETECT_TYPE_DNS_A): an A record for wpad.<primary DNS suffix>, devolving one label at a time
but never below two labels (the devolution level, 2 since MS09-008: never wpad.com), then wpad.<each suffix of the
search list>; the script is http://<that name>/wpad.dat. When auto-detect and a script URL are both set, detection
comes first and the URL is the fallback.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from preflight.blocking import in_daemon_thread

if TYPE_CHECKING:
    from preflight.proxy.settings import ProxyInputs

DEVOLUTION_LEVEL = 2
RESOLV_CONF = Path("/etc/resolv.conf")


def devolve(suffix: str, level: int = DEVOLUTION_LEVEL) -> list[str]:
    """'a.b.contoso.com' → ['a.b.contoso.com', 'b.contoso.com', 'contoso.com']: never fewer than `level` labels."""
    labels = [label for label in suffix.strip(". ").lower().split(".") if label]
    if len(labels) < level:
        return [".".join(labels)] if labels else []
    return [".".join(labels[start:]) for start in range(len(labels) - level + 1)]


def candidate_names(primary: str | None, search_list: Sequence[str]) -> list[str]:
    """The wpad.<suffix> names WinHTTP asks DNS for, in order, once each."""
    suffixes = devolve(primary) if primary else []
    suffixes += [s.strip(". ").lower() for s in search_list if s.strip(". ")]
    return list(dict.fromkeys(f"wpad.{suffix}" for suffix in suffixes if suffix))


def resolv_conf_suffixes(text: str) -> tuple[str | None, tuple[str, ...]]:
    """Off Windows, the resolver's 'domain' (the primary suffix; else the first 'search' entry) and 'search'
    list; the last of each keyword wins, as in glibc."""
    domain: str | None = None
    search: list[str] = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split(";", 1)[0].split()
        if len(words) >= 2 and words[0] == "domain":
            domain, search = words[1].strip(".").lower(), []
        elif len(words) >= 2 and words[0] == "search":
            search = [w.strip(".").lower() for w in words[1:] if w.strip(".")]
            domain = None
    if domain is None and search:
        domain = search[0]
    return domain or None, tuple(search)


def host_suffixes(settings: ProxyInputs) -> tuple[str | None, tuple[str, ...]]:
    """This host's primary DNS suffix and search list: the registry's on Windows, resolv.conf elsewhere."""
    if settings.local_domain or settings.search_list:
        return settings.local_domain, settings.search_list
    if sys.platform != "win32":  # on Windows the registry said it all, even when it said nothing
        try:
            return resolv_conf_suffixes(RESOLV_CONF.read_text(encoding="utf-8", errors="replace")[:65536])
        except OSError:
            pass
    return None, ()


def route_follows_wpad(settings: ProxyInputs, pac_option: str | None) -> str | None:
    """Why the connector's route follows a WPAD script (None: it does not; the script is then evidence only).

    .NET's <defaultProxy>: autoDetect="true" turns detection on, "false" off; unspecified, it is what the system
    (WinINET) says only when .NET builds its proxy from the system's settings whole (DotNetProxy.web_proxy: no
    proxy attribute at all, or no <defaultProxy>): "Automatically detect settings", on in a fresh profile. No
    connector configuration read at all (off Windows, no --connector-config): unknown, so not followed."""
    if pac_option is not None or settings.explicit is not None or settings.explicit_none:
        return None
    config = settings.connector
    if config is not None and config.found:
        if not config.enabled:
            return None
        if config.auto_detect is True:
            return f"autoDetect=true in {config.source}"
        if config.auto_detect is False or not config.web_proxy().system_automatic:
            return None
        where = f"the system's settings ({config.source})"
    else:
        where = "no <defaultProxy>: .NET's default usesystemdefault"
    wininet = settings.wininet
    if wininet is not None and wininet.auto_detect:
        state = "on" if wininet.auto_detect_flag else "on by default (no DefaultConnectionSettings)"
        return f"{where} → WinINET 'Automatically detect settings' {state}"
    return None


@dataclasses.dataclass
class Discovery:
    """What WPAD discovery asked and found: the first script URL, and every question on the way."""

    names: list[str]
    tried: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    url: str | None = None
    via: str | None = None  # "DHCP option 252" or the DNS name that answered

    def to_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"names": self.names, "tried": self.tried, "url": self.url}
        if self.via:
            found["via"] = self.via
        answered = {entry.get("name") for entry in self.tried}
        unanswered = [name for name in self.names if name not in answered]
        if unanswered and self.url is None:
            found["unanswered"] = unanswered  # the run ended (deadline, Ctrl-C) before these were answered
        return found


async def discover(
    found: Discovery,
    resolve: Callable[[str], Awaitable[list[str]]],
    dhcp: Callable[[], str | None] | None,
    timeout: float,
) -> Discovery:
    """DHCP first (Windows only: the WinHTTP API), then every DNS name at once; the first name in order that has
    an IPv4 address gives http://<name>/wpad.dat (WinHTTP asks for A records). Fills `found` as it goes, so an
    interrupted discovery still says what it asked."""
    names = found.names
    if dhcp is not None:
        try:
            url = await in_daemon_thread(dhcp, timeout, name="preflight-dhcp-wpad")
        except TimeoutError:
            found.tried.append({"dhcp": f"no answer within {timeout:g} s"})
        except OSError as exc:
            found.tried.append({"dhcp": str(exc)})
        else:
            found.tried.append({"dhcp": url or "no option 252"})
            if url:
                found.url, found.via = url, "DHCP option 252"
                return found
    answers = await asyncio.gather(*(resolve(name) for name in names), return_exceptions=True)
    for name, answer in zip(names, answers, strict=True):
        if isinstance(answer, BaseException):
            found.tried.append({"name": name, "error": str(answer) or type(answer).__name__})
            continue
        ipv4 = [a for a in answer if ":" not in a]
        found.tried.append({"name": name, "addresses": list(answer)})
        if ipv4 and found.url is None:
            found.url, found.via = f"http://{name}/wpad.dat", name
    return found


def parse_domain_option(value: str) -> str:
    """A --wpad-domain value: a DNS suffix ('corp.contoso.com'), or 'none'."""
    from preflight.errors import UsageError

    text = value.strip().strip(".").lower()
    if text == "none":
        return text
    if not re.fullmatch(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*", text):
        raise UsageError(f"--wpad-domain {value!r}: not a DNS suffix (e.g. corp.contoso.com), nor 'none'")
    return text
