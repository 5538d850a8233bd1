"""DNS observation: the system resolver path (what the connector sees) and per-server detail with dnspython.

Only observation lives here; the verdict is `checks.dns.judge`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import socket
import time
from collections.abc import Sequence
from typing import Any, Literal

import dns._asyncbackend
import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.resolver

from preflight.blocking import in_daemon_thread
from preflight.netutil import LOCALLY_BLOCKED, bracketed, udp_port_unreachable

DnsOutcome = Literal[
    "answer", "nxdomain", "nodata", "servfail", "refused", "timeout", "unreachable", "bad_response", "error"
]

MAX_CNAME_HOPS = 16

# getaddrinfo error numbers, POSIX (glibc) and Windows (WSA*), mapped to what they mean for a lookup.
_GAI_ERRORS: dict[int, str] = {
    getattr(socket, "EAI_NONAME", -2): "noname",
    getattr(socket, "EAI_AGAIN", -3): "again",
    getattr(socket, "EAI_FAIL", -4): "fail",
    -5: "nodata",  # glibc EAI_NODATA, not exported by the socket module
    11001: "noname",  # WSAHOST_NOT_FOUND
    11002: "again",  # WSATRY_AGAIN
    11003: "fail",  # WSANO_RECOVERY
    11004: "nodata",  # WSANO_DATA
}


def classify_gai_error(number: int | None) -> str:
    if number is None:
        return "error"
    return _GAI_ERRORS.get(number, "error")


@dataclasses.dataclass(frozen=True)
class SystemLookup:
    addresses: tuple[str, ...] = ()
    error: str | None = None  # noname | again | fail | nodata | timeout | error
    error_text: str | None = None
    elapsed_ms: int = 0

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"addresses": list(self.addresses)}


@dataclasses.dataclass(frozen=True)
class ServerAnswer:
    server: str
    qtype: str
    outcome: DnsOutcome
    rcode: str | None = None
    addresses: tuple[str, ...] = ()
    cnames: tuple[tuple[str, str, int], ...] = ()  # (owner, target, ttl)
    ttl: int | None = None
    truncated: bool = False
    transport: str | None = None
    error: str | None = None
    elapsed_ms: int = 0

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["addresses"] = list(self.addresses)
        data["cnames"] = [{"name": n, "target": t, "ttl": ttl} for n, t, ttl in self.cnames]
        return data


@dataclasses.dataclass(frozen=True)
class Resolution:
    host: str
    source: str  # "system" (getaddrinfo decides), "dns-server" (the --dns-server answers), "literal" (an address)
    addresses: tuple[str, ...]
    system: SystemLookup | None
    servers: tuple[ServerAnswer, ...]
    nameservers: tuple[str, ...]
    detail_note: str | None = None
    not_probed: int = 0  # addresses past MAX_ADDRESSES_PER_FAMILY: in the answers, not connected to
    # getaddrinfo did not finish within the timeout but a server answered with addresses (an AAAA query dropped
    # while the A query was answered): the addresses are the servers' answers, as the OS resolver's would be once
    # its own retries give up on the silent query
    from_answers: bool = False

    def to_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "host": self.host,
            "source": self.source,
            "addresses": list(self.addresses),
            "system": self.system.to_json() if self.system else None,
            "nameservers": list(self.nameservers),
            "answers": [a.to_json() for a in self.servers],
            "detail_note": self.detail_note,
        }
        if self.not_probed:
            found["addresses_not_probed"] = self.not_probed
        if self.from_answers:
            found["addresses_from"] = "the DNS servers' answers: the system resolver did not finish in time"
        return found


def system_nameservers() -> list[tuple[str, int]]:
    """The resolvers the OS is configured with (resolv.conf, or the registry on Windows)."""
    try:
        resolver = dns.resolver.Resolver(configure=True)
    except (dns.resolver.NoResolverConfiguration, OSError):
        return []
    return [(str(ns), 53) for ns in resolver.nameservers]


async def system_lookup(host: str, timeout: float) -> SystemLookup:
    """getaddrinfo in a daemon thread: a stuck OS resolver can neither outlive the timeout nor delay exit."""

    def work() -> list[Any]:
        # AI_ADDRCONFIG, as real clients do: no IPv6 answers on a host without an IPv6 address.
        return socket.getaddrinfo(host, None, type=socket.SOCK_STREAM, flags=socket.AI_ADDRCONFIG)

    start = time.monotonic()
    try:
        infos = await in_daemon_thread(work, timeout, name=f"getaddrinfo-{host}")
    except TimeoutError:
        return SystemLookup(error="timeout", error_text=f"no answer within {timeout:g}s", elapsed_ms=_ms(start))
    except socket.gaierror as exc:
        return SystemLookup(error=classify_gai_error(exc.errno), error_text=str(exc), elapsed_ms=_ms(start))
    except (OSError, UnicodeError) as exc:
        return SystemLookup(error="error", error_text=str(exc), elapsed_ms=_ms(start))
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
    return SystemLookup(addresses=addresses, elapsed_ms=_ms(start))


class _UdpSocket(dns._asyncbackend.DatagramSocket):
    """One plain non-blocking UDP socket driven by the loop's own sock_* calls, for dnspython's query functions
    (which still check the source, the ID, the question and truncation). Its asyncio backend builds a datagram
    transport, a protocol and a queue per query, which cost more than the query itself at thousands of names.
    Receive timeouts are left to the caller's overall bound."""

    def __init__(self, family: int) -> None:
        super().__init__(family, socket.SOCK_DGRAM)
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            self.sock.setblocking(False)
            # Bound before the first receive: Windows' proactor loop refuses recvfrom on an unbound socket.
            self.sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", 0))
        except BaseException:
            self.sock.close()
            raise

    async def sendto(self, what: bytes, destination: Any, timeout: float | None) -> int:
        await asyncio.get_running_loop().sock_sendto(self.sock, what, destination)
        return len(what)

    async def recvfrom(self, size: int, timeout: float | None) -> tuple[bytes, Any]:
        return await asyncio.get_running_loop().sock_recvfrom(self.sock, size)

    async def close(self) -> None:
        self.sock.close()


