"""Proxy environment variables: HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY, in either case."""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping

from preflight.errors import UsageError
from preflight.proxy.url import ProxyConfig, parse_proxy_url


@dataclasses.dataclass(frozen=True)
class NoProxyRule:
    text: str

    def matches(self, host: str) -> bool:
        """httpx/curl semantics: '*' all; 'example.com' the name and its subdomains; '.example.com' subdomains
        only; an IP matches exactly; CIDR is honoured here for IPs although many clients ignore it."""
        rule = self.text.strip().lower()
        host = host.lower().rstrip(".")
        if not rule:
            return False
        if rule == "*":
            return True
        rule = rule.split(":")[0] if rule.count(":") == 1 else rule.strip("[]")
        try:
            network = ipaddress.ip_network(rule, strict=False)
        except ValueError:
            network = None
        if network is not None:
            try:
                return ipaddress.ip_address(host) in network
            except ValueError:
                return False
        if rule.startswith("."):
            return host.endswith(rule)
        if rule.startswith("*."):
            return host.endswith(rule[1:])
        return host == rule or host.endswith("." + rule)


def parse_no_proxy(value: str) -> tuple[NoProxyRule, ...]:
    return tuple(NoProxyRule(part.strip()) for part in value.split(",") if part.strip())


@dataclasses.dataclass(frozen=True)
class EnvironmentProxies:
    https: tuple[str, ProxyConfig] | None  # (variable name, proxy)
    http: tuple[str, ProxyConfig] | None
    no_proxy: tuple[str, tuple[NoProxyRule, ...]] | None
    problems: tuple[str, ...] = ()


def from_environment(env: Mapping[str, str]) -> EnvironmentProxies:
    """HTTPS_PROXY/HTTP_PROXY/ALL_PROXY/NO_PROXY in either case (lower case wins, as in curl and httpx)."""
    problems: list[str] = []

    def pick(*names: str) -> tuple[str, ProxyConfig] | None:
        for name in names:
            for variant in (name.lower(), name.upper()):
                value = env.get(variant)
                if value:
                    try:
                        return variant, parse_proxy_url(value, where=variant)
                    except UsageError as exc:
                        problems.append(str(exc))
                        return None
        return None

    https = pick("HTTPS_PROXY", "ALL_PROXY")
    http = pick("HTTP_PROXY", "ALL_PROXY")
    no_proxy = None
    for variant in ("no_proxy", "NO_PROXY"):
        if env.get(variant):
            no_proxy = (variant, parse_no_proxy(env[variant]))
            break
    return EnvironmentProxies(https, http, no_proxy, tuple(problems))
