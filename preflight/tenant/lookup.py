"""The tenant lookup over the run's own route, name resolution and --timeout (preflight/tenant/discovery.py says
what is asked and how the answer is read)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from preflight.netutil import is_ip_literal, usable_addresses
from preflight.probes.http import HttpFetch
from preflight.tenant.discovery import (
    MAX_DOCUMENT,
    TenantInput,
    TenantResolution,
    discover,
    discovery_url,
    resolved_guid,
)

if TYPE_CHECKING:
    from preflight.context import Probes
    from preflight.engine.plan import Plan

MAX_ADDRESSES_TRIED = 3  # a silent name with many addresses must not cost many timeouts before the run starts


async def look_up(plan: Plan, ctx: Probes, given: TenantInput) -> TenantResolution:
    """Ask the profile's sign-in authority for the tenant of `given.domain`, on the route and resolution the run
    uses for that host (the run's probes: the checks reuse what it resolved), verifying TLS against this host's
    trust store."""
    import ssl

    assert given.domain is not None
    url = discovery_url(plan.profile.tenant.authority, given.domain)
    os_trust = ssl.create_default_context()  # this host's store: Windows' ROOT store, OpenSSL's paths elsewhere

    async def fetch_one(address_url: str) -> HttpFetch:
        parts = urlsplit(address_url)
        host, port = parts.hostname or "", parts.port or 443
        route = plan.proxy.route(host, port, tls=True)
        if route.proxy is not None:
            return await ctx.http(
                address_url,
                f"via {route.proxy.display}",
                host=host,
                proxy=route.proxy,
                ssl_context=os_trust,
                max_body=MAX_DOCUMENT,
            )
        if is_ip_literal(host):
            addresses = [host]
        else:
            resolution = await ctx.resolve(host)
            addresses = usable_addresses(host, resolution.addresses)[0]
            if not addresses:
                return HttpFetch(
                    address_url,
                    "",
                    "GET",
                    "dns_error",
                    error=f"{host} did not resolve to a usable "
                    f"address ({', '.join(resolution.addresses) or 'no answer'})",
                )
        answer = None
        for address in sorted(addresses, key=lambda a: ":" in a)[:MAX_ADDRESSES_TRIED]:
            answer = await ctx.http(address_url, address, host=host, ssl_context=os_trust, max_body=MAX_DOCUMENT)
            if answer.outcome not in ("timeout", "refused", "error"):
                break
        assert answer is not None
        return answer

    host = urlsplit(url).hostname or ""
    first_route = plan.proxy.route(host, urlsplit(url).port or 443, tls=True)
    route = "direct" if first_route.proxy is None else f"via {first_route.proxy.display}"
    discovery = await discover(url, fetch_one, route=route, trust="os")
    return TenantResolution("domain", given.text, resolved_guid(discovery), discovery)