async def query_server(host: str, qtype: str, server: tuple[str, int], timeout: float) -> ServerAnswer:
    """Ask one server for one record type, following a CNAME chain the server left unfinished."""
    label = server_label(server)
    start = time.monotonic()
    rdtype = dns.rdatatype.from_text(qtype)
    qname = dns.name.from_text(host)
    cnames: list[tuple[str, str, int]] = []
    seen = {qname}
    truncated = False
    transport = "udp"
    try:
        async with asyncio.timeout(timeout):
            while True:
                query = dns.message.make_query(qname, rdtype)
                async with _UdpSocket(socket.AF_INET6 if ":" in server[0] else socket.AF_INET) as udp:
                    response, used_tcp = await dns.asyncquery.udp_with_fallback(
                        query, server[0], timeout=timeout, port=server[1], udp_sock=udp
                    )
                truncated = truncated or used_tcp
                transport = "tcp" if used_tcp else transport
                rcode = dns.rcode.to_text(response.rcode())
                outcome = _RCODE_OUTCOMES.get(response.rcode(), "bad_response")
                if outcome != "answer":
                    cnames += _cnames_in(response)  # an NXDOMAIN after a CNAME: the chain names the broken link
                    return ServerAnswer(
                        label,
                        qtype,
                        outcome,
                        rcode,
                        (),
                        tuple(cnames),
                        None,
                        truncated,
                        transport,
                        None if outcome != "bad_response" else f"rcode {rcode}",
                        _ms(start),
                    )
                if not isinstance(response, dns.message.QueryMessage):
                    raise dns.exception.FormError("not a query response")  # type: ignore[no-untyped-call]
                chain = response.resolve_chaining()
                for rrset in chain.cnames:
                    for rd in rrset:
                        cnames.append((_text(rrset.name), _text(rd.target), rrset.ttl))
                if len(cnames) > MAX_CNAME_HOPS:
                    raise dns.message.ChainTooLong
                if chain.answer is not None:
                    addresses = tuple(rd.address for rd in chain.answer)
                    return ServerAnswer(
                        label,
                        qtype,
                        "answer",
                        rcode,
                        addresses,
                        tuple(cnames),
                        chain.minimum_ttl,
                        truncated,
                        transport,
                        None,
                        _ms(start),
                    )
                if not chain.cnames:
                    return ServerAnswer(
                        label,
                        qtype,
                        "nodata",
                        rcode,
                        (),
                        tuple(cnames),
                        None,
                        truncated,
                        transport,
                        None,
                        _ms(start),
                    )
                # The server stopped at a CNAME without its target's records: follow it as a stub would.
                if chain.canonical_name in seen:
                    raise dns.message.ChainTooLong
                qname = chain.canonical_name
                seen.add(qname)
    except (TimeoutError, dns.exception.Timeout):
        return ServerAnswer(label, qtype, "timeout", error=f"no answer within {timeout:g}s", elapsed_ms=_ms(start))
    except dns.message.ChainTooLong:
        return ServerAnswer(
            label,
            qtype,
            "bad_response",
            cnames=tuple(cnames[:MAX_CNAME_HOPS]),
            error="CNAME chain too long or looping",
            elapsed_ms=_ms(start),
        )
    except (dns.exception.DNSException, ValueError, EOFError) as exc:
        return ServerAnswer(label, qtype, "bad_response", error=f"{type(exc).__name__}: {exc}", elapsed_ms=_ms(start))
    except OSError as exc:
        if udp_port_unreachable(exc):
            return ServerAnswer(
                label,
                qtype,
                "unreachable",
                error=f"ICMP port unreachable: nothing answers DNS at {label} ({type(exc).__name__}: {exc})",
                elapsed_ms=_ms(start),
            )
        if exc.errno in _LOCAL_REFUSALS or getattr(exc, "winerror", None) == _WSAEACCES:
            return ServerAnswer(
                label,
                qtype,
                "unreachable",
                error=f"{LOCALLY_BLOCKED}: a firewall rule on this host blocks DNS to {label} "
                f"({type(exc).__name__}: {exc})",
                elapsed_ms=_ms(start),
            )
        return ServerAnswer(label, qtype, "error", error=f"{type(exc).__name__}: {exc}", elapsed_ms=_ms(start))


