"""Turns a profile plus command-line options into the concrete endpoints a run will look at."""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from preflight.errors import UsageError
from preflight.model import Endpoint, Target
from preflight.netutil import bracketed, split_host_port
from preflight.profile import Profile, is_valid_host
from preflight.proxy import ProxySettings, Route

if TYPE_CHECKING:
    from preflight.tenant.discovery import TenantResolution

_PLACEHOLDER_RE = re.compile(r"\{([a-z_]+)\}")


@dataclasses.dataclass(frozen=True)
class Plan:
    profile: Profile
    endpoints: tuple[Endpoint, ...]
    proxy: ProxySettings = dataclasses.field(default_factory=ProxySettings)
    tenant: TenantResolution | None = None  # how the tenant was found (None: the plan was built without asking)
    # check id → its settings as resolved for this run (defaults, the profile's [checks."id"], --set)
    check_settings: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)

    def settings_for(self, check: Any) -> Mapping[str, Any]:
        """A check's settings for this run: what was resolved for it, else its declared defaults."""
        resolved = self.check_settings.get(check.id)
        return resolved if resolved is not None else dict(getattr(check, "settings", {}) or {})

    @functools.cached_property
    def _by_host(self) -> dict[str, tuple[Endpoint, ...]]:
        index: dict[str, list[Endpoint]] = {}
        for endpoint in self.endpoints:
            index.setdefault(endpoint.host, []).append(endpoint)
        return {host: tuple(rows) for host, rows in index.items()}

    def endpoints_for(self, host: str) -> tuple[Endpoint, ...]:
        """The profile rows for one host (an index: checks ask this for every target)."""
        return self._by_host.get(host, ())

    def route(self, host: str, port: int) -> Route:
        """How traffic to host:port would leave this host (direct, or which proxy and why)."""
        tls = any(e.tls_on(port) for e in self.endpoints_for(host) if port in e.ports)
        return self.proxy.route(host, port, tls=tls or port != 80)

    def proxied(self, target: Target) -> bool:
        return target.port is not None and not self.route(target.host, target.port).direct

    def host_targets(self) -> list[Target]:
        """One target per distinct host, in profile order."""
        seen: dict[str, list[Endpoint]] = {}
        for endpoint in self.endpoints:
            seen.setdefault(endpoint.host, []).append(endpoint)
        return [_target(host, None, rows) for host, rows in seen.items()]

    def port_targets(self, *, tls_only: bool = False) -> list[Target]:
        """One target per distinct (host, port), in profile order."""
        seen: dict[tuple[str, int], list[Endpoint]] = {}
        for endpoint in self.endpoints:
            for port in endpoint.ports:
                if tls_only and not endpoint.tls_on(port):
                    continue
                seen.setdefault((endpoint.host, port), []).append(endpoint)
        return [_target(host, port, rows) for (host, port), rows in seen.items()]


def _target(host: str, port: int | None, rows: list[Endpoint]) -> Target:
    first = rows[0]
    return Target(
        host=host,
        port=port,
        purposes=tuple(dict.fromkeys(r.purpose for r in rows)),
        sources=tuple(dict.fromkeys(r.source for r in rows)),
        roles=tuple(dict.fromkeys(r.role for r in rows if r.role)),
        wildcard=first.is_wildcard,
        missing=first.missing,
        template=first.template,
    )


def build(
    profile: Profile,
    *,
    extra_endpoints: tuple[Endpoint, ...] = (),
    tenant_id: str | None = None,
    proxy: ProxySettings | None = None,
    tenant: TenantResolution | None = None,
    check_settings: Mapping[str, Mapping[str, Any]] | None = None,
) -> Plan:
    values = {"tenant_id": tenant_id}
    endpoints = [_expand(endpoint, values) for endpoint in (*profile.endpoints, *extra_endpoints)]
    return Plan(
        profile=profile,
        endpoints=tuple(endpoints),
        proxy=proxy or ProxySettings(),
        tenant=tenant,
        check_settings=check_settings or {},
    )


def service_rows(plan: Plan) -> list[tuple[str, int]]:
    """The (host, port) rows that carry the connector's service traffic, wildcards and unfilled names included."""
    rows = [(e.host, port) for e in plan.endpoints if e.role == "service" for port in e.ports]
    return list(dict.fromkeys(rows))


def _expand(endpoint: Endpoint, values: dict[str, str | None]) -> Endpoint:
    names = _PLACEHOLDER_RE.findall(endpoint.host)
    if not names:
        return endpoint
    missing = tuple(name for name in names if not values.get(name))
    host = endpoint.host
    if not missing:
        host = _PLACEHOLDER_RE.sub(lambda m: str(values[m.group(1)]), host)
    return dataclasses.replace(endpoint, host=host, template=endpoint.host, missing=missing)


DEFAULT_PORTS = {"https": 443, "http": 80}


def parse_endpoint_option(value: str) -> Endpoint:
    """`HOST:PORT[,PORT...]` (IPv6 literals in brackets: `[2001:db8::1]:443`), `HOST` alone for 443, or an
    http(s) URL (its port, or the scheme's)."""
    text = value.strip()
    if "://" in text:
        text = _url_endpoint(value, text)
    elif (text.startswith("[") and text.endswith("]")) or ":" not in text:
        text += ":443"
    if text.startswith("["):
        close = text.find("]")
        if close < 0 or text[close + 1 : close + 2] != ":":
            raise UsageError(f"--endpoint {value!r}: expected [IPV6]:PORT[,PORT...]")
        host, port_text = text[1:close], text[close + 2 :]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise UsageError(f"--endpoint {value!r}: {host!r} is not an IPv6 address") from None
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep or not host:
            raise UsageError(f"--endpoint {value!r}: expected HOST:PORT[,PORT...]")
        if ":" in host:
            raise UsageError(f"--endpoint {value!r}: put an IPv6 address in brackets, e.g. [2001:db8::1]:443")
    host = host.lower()
    if not is_valid_host(host) or "{" in host:
        raise UsageError(f"--endpoint {value!r}: {host!r} is not a host name or address")
    ports: list[int] = []
    for part in port_text.split(","):
        if not (part.strip().isascii() and part.strip().isdigit()) or not 1 <= int(part) <= 65535:
            raise UsageError(f"--endpoint {value!r}: {part!r} is not a TCP port (1-65535)")
        if int(part) not in ports:
            ports.append(int(part))
    return Endpoint(host=host, ports=tuple(ports), purpose="Added with --endpoint", source="--endpoint")


def _url_endpoint(value: str, text: str) -> str:
    """An http(s) URL as HOST:PORT (the path is not probed: the endpoint is the host and port)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"--endpoint {value!r}: not a usable URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise UsageError(f"--endpoint {value!r}: only http:// and https:// URLs, or HOST:PORT[,PORT...]")
    if not parts.hostname:
        raise UsageError(f"--endpoint {value!r}: the URL has no host")
    return f"{bracketed(parts.hostname)}:{port or DEFAULT_PORTS[scheme]}"


def parse_server_option(value: str, *, option: str, default_port: int) -> tuple[str, int]:
    """`IP[:PORT]` or `[IPV6]:PORT` for --dns-server."""
    return split_host_port(value, option=option, default_port=default_port)
