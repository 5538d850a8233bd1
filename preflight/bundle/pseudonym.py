"""--pseudonymize: hostnames, internal IP addresses, user names and the tenant ID become stable pseudonyms
(`host-1a2b3c4d`, `ip4-...`, `user-...`), the same in every file of a bundle. The reverse map is for the admin
only and is written beside the bundle, never inside it."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Iterable
from typing import Any

from preflight.netutil import is_ip_literal

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?:%[\w.-]+)?(?![\w:])")
_HOME = re.compile(r"(?i)(?:/home/|/Users/|[A-Z]:\\\\?Users\\\\?)(?P<user>[\w.$-]+)")
_SKIP_USERS = frozenset({"public", "default", "all users", "default user", "root", "shared"})


def is_internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if address.is_loopback or address.is_unspecified or address.is_multicast or address.is_reserved:
        return False  # reserved covers 240/4 and so netmasks such as 255.255.255.0
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return is_internal(address.ipv4_mapped)
    return address.is_private or address.is_link_local or address in _CGNAT


class Pseudonymizer:
    def __init__(self, key: bytes | None = None) -> None:
        self.key = key if key is not None else secrets.token_bytes(32)
        self.names: dict[str, str] = {}  # original (lower case) → kind
        self.reverse: dict[str, str] = {}  # pseudonym → original
        self._names_re: re.Pattern[str] | None = None

    def pseudonym(self, kind: str, original: str) -> str:
        digest = hmac.new(self.key, f"{kind}:{original.lower()}".encode(), hashlib.sha256).hexdigest()[:8]
        name = f"{kind}-{digest}"
        self.reverse.setdefault(name, original)
        return name

    def add(self, kind: str, names: Iterable[str | None]) -> None:
        for name in names:
            cleaned = (name or "").strip().strip(".")
            if len(cleaned) >= 2 and not is_ip_literal(cleaned.strip("[]")) and cleaned.lower() != "localhost":
                self.names.setdefault(cleaned.lower(), kind)
                self._names_re = None

    def add_domains_of(self, names: Iterable[str]) -> None:
        """The internal domain a host name belongs to ("corp.contoso.com" for "proxy.corp.contoso.com")."""
        for name in names:
            labels = name.strip(".").split(".")
            if len(labels) >= 3 and not is_ip_literal(name.strip("[]")):
                self.add("domain", [".".join(labels[1:])])

    def learn(self, text: str) -> None:
        """Picks up user names from home-directory paths before anything is rewritten."""
        users = {m.group("user") for m in _HOME.finditer(text)}
        self.add("user", (u for u in users if u.lower() not in _SKIP_USERS))

    def text(self, text: str) -> str:
        text = _IPV4.sub(self._address, text)
        text = _IPV6.sub(self._address, text)
        pattern = self._names_pattern()
        if pattern is not None:
            text = pattern.sub(lambda m: self.pseudonym(self.names[m.group(0).lower()], m.group(0)), text)
        return text

    def walk(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {self.text(str(k)): self.walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.walk(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    def originals(self) -> list[str]:
        return sorted(set(self.reverse.values()))

    def _address(self, match: re.Match[str]) -> str:
        text = match.group(0)
        bare = text.split("%", 1)[0]
        try:
            address = ipaddress.ip_address(bare)
        except ValueError:
            return text
        if not is_internal(address):
            return text
        return self.pseudonym("ip4" if address.version == 4 else "ip6", str(address))

    def _names_pattern(self) -> re.Pattern[str] | None:
        if not self.names:
            return None
        if self._names_re is None:
            alternatives = "|".join(re.escape(n) for n in sorted(self.names, key=len, reverse=True))
            self._names_re = re.compile(rf"(?i)(?<![\w-])(?:{alternatives})(?![\w-])")
        return self._names_re
