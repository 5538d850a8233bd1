"""`tcp.connect`: can this host open a TCP connection to each required host and port, on every address?"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from preflight import CodeDoc, Codes, Finding, ObservingCheck, Status, Target, lazy
from preflight.netutil import family_name, usable_addresses

if TYPE_CHECKING:
    import asyncio
else:
    asyncio = lazy.module("asyncio")


if TYPE_CHECKING:
    from preflight import Plan
    from preflight.context import Context
    from preflight.probes.tcp import ConnectAttempt

CODES = Codes(
    {
        "tcp.open": CodeDoc(
            Status.PASS,
            "A TCP connection opened on every address of the host.",
            "connect() completed on each resolved address (latency in the evidence).",
            "Nothing to do.",
        ),
        "tcp.partial": CodeDoc(
            Status.WARN,
            "The host is reachable on this port through some of its addresses but not all (often IPv6 broken, "
            "IPv4 fine).",
            "At least one address connected and at least one failed; each address's outcome is in the evidence.",
            "Fix the failing path (commonly: allow the port for IPv6 too, or disable IPv6 on a host without IPv6 "
            "connectivity) so the connector does not stall on the broken addresses.",
        ),
        "tcp.refused": CodeDoc(
            Status.FAIL,
            "The connection was actively refused (TCP reset, or ICMP port unreachable).",
            "connect() failed with ECONNREFUSED / WSAECONNREFUSED on every address.",
            "A firewall rejects the port, or a proxy/DNS override sends the name to a host with nothing listening: "
            "allow outbound TCP to the host and port.",
        ),
        "tcp.filtered": CodeDoc(
            Status.FAIL,
            "Nothing answered: the connection attempt timed out, typical of a firewall DROP rule.",
            "connect() had neither succeeded nor failed within --timeout on every address.",
            "Allow outbound TCP to the host and port on every firewall in the path (host firewall, perimeter, cloud "
            "NSG); if the host must use a proxy, configure it (the connector does not find a proxy by itself "
            "without WPAD or its .exe.config).",
        ),
        "tcp.unreachable": CodeDoc(
            Status.FAIL,
            "A router reported the destination unreachable or administratively prohibited (ICMP), or this host "
            "has no route to it.",
            "connect() failed with EHOSTUNREACH/ENETUNREACH (or EACCES with an ICMPv6 report); on Linux the ICMP "
            "type, code and the rejecting router's address are read with IP_RECVERR. ENETUNREACH without any ICMP "
            "means this host has no route (outcome no_route in the evidence).",
            "Ask the owner of the router named in the evidence (icmp.offender) to allow the traffic, or fix the "
            "host's routing (default gateway).",
        ),
        "tcp.local_block": CodeDoc(
            Status.FAIL,
            "This host itself refused to send the connection (local firewall policy or a local reject route).",
            "connect() failed with EACCES/EPERM without any ICMP report, EINVAL from a local blackhole route, or an "
            "ICMP reject whose sender is one of this host's own addresses (a local nftables/iptables REJECT). A local "
            "DROP rule cannot be told apart from a remote one on Linux: it shows as tcp.filtered.",
            "Allow the outbound connection in this host's firewall (Windows Defender Firewall, nftables, endpoint "
            "security) or remove the local route.",
        ),
        "tcp.error": CodeDoc(
            Status.FAIL,
            "The connection failed with an unexpected local error.",
            "connect() failed with an error number not classified above (it is in the evidence).",
            "Read the error in the evidence.",
        ),
        "tcp.no_address": CodeDoc(
            Status.SKIP,
            "No usable address to connect to: the name did not resolve, or only to 0.0.0.0 / loopback.",
            "DNS gave no address, or only unspecified addresses (any name) or loopback addresses (public names).",
            "Fix name resolution first (see the dns.resolve result named in caused_by).",
        ),
    }
)

# When every address failed, name the most actionable failure.
_FAILURE_PRIORITY = ("local_block", "unreachable", "no_route", "refused", "filtered", "error")
_CODE_OF = {"no_route": "tcp.unreachable"}


@dataclasses.dataclass(frozen=True)
class TcpObserved:
    """What `observe` saw for one host and port: one connect per usable address (IPv4 first), the addresses left
    out and why, and, when there was nothing to connect to, the dns.resolve result that explains it."""

    host: str
    port: int
    attempts: tuple[ConnectAttempt, ...] = ()
    ignored: tuple[str, ...] = ()  # unspecified addresses, or loopback ones for a public name: they test this host
    resolved: tuple[str, ...] = ()  # every address the name resolved to
    dns_result: str | None = None  # the dns.resolve result this target depends on (for caused_by)


async def observe(target: Target, ctx: Context) -> TcpObserved:
    assert target.port is not None
    resolution = await ctx.resolve(target.host)
    usable, ignored = usable_addresses(target.host, resolution.addresses)
    seen = TcpObserved(target.host, target.port, ignored=tuple(ignored), resolved=tuple(resolution.addresses))
    if not usable:
        return dataclasses.replace(seen, dns_result=ctx.result_id_for("dns.resolve", target))
    ordered = sorted(usable, key=family_name)
    attempts = await asyncio.gather(*(ctx.connect(a, target.port, host=target.host) for a in ordered))
    return dataclasses.replace(seen, attempts=tuple(attempts))


def judge(seen: TcpObserved) -> Finding:
    """The verdict on one host and port, from one connect per address. Pure."""
    host, port, attempts, ignored = seen.host, seen.port, seen.attempts, seen.ignored
    if not attempts:
        doc = CODES["tcp.no_address"]
        return Finding(
            doc.status,
            "tcp.no_address",
            f"{host}: no address to connect to" + (f" (ignored {', '.join(ignored)})" if ignored else ""),
            {"addresses": list(seen.resolved), "ignored_addresses": list(ignored)},
            doc.remediation,
            caused_by=seen.dns_result,
        )
    evidence: dict[str, Any] = {
        "host": host,
        "port": port,
        "attempts": [a.to_json() for a in attempts],
        "ignored_addresses": list(ignored),
    }
    opened = [a for a in attempts if a.outcome == "open"]
    failed = [a for a in attempts if a.outcome != "open"]
    # A host without IPv6 routing fails IPv6 at once and clients fall back immediately: not worth a warning.
    unrouted_v6 = [a for a in failed if a.outcome == "no_route" and a.family == "ipv6"]
    if opened and unrouted_v6 and len(unrouted_v6) == len(failed):
        evidence["ipv6_not_routed"] = [a.address for a in unrouted_v6]
        fastest = min(a.latency_ms or 0.0 for a in opened)
        summary = (
            f"{host}:{port} open on {_count(opened)} (ipv4), connect {fastest:g} ms; "
            f"IPv6 is not routed on this host, so its {len(unrouted_v6)} IPv6 address(es) are not used"
        )
        return CODES.finding("tcp.open", summary, evidence)
    if not failed:
        fastest = min(a.latency_ms or 0.0 for a in opened)
        families = "/".join(sorted({a.family for a in opened}))
        summary = f"{host}:{port} open on {_count(opened)} ({families}), connect {fastest:g} ms"
        return CODES.finding("tcp.open", summary, evidence)
    failures = "; ".join(_describe(a) for a in failed)
    if opened:
        working = ", ".join(a.address for a in opened)
        return CODES.finding("tcp.partial", f"{host}:{port} open via {working}, but {failures}", evidence)
    outcomes = {a.outcome for a in failed}
    worst = next(o for o in _FAILURE_PRIORITY if o in outcomes)
    code = _CODE_OF.get(worst, f"tcp.{worst}")
    return CODES.finding(code, f"{host}:{port} {failures}", evidence)


def _describe(attempt: ConnectAttempt) -> str:
    text = f"{attempt.address} {attempt.outcome}"
    if attempt.icmp is not None:
        by = f" from {attempt.icmp.offender}" if attempt.icmp.offender else ""
        text += f" (ICMP {attempt.icmp.meaning}{by})"
    elif attempt.outcome == "filtered":
        text += f" ({attempt.error})"
    elif attempt.errno_name:
        text += f" ({attempt.errno_name})"
    return text


def _count(attempts: Sequence[ConnectAttempt]) -> str:
    return "1 address" if len(attempts) == 1 else f"all {len(attempts)} addresses"


class TcpConnectCheck(ObservingCheck[TcpObserved]):
    id = "tcp.connect"
    title = "Outbound TCP to each required host and port, per address (IPv4 and IPv6)"
    requires = "outbound TCP; the addresses dns.resolve found"
    needs: tuple[str, ...] = ("dns.resolve",)
    codes = CODES

    def targets(self, plan: Plan) -> Iterable[Target]:
        return [t for t in plan.port_targets() if not plan.proxied(t)]  # proxied ones: proxy.tunnel

    observe = staticmethod(observe)
    judge = staticmethod(judge)
