"""The tenant a run is for: a GUID as given, a domain looked up in the cloud's OpenID discovery document, or the
tenant of the connector installed on this host. This module holds what is found and how a discovery document is
read; `lookup.py` asks for one over the run's route.

The lookup is itself a probe of the sign-in path the connector registers through: it takes the run's route
(direct, or the proxy the run uses), the run's name resolution and --timeout, verifies TLS against this host's
trust store (what the connector's Windows components do), and reads at most MAX_DOCUMENT bytes. What it asked and
what came back are kept as evidence; the `tenant.resolve` check judges them (checks/tenant.py).
"""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

from preflight.errors import UsageError
from preflight.probes.http import FetchOutcome, HttpFetch, page_title

MAX_DOCUMENT = 1024 * 1024  # a real discovery document is about 2 KB
MAX_REDIRECTS = 5
GUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$")
# What the document says about where the tenant lives, kept verbatim in the evidence.
DOCUMENT_FACTS = (
    "issuer",
    "token_endpoint",
    "tenant_region_scope",
    "tenant_region_sub_scope",
    "cloud_instance_name",
    "cloud_graph_host_name",
    "msgraph_host",
)


@dataclasses.dataclass(frozen=True)
class TenantInput:
    """--tenant-id as given: a GUID, or a domain of the tenant to look up."""

    text: str
    guid: str | None = None
    domain: str | None = None


def parse_tenant_option(value: str) -> TenantInput:
    text = value.strip()
    try:
        return TenantInput(text, guid=str(uuid.UUID(text)))
    except ValueError:
        pass
    domain = text.lower().rstrip(".")
    if _DOMAIN_RE.match(domain) and domain.isascii():
        return TenantInput(text, domain=domain)
    raise UsageError(
        f"--tenant-id {value!r}: not a tenant ID (a GUID like 00000000-0000-0000-0000-000000000000) "
        "or a domain of the tenant (contoso.onmicrosoft.com)"
    )


def discovery_url(authority: str, tenant: str) -> str:
    return f"{authority.rstrip('/')}/{tenant}/v2.0/.well-known/openid-configuration"


@dataclasses.dataclass(frozen=True)
class Document:
    """What a discovery answer says, or why it says nothing usable (`problem`)."""

    guid: str | None = None
    facts: dict[str, Any] = dataclasses.field(default_factory=dict)
    problem: str | None = None  # not_found | not_json | no_guid | guid_mismatch | http_status | too_large
    detail: str | None = None


def interpret(fetch: HttpFetch) -> Document:
    """The tenant GUID and cloud facts in one HTTP answer. Pure: every oddity is a `problem`, never an exception."""
    if fetch.truncated:
        return Document(problem="too_large", detail=f"the answer is larger than {MAX_DOCUMENT} bytes")
    try:
        data = json.loads(fetch.body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        title = page_title(fetch.body)
        detail = f"an HTML page titled {title!r}" if title else f"{len(fetch.body)} bytes that are not JSON"
        if fetch.status != 200:
            return Document(problem="http_status", detail=f"HTTP {fetch.status}: {detail}")
        return Document(problem="not_json", detail=detail)
    if not isinstance(data, dict):
        return Document(problem="not_json", detail="JSON, but not an object")
    if fetch.status != 200:
        error = str(data.get("error", ""))[:100]
        description = str(data.get("error_description", ""))[:300]
        if error == "invalid_tenant" or "AADSTS90002" in description:
            return Document(problem="not_found", detail=description.split("\r\n")[0] or error)
        return Document(problem="http_status", detail=f"HTTP {fetch.status}: {error or 'no error code'}")
    facts = {key: data[key] for key in DOCUMENT_FACTS if isinstance(data.get(key), (str, type(None))) and key in data}
    guids = {}
    for key in ("issuer", "token_endpoint"):
        value = data.get(key)
        if isinstance(value, str):
            match = GUID_RE.search(urlsplit(value).path)
            if match:
                guids[key] = match.group(0).lower()
    if not guids:
        return Document(facts=facts, problem="no_guid", detail="neither issuer nor token_endpoint holds a tenant GUID")
    if len(set(guids.values())) > 1:
        return Document(
            facts=facts, problem="guid_mismatch", detail=f"issuer and token_endpoint name different tenants: {guids}"
        )
    return Document(guid=next(iter(guids.values())), facts=facts)


@dataclasses.dataclass(frozen=True)
class Discovery:
    """The lookup of a tenant domain: every request made (redirects included) and the last answer."""

    url: str
    route: str  # "direct" or "via <proxy>"
    trust: str  # the trust store TLS was verified with
    requests: tuple[dict[str, Any], ...]
    outcome: FetchOutcome | Literal["answer", "insecure_redirect", "redirect_loop", "too_many_redirects"]
    document: Document | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "url": self.url,
            "route": self.route,
            "trust": self.trust,
            "requests": list(self.requests),
            "outcome": self.outcome,
        }
        if self.error:
            data["error"] = self.error
        if self.document is not None:
            data["document"] = dict(self.document.facts)
            if self.document.problem:
                data["problem"] = self.document.problem
                data["problem_detail"] = self.document.detail
        return data


Fetcher = Callable[[str], Awaitable[HttpFetch]]


async def discover(url: str, fetch: Fetcher, *, route: str, trust: str) -> Discovery:
    """GET the discovery document, following at most MAX_REDIRECTS https redirects. `fetch` does one request on
    the run's route and resolution; a redirect loop or a redirect off https is an answer, not a hang."""
    requests: list[dict[str, Any]] = []
    seen = {url}
    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        answer = await fetch(current)
        record = answer.to_json()
        record.pop("method", None)
        requests.append(record)
        if answer.outcome != "response":
            return Discovery(url, route, trust, tuple(requests), answer.outcome, error=answer.error)
        if answer.status in (301, 302, 303, 307, 308) and answer.location:
            following = urljoin(current, answer.location)
            if not following.lower().startswith("https://"):
                return Discovery(
                    url,
                    route,
                    trust,
                    tuple(requests),
                    "insecure_redirect",
                    error=f"redirected off https to {following[:200]}",
                )
            if following in seen:
                return Discovery(
                    url, route, trust, tuple(requests), "redirect_loop", error=f"redirected back to {following[:200]}"
                )
            seen.add(following)
            current = following
            continue
        return Discovery(url, route, trust, tuple(requests), "answer", interpret(answer))
    return Discovery(
        url, route, trust, tuple(requests), "too_many_redirects", error=f"more than {MAX_REDIRECTS} redirects"
    )


@dataclasses.dataclass(frozen=True)
class TenantResolution:
    """Where the run's tenant came from, and what the tool saw while finding it."""

    source: str  # none | guid (given) | domain (looked up) | host (installed connector)
    given: str | None = None
    guid: str | None = None
    discovery: Discovery | None = None
    host: dict[str, Any] | None = None  # the installed connector's evidence (preflight.host.installed)
    host_problem: str | None = None  # an installed connector whose tenant could not be read
    ended: str | None = None  # run.deadline / run.interrupted: the run ended before the lookup did

    @property
    def judged(self) -> bool:
        """Whether there is anything for `tenant.resolve` to judge (a lookup, or an installed connector)."""
        return self.source in ("domain", "host") or self.host_problem is not None


def resolved_guid(discovery: Discovery) -> str | None:
    return discovery.document.guid if discovery.document is not None else None
