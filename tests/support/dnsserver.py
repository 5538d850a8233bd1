"""A tiny authoritative-style DNS server on loopback (UDP and TCP, same port) answering per name.

Zones are plain dicts: {"name.test": Behaviour(...)}. Runs in its own thread with its own event loop so that
both in-process tests and CLI subprocesses can use it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import struct
from collections.abc import Mapping

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from loopthread import LoopThread


@dataclasses.dataclass
class Behaviour:
    a: tuple[str, ...] = ()
    aaaa: tuple[str, ...] = ()
    cname: str | None = None
    rcode: str = "NOERROR"  # NOERROR | NXDOMAIN | SERVFAIL | REFUSED
    silent: bool = False  # never answer
    silent_types: tuple[str, ...] = ()  # never answer these query types (a filter dropping AAAA queries)
    truncate: bool = False  # UDP answers are empty with TC set; TCP gets the data
    ttl: int = 300
    tcp_silent: bool = False
    delay_s: float = 0.0  # answer this late (emulates a resolver's round trip)
    # UDP misbehaviour: wrong_id | wrong_question | wrong_port (reply from another socket) | flood (1000 copies)
    hostile: str = ""


class DnsServer(LoopThread):
    def __init__(self, zone: Mapping[str, Behaviour], host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__()
        self.zone = {dns.name.from_text(k): v for k, v in zone.items()}
        self.host = host
        self.port = port
        self.queries: list[tuple[str, str, str]] = []  # (transport, name, type)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def _start(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        for _ in range(20):
            udp = socket.socket(family, socket.SOCK_DGRAM)
            udp.bind((self.host, self.port))
            port = udp.getsockname()[1]
            tcp = socket.socket(family, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                tcp.bind((self.host, port))
            except OSError:
                udp.close()
                tcp.close()
                continue
            break
        else:
            raise RuntimeError("no free port for the test DNS server")
        self.port = port
        self._udp_transport, _ = await self._loop.create_datagram_endpoint(lambda: _Udp(self), sock=udp)
        tcp.listen(16)
        self._tcp_server = await asyncio.start_server(self._handle_tcp, sock=tcp)

    async def _stop(self) -> None:
        self._udp_transport.close()
        self._tcp_server.close()

    def answer(self, wire: bytes, transport: str) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
        except Exception:
            return None
        question = query.question[0]
        self.queries.append(
            (transport, question.name.to_text(omit_final_dot=True), dns.rdatatype.to_text(question.rdtype))
        )
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        name = question.name
        behaviour = self.zone.get(name)
        if behaviour is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
            return response.to_wire()
        if behaviour.silent or (transport == "tcp" and behaviour.tcp_silent):
            return None
        if dns.rdatatype.to_text(question.rdtype) in behaviour.silent_types:
            return None
        response.set_rcode(dns.rcode.from_text(behaviour.rcode))
        if behaviour.rcode != "NOERROR":
            return response.to_wire()
        if behaviour.truncate and transport == "udp":
            response.flags |= dns.flags.TC
            return response.to_wire()
        # Follow CNAMEs inside the zone, like a recursive resolver would, putting the chain in the answer.
        hops = 0
        while behaviour is not None and behaviour.cname is not None and hops < 200:
            target = dns.name.from_text(behaviour.cname)
            response.answer.append(dns.rrset.from_text(name, behaviour.ttl, "IN", "CNAME", target.to_text()))
            name, behaviour, hops = target, self.zone.get(target), hops + 1
        if behaviour is None:
            return response.to_wire()
        if behaviour.rcode != "NOERROR":  # the chain's target fails: its rcode, with the chain in the answer
            response.set_rcode(dns.rcode.from_text(behaviour.rcode))
            return response.to_wire()
        records = {dns.rdatatype.A: behaviour.a, dns.rdatatype.AAAA: behaviour.aaaa}.get(question.rdtype, ())
        if records:
            rtype = dns.rdatatype.to_text(question.rdtype)
            response.answer.append(dns.rrset.from_text_list(name, behaviour.ttl, "IN", rtype, list(records)))
        return response.to_wire()

    def hostile_for(self, wire: bytes) -> str:
        try:
            behaviour = self.zone.get(dns.message.from_wire(wire).question[0].name)
        except Exception:
            return ""
        return behaviour.hostile if behaviour is not None else ""

    def delay_for(self, wire: bytes) -> float:
        try:
            name = dns.message.from_wire(wire).question[0].name
        except Exception:
            return 0.0
        behaviour = self.zone.get(name)
        return behaviour.delay_s if behaviour is not None else 0.0

    async def _handle_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = self.track()
        try:
            while True:
                header = await reader.readexactly(2)
                wire = await reader.readexactly(struct.unpack("!H", header)[0])
                reply = self.answer(wire, "tcp")
                if reply is None:
                    await asyncio.sleep(3600)
                    return
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.discard(task)
            writer.close()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = self.server.answer(data, "udp")
        if reply is None:
            return
        hostile = self.server.hostile_for(data)
        if hostile == "wrong_id":
            reply = bytes([(reply[0] + 1) % 256]) + reply[1:]
        elif hostile == "wrong_question":
            other = dns.message.make_response(dns.message.make_query("other.test", "A"))
            other.id = dns.message.from_wire(reply).id
            other.answer = dns.message.from_wire(reply).answer
            reply = other.to_wire()
        elif hostile == "wrong_port":
            family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
            with socket.socket(family, socket.SOCK_DGRAM) as stranger:
                stranger.bind((self.server.host, 0))
                stranger.sendto(reply, addr)
            return
        elif hostile == "flood":
            for _ in range(1000):
                self.transport.sendto(reply, addr)  # type: ignore[attr-defined]
            return
        delay = self.server.delay_for(data)
        if delay:
            asyncio.get_running_loop().call_later(delay, self.transport.sendto, reply, addr)  # type: ignore[attr-defined]
        else:
            self.transport.sendto(reply, addr)  # type: ignore[attr-defined]