# A send this host's own firewall refused: nftables/iptables reject with EPERM, Windows Defender Firewall's
# outbound block with WSAEACCES (10013, "An attempt was made to access a socket in a way forbidden by its access
# permissions": Windows Sockets Error Codes, learn.microsoft.com).
_LOCAL_REFUSALS = frozenset({errno.EPERM, errno.EACCES})
_WSAEACCES = 10013


def _cnames_in(response: dns.message.Message) -> list[tuple[str, str, int]]:
    """The CNAMEs a response's answer section holds, in chain order (none when it cannot be read as a chain)."""
    if not isinstance(response, dns.message.QueryMessage):
        return []
    try:
        chain = response.resolve_chaining()
    except dns.exception.DNSException:
        return []
    return [(_text(rrset.name), _text(rd.target), rrset.ttl) for rrset in chain.cnames for rd in rrset][:MAX_CNAME_HOPS]


_RCODE_OUTCOMES: dict[int, DnsOutcome] = {
    dns.rcode.NOERROR: "answer",
    dns.rcode.NXDOMAIN: "nxdomain",
    dns.rcode.SERVFAIL: "servfail",
    dns.rcode.REFUSED: "refused",
}


async def resolve(
    host: str, *, timeout: float, dns_servers: list[tuple[str, int]] | None, use_system: bool
) -> Resolution:
    """Both paths at once. With explicit DNS servers, their answers drive the addresses later checks use."""
    servers = dns_servers if dns_servers is not None else system_nameservers()
    note = None if servers else "no DNS servers configured on this host: per-server detail unavailable"
    jobs: list[asyncio.Task[Any]] = []
    async with asyncio.TaskGroup() as group:
        system_job = group.create_task(system_lookup(host, timeout)) if use_system else None
        for server in servers:
            for qtype in ("A", "AAAA"):
                jobs.append(group.create_task(query_server(host, qtype, server, timeout)))
    answers = tuple(job.result() for job in jobs)
    system = system_job.result() if system_job is not None else None
    from_answers = False
    if system is not None:
        addresses = system.addresses
        source = "system"
        if not addresses and system.error == "timeout":
            answered = tuple(dict.fromkeys(a for answer in answers for a in answer.addresses))
            addresses, from_answers = answered, bool(answered)
    else:
        addresses = tuple(dict.fromkeys(a for answer in answers for a in answer.addresses))
        source = "dns-server"
    probed = first_per_family(addresses)
    return Resolution(
        host=host,
        source=source,
        addresses=probed,
        system=system,
        servers=answers,
        nameservers=tuple(server_label(s) for s in servers),
        detail_note=note,
        not_probed=len(addresses) - len(probed),
        from_answers=from_answers,
    )


@dataclasses.dataclass(frozen=True)
class OverTcp:
    """A resolver asked over TCP on its DNS port: whether anything accepts the connection there and whether it
    answers a query (the root's NS) on it. Of a resolver silent over UDP this tells a dead or unreachable server
    (TCP times out too), a host with no DNS service (refused), and a firewall that drops UDP 53 only (answered)."""

    server: str
    connect: str  # tcp.connect's outcome: open | refused | filtered | unreachable | no_route | local_block | error
    answered: bool | None = None  # None: not asked (the connect failed)
    rcode: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def describe(self) -> str:
        """One phrase for a summary: what TCP showed of a resolver silent over UDP."""
        if self.answered:
            return f"{self.server} answers over TCP 53 ({self.rcode}): UDP 53 is dropped on the way"
        if self.connect == "open":
            return f"{self.server} accepts TCP 53 but gives no DNS answer there ({self.error})"
        if self.connect == "refused":
            return f"{self.server} refuses TCP 53: the machine is up, but no DNS server listens there"
        if self.connect in ("no_route", "local_block"):
            return f"no route to {self.server} from this host ({self.connect})"
        return f"{self.server} does not answer on TCP 53 either ({self.connect}): down, or DNS is dropped both ways"


