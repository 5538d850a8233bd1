"""`tenant.resolve`: which tenant the run probes the connector service for, and what finding it out showed.

A domain given with --tenant-id is looked up in the cloud's OpenID discovery document before the other checks
are planned (preflight/tenant/discovery.py), over the run's own route: the lookup is a probe of the sign-in path. An
installed connector's tenant is read from its certificate (preflight/host/installed.py). This check judges what was
observed; a GUID given directly is used as it is and judged by nothing here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from preflight import CodeDoc, Codes, Finding, ObservingCheck, Status, Target
from preflight.codes import ENGINE_CODES

if TYPE_CHECKING:
    from preflight import Plan
    from preflight.context import Context
    from preflight.tenant.discovery import Discovery, TenantResolution

TARGET = "tenant"

CODES = Codes(
    {
        "tenant.ok": CodeDoc(
            Status.PASS,
            "The sign-in service's discovery document names the tenant of the domain given, in the profile's cloud.",
            "GET <authority>/<domain>/v2.0/.well-known/openid-configuration over the run's route, TLS verified "
            "against this host's trust store; the GUID is taken from its issuer and token_endpoint.",
            "Nothing to do.",
        ),
        "tenant.from_host": CodeDoc(
            Status.PASS,
            "The tenant was read from the connector installed on this host (its client certificate).",
            "TrustSettings.xml names the connector's certificate; its subject is CN=<tenant ID>.",
            "Nothing to do.",
        ),
        "tenant.other_cloud": CodeDoc(
            Status.FAIL,
            "The tenant lives in another cloud than the selected profile's (for example US Government): the run "
            "probes service endpoints this tenant's connectors never use.",
            "The discovery document's cloud_instance_name differs from the profile's [tenant] cloud_instance_name.",
            "Run again with the profile named in the summary (e.g. --profile azure-government).",
        ),
        "tenant.not_found": CodeDoc(
            Status.FAIL,
            "The sign-in service says no tenant has this domain (AADSTS90002): a typo, or a domain not verified in "
            "any tenant.",
            "The discovery request was answered with error invalid_tenant / AADSTS90002.",
            "Check the domain (Entra admin center > Settings > Domain names), or give the tenant ID (a GUID: "
            "Entra admin center > Overview > Tenant ID).",
        ),
        "tenant.bad_response": CodeDoc(
            Status.FAIL,
            "Something answered the discovery request, but not with a discovery document (an HTML page, a redirect "
            "loop, an answer without a tenant GUID, an oversized body): often a proxy block page or captive portal on "
            "the sign-in path.",
            "The answer was not a JSON discovery document naming one tenant GUID; the requests and the answer's "
            "title or problem are in the evidence.",
            "Find what answers for the sign-in host on this path (see the evidence) and let the connector reach "
            "Microsoft's sign-in service; meanwhile give the tenant ID as a GUID.",
        ),
        "tenant.unreachable": CodeDoc(
            Status.FAIL,
            "The sign-in service could not be asked: its name did not resolve, the connection failed or timed out, "
            "or the proxy refused it. The connector registers through this same service.",
            "The discovery request ended without an HTTP answer; the failure is in the evidence.",
            "Fix the sign-in endpoint's findings (dns.resolve, tcp.connect or proxy.tunnel for it) or give the "
            "tenant ID as a GUID to test the rest.",
        ),
        "tenant.tls_error": CodeDoc(
            Status.FAIL,
            "TLS to the sign-in service failed verification against this host's trust store: something in the path "
            "presents a certificate this host does not trust for that name (typically TLS inspection).",
            "The discovery request's TLS handshake failed certificate verification (the OS trust store, as the "
            "connector's Windows components use).",
            "Exempt the sign-in endpoints from TLS inspection (see tls.interception for the same host), or install "
            "the missing root only if the path is legitimately yours.",
        ),
        "tenant.host_unreadable": CodeDoc(
            Status.WARN,
            "A connector is installed on this host, but its tenant could not be read (a corrupt TrustSettings.xml, "
            "a missing certificate, access denied).",
            "TrustSettings.xml or the certificate it names could not be read or parsed; the path and the problem are "
            "in the evidence.",
            "Run as an administrator, or give the tenant with --tenant-id; a missing or unreadable certificate also "
            "stops the connector itself (re-register it with Register-AppProxyConnector).",
        ),
    }
)

_UNREACHABLE = {"timeout", "refused", "reset", "error", "proxy_error", "dns_error"}
_BAD_RESPONSE = {"redirect_loop", "insecure_redirect", "too_many_redirects"}


def judge(resolution: TenantResolution, profile_cloud: str, clouds: Mapping[str, str]) -> Finding:
    """The verdict on how the tenant was found. `clouds` maps a cloud_instance_name to the profile for it."""
    if resolution.source == "host" or resolution.host_problem:
        return _judge_host(resolution)
    if resolution.discovery is None:  # the run ended (deadline, signal) before the lookup did
        code = resolution.ended or "run.interrupted"
        doc = ENGINE_CODES[code]
        summary = f"the lookup of {resolution.given} did not finish"
        return Finding(doc.status, code, summary, {"given": resolution.given}, doc.remediation)
    return judge_discovery(resolution.given or "", resolution.discovery, profile_cloud, clouds)


def judge_discovery(given: str, discovery: Discovery, profile_cloud: str, clouds: Mapping[str, str]) -> Finding:
    evidence: dict[str, Any] = {"given": given, "discovery": discovery.to_json()}
    where = discovery.url.split("/")[2]
    if discovery.outcome == "tls_error":
        return CODES.finding(
            "tenant.tls_error",
            f"TLS to {where} failed verification ({_short(discovery.error)}), {discovery.route}",
            evidence,
        )
    if discovery.outcome in _UNREACHABLE:
        return CODES.finding(
            "tenant.unreachable",
            f"could not ask {where} for {given}: {discovery.outcome} ({_short(discovery.error)}), {discovery.route}",
            evidence,
        )
    if discovery.outcome in _BAD_RESPONSE or discovery.document is None:
        return CODES.finding(
            "tenant.bad_response",
            f"{where} did not answer with a discovery document: {_short(discovery.error) or discovery.outcome}",
            evidence,
        )
    document = discovery.document
    if document.problem == "not_found":
        return CODES.finding(
            "tenant.not_found", f"{where} knows no tenant for {given}: {_short(document.detail)}", evidence
        )
    if document.problem is not None or document.guid is None:
        return CODES.finding(
            "tenant.bad_response",
            f"{where} answered, but not with a usable discovery document: "
            f"{_short(document.detail) or document.problem}",
            evidence,
        )
    evidence["tenant_id"] = document.guid
    cloud = str(document.facts.get("cloud_instance_name") or "").lower()
    region = document.facts.get("tenant_region_scope")
    where_it_lives = f"cloud {cloud or 'not stated'}, region {region or 'not stated'}"
    if cloud and cloud != profile_cloud.lower():
        suggestion = clouds.get(cloud)
        fix = f"run with --profile {suggestion}" if suggestion else f"no embedded profile is for {cloud}"
        evidence["suggested_profile"] = suggestion
        return CODES.finding(
            "tenant.other_cloud",
            f"{given} is tenant {document.guid} in {cloud}, not this profile's {profile_cloud}: {fix}",
            evidence,
        )
    return CODES.finding(
        "tenant.ok", f"{given} is tenant {document.guid} ({where_it_lives}), looked up {discovery.route}", evidence
    )


def _judge_host(resolution: TenantResolution) -> Finding:
    evidence = dict(resolution.host or {})
    if resolution.host_problem is not None:
        return CODES.finding(
            "tenant.host_unreadable",
            f"installed connector found, tenant not readable: {_short(resolution.host_problem, 200)}",
            evidence,
        )
    where = evidence.get("certificate_location", "its certificate")
    return CODES.finding(
        "tenant.from_host", f"tenant {resolution.guid} from the installed connector's certificate ({where})", evidence
    )


def _short(text: str | None, limit: int = 160) -> str:
    if not text:
        return ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclasses.dataclass(frozen=True)
class TenantObserved:
    """How the run found its tenant (the lookup made before the checks were planned), the cloud this profile is
    for, and the embedded profile of each cloud (for the one to use instead)."""

    resolution: TenantResolution
    profile_cloud: str
    clouds: Mapping[str, str]


async def observe(target: Target, ctx: Context) -> TenantObserved:
    from preflight import profile as profile_mod

    assert ctx.tenant is not None
    clouds: dict[str, str] = {}
    for name in profile_mod.embedded_names():
        clouds.setdefault(profile_mod.load(name).tenant.cloud_instance_name, name)
    return TenantObserved(ctx.tenant, ctx.cloud_instance_name, clouds)


def judge_observed(seen: TenantObserved) -> Finding:
    return judge(seen.resolution, seen.profile_cloud, seen.clouds)


class TenantResolveCheck(ObservingCheck[TenantObserved]):
    id = "tenant.resolve"
    title = "The tenant whose service endpoints are probed: a domain looked up, or an installed connector's"
    requires = "--tenant-id DOMAIN (a lookup at the profile's sign-in authority), or an installed connector"
    needs: tuple[str, ...] = ()
    codes = CODES

    def targets(self, plan: Plan) -> Iterable[Target]:
        if plan.tenant is None or not plan.tenant.judged:
            return []
        return [Target(host=TARGET)]

    observe = staticmethod(observe)
    judge = staticmethod(judge_observed)
