"""`dns.resolve`: can this host resolve each required name, and is the answer believable?"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from preflight import CodeDoc, Codes, Finding, ObservingCheck, Status, Target
from preflight.host import hostsfile
from preflight.netutil import is_ip_literal, is_special_use_name, is_unspecified, sinkhole_kind

if TYPE_CHECKING:
    from preflight import Plan
    from preflight.context import Context
    from preflight.host.hostsfile import HostsEntry
    from preflight.probes.dns import OverTcp, Resolution, ServerAnswer

CODES = Codes(
    {
        "dns.ok": CodeDoc(
            Status.PASS,
            "The name resolves to addresses that look like public service addresses.",
            "getaddrinfo (the path the connector uses) returned addresses; with --dns-server, those servers did.",
            "Nothing to do.",
        ),
        "dns.nxdomain": CodeDoc(
            Status.FAIL,
            "The resolver says the name does not exist (NXDOMAIN).",
            "A DNS server answered rcode NXDOMAIN (or getaddrinfo failed with EAI_NONAME / WSAHOST_NOT_FOUND).",
            "Check the spelling and the tenant ID; make sure the host's DNS servers forward public names (a "
            "conditional forwarder or split-horizon zone for the domain can hide the public records).",
        ),
        "dns.nodata": CodeDoc(
            Status.FAIL,
            "The name exists but has no A or AAAA records.",
            "Every server answered NOERROR with no address records (NODATA) for both A and AAAA.",
            "A local zone or DNS filter probably overrides the name without addresses; make the resolver forward it.",
        ),
        "dns.servfail": CodeDoc(
            Status.FAIL,
            "The resolver failed to resolve the name (SERVFAIL or a temporary failure).",
            "A server answered SERVFAIL, or getaddrinfo failed with EAI_AGAIN / WSATRY_AGAIN.",
            "The resolver cannot reach upstream DNS or DNSSEC validation failed: check its forwarders and logs.",
        ),
        "dns.refused": CodeDoc(
            Status.FAIL,
            "The DNS server refused to answer the query.",
            "A server answered rcode REFUSED.",
            "The server does not serve recursion to this host: use the resolver this host is meant to use, or "
            "allow it.",
        ),
        "dns.timeout": CodeDoc(
            Status.FAIL,
            "No DNS answer arrived in time.",
            "The query (or getaddrinfo) did not complete within --timeout.",
            "Check that UDP and TCP 53 to the configured DNS servers are allowed and that those servers are up.",
        ),
        "dns.unreachable": CodeDoc(
            Status.FAIL,
            "Nothing answers DNS at the configured server: its port is closed or a firewall rejects UDP 53 (an ICMP "
            "port unreachable came back), or this host's own firewall refused to send the query.",
            "The DNS query's receive failed with ICMP port unreachable (ECONNREFUSED; on Windows WSAECONNRESET 10054 "
            "or ERROR_PORT_UNREACHABLE 1234), or its send with EPERM/EACCES (on Windows WSAEACCES 10013).",
            "Check the DNS server address this host uses (or --dns-server) and that UDP and TCP 53 to it are allowed, "
            "by this host's firewall too.",
        ),
        "dns.bad_response": CodeDoc(
            Status.FAIL,
            "The DNS server sent a response that cannot be used (malformed, looping or overlong CNAME chain).",
            "dnspython rejected the response, or the CNAME chain looped or exceeded 16 hops.",
            "Inspect the resolver's configuration for the name (the evidence holds the chain it returned).",
        ),
        "dns.error": CodeDoc(
            Status.FAIL,
            "Name resolution failed with a local error.",
            "getaddrinfo or the socket layer failed with an error that is not a DNS answer.",
            "Read the error in the evidence; check the host's resolver configuration.",
        ),
        "dns.sinkhole": CodeDoc(
            Status.WARN,
            "A public name answered with 0.0.0.0, a loopback, private (RFC 1918), CGNAT or link-local address: the "
            "name may be split-horizon (a private endpoint) or blocked by a DNS filter.",
            "An answer address falls in 0.0.0.0/8, 127.0.0.0/8, 10/8, 172.16/12, 192.168/16, 100.64/10, 169.254/16, "
            "::, ::1, fc00::/7 or fe80::/10 (0.0.0.0 and :: for any name).",
            "If you did not set up a private endpoint for this name, ask the DNS team to remove the override or the "
            "DNS-filter block so the public records are returned.",
        ),
        "dns.local_override": CodeDoc(
            Status.WARN,
            "The system resolves the name, but DNS does not: the answer comes from the hosts file (or another local "
            "source). Pinned addresses go stale when Microsoft moves the service.",
            "getaddrinfo returned addresses while every per-server DNS query said NXDOMAIN or had no records.",
            "Remove the hosts-file entry (C:\\Windows\\System32\\drivers\\etc\\hosts or /etc/hosts) and let DNS "
            "answer; if it is there on purpose, make sure it is kept current.",
        ),
        "dns.hosts_override": CodeDoc(
            Status.WARN,
            "The hosts file maps the name to addresses DNS does not give: the connector uses the hosts file's, which "
            "go stale when Microsoft moves the service (a classic connector failure).",
            "A hosts-file line names the host, and its addresses are not among the configured DNS servers' answers; "
            "the line, both answers and the file are in the evidence.",
            "Remove the line named in the evidence from the hosts file (C:\\Windows\\System32\\drivers\\etc\\hosts or "
            "/etc/hosts) and let DNS answer; if it is there on purpose, update it to what DNS gives.",
        ),
        "dns.partial": CodeDoc(
            Status.WARN,
            "The name resolves, but only part of the lookup is answered: the A query got addresses and the AAAA "
            "query (or the other family's) got no answer in time, so the system resolver finishes only after its "
            "own timeout. The connector gets the addresses, late, on every lookup.",
            "getaddrinfo did not finish within --timeout while a configured DNS server answered one query type "
            "with addresses and the other timed out; those addresses are used for the TCP checks.",
            "Find what drops the unanswered query type (a firewall or DNS filter dropping AAAA queries is the "
            "usual cause) and make it answer, even with no records: an empty answer costs nothing, silence costs "
            "the resolver's timeout.",
        ),
        "dns.inconsistent": CodeDoc(
            Status.WARN,
            "The name resolved, but at least one configured DNS server failed or disagreed.",
            "Some per-server queries returned addresses while others timed out, failed or said NXDOMAIN.",
            "Fix or remove the failing DNS server: the OS will try it first at times, making lookups slow or "
            "intermittently failing.",
        ),
    }
)

_FAILURE_PRIORITY = ("nxdomain", "servfail", "refused", "timeout", "unreachable", "bad_response", "error")
_SYSTEM_ERRORS = {
    "noname": "dns.nxdomain",
    "nodata": "dns.nodata",
    "again": "dns.servfail",
    "fail": "dns.servfail",
    "timeout": "dns.timeout",
    "error": "dns.error",
}


def judge(resolution: Resolution, hosts: tuple[str, list[HostsEntry]] = ("", []), *, proxied: bool = False) -> Finding:
    """The verdict on one name, from what both resolution paths observed, the hosts file's lines for it
    ((file, entries)) and whether every port of the host goes through a proxy (which then resolves the name: a
    local failure only matters for direct paths, so it is a warning). Pure."""
    finding = _judge_resolution(resolution, hosts)
    if proxied and finding.status == Status.FAIL:
        return dataclasses.replace(
            finding,
            status=Status.WARN,
            summary=finding.summary + " (only a warning: every port of this host goes through the proxy)",
        )
    return finding


def _judge_resolution(resolution: Resolution, hosts: tuple[str, list[HostsEntry]]) -> Finding:
    evidence: dict[str, Any] = resolution.to_json()
    host = resolution.host
    public = not is_special_use_name(host)
    evidence["public_name"] = public
    where = _where(resolution)
    hosts_file, entries = hosts
    if entries:
        evidence["hosts_file"] = {"path": hosts_file, "entries": [e.to_json() for e in entries]}

    chain = cname_chain(resolution)
    if chain:
        evidence["cname_chain"] = chain
    if not resolution.addresses:
        code = _failure_code(resolution)
        detail = _failure_detail(resolution)
        if chain:  # the link a filter or a broken zone cut: the last name of the chain is the one that failed
            evidence["broken_at"] = chain[-1]
            detail += f"; CNAME chain {' → '.join(chain)}: {chain[-1]} is the name that failed"
        return CODES.finding(code, f"{host}: {detail}", evidence)

    from_dns = {a for answer in resolution.servers for a in answer.addresses}
    pinned = [e for e in entries if e.address not in from_dns]
    if pinned and from_dns:
        first = pinned[0]
        evidence["hosts_override"] = {"hosts": sorted({e.address for e in entries}), "dns": sorted(from_dns)}
        return CODES.finding(
            "dns.hosts_override",
            f"{host}: the hosts file ({hosts_file}:{first.line}) says {first.address}; DNS says "
            + ", ".join(sorted(from_dns)[:4])
            + (", ..." if len(from_dns) > 4 else ""),
            evidence,
        )

    odd = {a: kind for a in resolution.addresses if (kind := _sinkhole(a, public))}
    if odd:
        evidence["sinkhole"] = odd
        listed = ", ".join(f"{a} ({kind})" for a, kind in odd.items())
        through = f" through the CNAME chain {' → '.join(chain)}" if chain else ""
        return CODES.finding("dns.sinkhole", f"{host} resolves to {listed}{through} {where}", evidence)

    dns_silent = resolution.servers and all(a.outcome in ("nxdomain", "nodata") for a in resolution.servers)
    if resolution.source == "system" and dns_silent:
        evidence["local_override"] = True
        origin = (
            f"the hosts file ({hosts_file}:{entries[0].line})" if entries else "the hosts file or another local source"
        )
        return CODES.finding(
            "dns.local_override",
            f"{host} → {', '.join(resolution.addresses)} from {origin}; DNS says "
            + ", ".join(sorted({a.outcome.upper() for a in resolution.servers})),
            evidence,
        )

    failing = [a for a in resolution.servers if a.outcome in _FAILURE_PRIORITY]
    half = _half_answered(resolution)
    if resolution.from_answers or half:
        silent = ", ".join(half or sorted({f"{a.qtype} to {a.server}" for a in failing}) or ["a query"])
        answered = ", ".join(resolution.addresses[:4]) + (", ..." if len(resolution.addresses) > 4 else "")
        system = resolution.system
        if resolution.from_answers:
            how = f"so the system resolver did not finish ({system.error_text if system else 'timeout'})"
        elif system is not None and system.elapsed_ms:
            how = f"the system resolver answered after waiting for it ({system.elapsed_ms} ms)"
        else:
            how = "every lookup waits for that query's timeout"
        where_from = "from the DNS answers" if resolution.from_answers else where
        return CODES.finding("dns.partial", f"{host} → {answered} {where_from}; {silent}: no answer, {how}", evidence)
    if failing:
        listed = ", ".join(f"{a.server} {a.qtype}: {a.outcome}" for a in failing)
        return CODES.finding(
            "dns.inconsistent", f"{host} resolved {where}, but some DNS queries failed: {listed}", evidence
        )

    count = len(resolution.addresses)
    shown = ", ".join(resolution.addresses[:4]) + (", ..." if count > 4 else "")
    more = f"; {resolution.not_probed:,} more addresses in the answer are not probed" if resolution.not_probed else ""
    return CODES.finding("dns.ok", f"{host} → {shown} {where}{more}", evidence)


def _half_answered(resolution: Resolution) -> list[str]:
    """'AAAA to server' for each server that answered one query type with addresses and never answered the
    other: a filter dropping one type (not a server that is down, nor servers that disagree)."""
    by_server: dict[str, dict[str, ServerAnswer]] = {}
    for answer in resolution.servers:
        by_server.setdefault(answer.server, {})[answer.qtype] = answer
    half = []
    for server, answers in by_server.items():
        if any(a.outcome == "answer" and a.addresses for a in answers.values()):
            half += [f"{q} to {server}" for q, a in sorted(answers.items()) if a.outcome == "timeout"]
    return half


def cname_chain(resolution: Resolution) -> list[str]:
    """The name and every CNAME target after it, from the longest chain any server answered (a → b → c)."""
    longest = max((a.cnames for a in resolution.servers), key=len, default=())
    if not longest:
        return []
    chain = [longest[0][0]]
    for _owner, target, _ttl in longest:
        chain.append(target)
    return chain


def _sinkhole(address: str, public: bool) -> str | None:
    if is_unspecified(address):
        return "unspecified"
    return sinkhole_kind(address) if public else None


def _failure_code(resolution: Resolution) -> str:
    outcomes = {a.outcome for a in resolution.servers}
    for outcome in _FAILURE_PRIORITY:
        if outcome in outcomes:
            return f"dns.{outcome}"
    if outcomes and outcomes <= {"nodata", "answer"}:
        return "dns.nodata"
    if resolution.system is not None and resolution.system.error:
        return _SYSTEM_ERRORS.get(resolution.system.error, "dns.error")
    return "dns.error"


def _failure_detail(resolution: Resolution) -> str:
    parts: list[str] = []
    if resolution.system is not None:
        parts.append(f"system resolver: {resolution.system.error_text or resolution.system.error}")
    by_outcome: dict[str, list[ServerAnswer]] = {}
    for answer in resolution.servers:
        by_outcome.setdefault(answer.outcome, []).append(answer)
    for outcome, answers in by_outcome.items():
        servers = sorted({a.server for a in answers})
        label = {"nodata": "no A/AAAA records"}.get(outcome, outcome.upper() if outcome != "bad_response" else outcome)
        parts.append(f"{label} from {', '.join(servers)}")
    return "; ".join(parts) if parts else "no answer"


def _where(resolution: Resolution) -> str:
    if resolution.source == "system":
        return "via the system resolver"
    return f"via {', '.join(resolution.nameservers)}"


@dataclasses.dataclass(frozen=True)
class DnsObserved:
    """What `observe` saw for one name: both resolution paths, the hosts file's lines for it, whether every port
    of the host goes through a proxy (which then resolves the name itself), and, for each resolver that gave
    this name no answer at all, what TCP 53 showed of it."""

    resolution: Resolution
    hosts_file: str = ""
    hosts_entries: tuple[HostsEntry, ...] = ()
    proxied: bool = False
    over_tcp: tuple[OverTcp, ...] = ()


async def observe(target: Target, ctx: Context) -> DnsObserved:
    file, entries = ctx.hosts_file()
    ports = {p for e in ctx.endpoints_for(target.host) for p in e.ports}
    proxied = bool(ports) and all(not ctx.route(target.host, p).direct for p in ports)
    resolution = await ctx.resolve(target.host)
    over_tcp = []
    for server in silent_servers(resolution):
        found = await ctx.resolver_over_tcp(server)
        if found is not None:
            over_tcp.append(found)
    entries_for = tuple(hostsfile.entries_for(entries, target.host))
    return DnsObserved(resolution, file, entries_for, proxied, tuple(over_tcp))


def silent_servers(resolution: Resolution) -> list[str]:
    """The resolvers that gave no query of this name a DNS response (each timed out, or came back unreachable)."""
    outcomes: dict[str, set[str]] = {}
    for answer in resolution.servers:
        outcomes.setdefault(answer.server, set()).add(answer.outcome)
    return [server for server, seen in outcomes.items() if seen <= {"timeout", "unreachable"}]


def judge_observed(seen: DnsObserved) -> Finding:
    """The verdict on one name from what `observe` saw. Pure."""
    finding = judge(seen.resolution, (seen.hosts_file, list(seen.hosts_entries)), proxied=seen.proxied)
    if not seen.over_tcp:
        return finding
    evidence = {**finding.evidence, "over_tcp": [probe.to_json() for probe in seen.over_tcp]}
    summary = finding.summary
    if not seen.resolution.addresses:
        summary += "; " + "; ".join(probe.describe() for probe in seen.over_tcp)
    return dataclasses.replace(finding, summary=summary, evidence=evidence)


class DnsResolveCheck(ObservingCheck[DnsObserved]):
    id = "dns.resolve"
    title = "DNS resolution of each required name (system path and per-server detail)"
    requires = "DNS: the system resolver, or the servers given with --dns-server"
    needs: tuple[str, ...] = ()
    codes = CODES

    def targets(self, plan: Plan) -> Iterable[Target]:
        return [t for t in plan.host_targets() if not is_ip_literal(t.host)]

    observe = staticmethod(observe)
    judge = staticmethod(judge_observed)