async def ask_over_tcp(server: tuple[str, int], timeout: float) -> OverTcp:
    """One TCP connect to the resolver's port and, when it opens, one query over TCP: both within `timeout`."""
    from preflight.probes.tcp import open_connection

    address, port = server
    label = server_label(server)
    attempt, sock = await open_connection(address, port, timeout)
    if sock is not None:
        sock.close()
    if attempt.outcome != "open":
        return OverTcp(label, attempt.outcome, error=attempt.error or attempt.errno_name)
    query = dns.message.make_query(".", "NS")
    try:
        response = await dns.asyncquery.tcp(query, address, timeout=timeout, port=port)
    except dns.exception.Timeout:
        return OverTcp(label, "open", False, error=f"no answer within {timeout:g}s")
    except (OSError, EOFError, dns.exception.DNSException) as exc:
        return OverTcp(label, "open", False, error=f"{type(exc).__name__}: {exc}"[:200])
    return OverTcp(label, "open", True, dns.rcode.to_text(response.rcode()))


NO_RESPONSE = frozenset({"timeout", "unreachable", "error"})  # outcomes in which the server said nothing in DNS


class ResolverHealth:
    """Which resolvers this run found silent: every query to them timed out and none ever answered. A later
    stage (the tenant lookup after WPAD discovery, the checks after both) then does not wait on them again, so a
    run on a host whose only DNS server is dead ends in about one --timeout instead of one per stage."""

    NOT_ASKED = "not asked again: it answered no query earlier in this run"

    def __init__(self) -> None:
        self._silent: set[str] = set()
        self._answered: set[str] = set()
        self._responded: set[str] = set()  # gave a DNS response (any rcode) to some query
        self._system_silent = False
        self._system_answered = False

    def learn(self, resolution: Resolution) -> None:
        by_server: dict[str, set[str]] = {}
        for answer in resolution.servers:
            by_server.setdefault(answer.server, set()).add(answer.outcome)
        for server, outcomes in by_server.items():
            if outcomes - NO_RESPONSE:
                self._responded.add(server)
            if outcomes == {"timeout"} and server not in self._answered:
                self._silent.add(server)
            elif outcomes != {"timeout"}:
                self._answered.add(server)
                self._silent.discard(server)
        system = resolution.system
        if system is not None:
            if system.addresses or system.error in ("noname", "nodata"):
                self._system_answered, self._system_silent = True, False
            elif system.error in ("timeout", "again") and not self._system_answered:
                self._system_silent = True

    def answered(self, server: str) -> bool:
        """Whether `server` gave any query of this run a DNS response (then it is not dead, whatever one name saw)."""
        return server in self._responded

    @property
    def any_silent(self) -> bool:
        """Whether any resolver was found silent: until then nothing is skipped (and nothing need be looked up)."""
        return bool(self._silent) or self._system_silent

    def known_dead(self, host: str, servers: Sequence[tuple[str, int]], use_system: bool) -> Resolution | None:
        """The resolution of `host` without asking, when every resolver it would ask is known silent."""
        labels = [server_label(s) for s in servers]
        if not labels and not use_system:
            return None
        if not all(label in self._silent for label in labels) or (use_system and not self._system_silent):
            return None
        answers = tuple(
            ServerAnswer(label, q, "timeout", error=self.NOT_ASKED) for label in labels for q in ("A", "AAAA")
        )
        system = SystemLookup(error="timeout", error_text=f"system resolver {self.NOT_ASKED}") if use_system else None
        source = "system" if use_system else "dns-server"
        return Resolution(host, source, (), system, answers, tuple(labels))


# Addresses of one name that later checks connect to, per family. Real names have a few (login.microsoftonline.com:
# 8 to 16); an answer of 4,000 records (it fits one TCP response) would otherwise cost 4,000 connects per port,
# paced at 200 a second per name: longer than any check may take.
MAX_ADDRESSES_PER_FAMILY = 16


def first_per_family(addresses: tuple[str, ...]) -> tuple[str, ...]:
    """The first MAX_ADDRESSES_PER_FAMILY IPv4 and IPv6 addresses, in the answer's order."""
    if len(addresses) <= MAX_ADDRESSES_PER_FAMILY:
        return addresses
    kept: list[str] = []
    counts = {True: 0, False: 0}
    for address in addresses:
        six = ":" in address
        if counts[six] < MAX_ADDRESSES_PER_FAMILY:
            counts[six] += 1
            kept.append(address)
    return tuple(kept)


def server_label(server: tuple[str, int]) -> str:
    """How answers name a server: its address, with the port only when it is not 53."""
    address, port = server
    host = bracketed(address)
    return host if port == 53 else f"{host}:{port}"


def _text(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True)


def _ms(start: float) -> int:
    return round((time.monotonic() - start) * 1000)
