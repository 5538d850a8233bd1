"""Lab service processes, started inside namespaces: `python servers.py dns|tcp ...`, printing READY when up."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/support


async def serve_forever(handler: Any, specs: list[str], ssl_context: Any = None) -> None:
    """Listen on each ADDRESS:PORT ([IPv6]:PORT), say READY, and serve until killed."""
    for spec in specs:
        host, _, port = spec.rpartition(":")
        host = host.strip("[]")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        await asyncio.start_server(handler, host, int(port), family=family, ssl=ssl_context)
    print("READY", flush=True)
    await asyncio.Event().wait()


async def tcp_listeners(specs: list[str]) -> None:
    """Accept and hold connections on each ADDRESS:PORT (IPv6 as [ADDR]:PORT)."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    await serve_forever(hold, specs)


def discovery_answer(path: str, tenants: dict[str, Any]) -> tuple[str, bytes] | None:
    """What the sign-in service answers for /<tenant>/v2.0/.well-known/openid-configuration: the tenant's
    document (shaped like Microsoft's), or 400 invalid_tenant (AADSTS90002) for a tenant nobody has."""
    parts = path.split("/")
    if len(parts) != 5 or parts[2:] != ["v2.0", ".well-known", "openid-configuration"]:
        return None
    tenant = tenants.get(parts[1].lower())
    if tenant is None:
        error = {"error": "invalid_tenant", "error_codes": [90002],
                 "error_description": f"AADSTS90002: Tenant '{parts[1]}' not found. Check to make sure you have the "
                                      "correct tenant ID and are signing into the correct cloud."}  # fmt: skip
        return "400 Bad Request", json.dumps(error).encode()
    guid, host = tenant["guid"], tenant.get("issuer_host", "login.microsoftonline.com")
    document = {
        "token_endpoint": f"https://{host}/{guid}/oauth2/v2.0/token",
        "jwks_uri": f"https://{host}/{guid}/discovery/v2.0/keys",
        "issuer": f"https://{host}/{guid}/v2.0",
        "authorization_endpoint": f"https://{host}/{guid}/oauth2/v2.0/authorize",
        "tenant_region_scope": tenant.get("region", "NA"),
        "cloud_instance_name": tenant.get("cloud", "microsoftonline.com"),
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
    }
    return "200 OK", json.dumps(document).encode()


async def tls_listeners(chain: str, key: str, specs: list[str], *, legacy: bool = False,
                        date_offset: float = 0.0, tenants: dict[str, Any] | None = None,
                        h2: bool = False) -> None:  # fmt: skip
    """Serve TLS with one certificate chain on each ADDRESS:PORT (1.2+, or 1.0/1.1 only when legacy); hold each
    session until the peer goes. GET of a tenant's OpenID discovery path answers as the sign-in service does.
    With h2, ALPN offers h2 and an HTTP/2 client preface is answered with the server's SETTINGS (the h2
    library's server side), as the Private Access tunnel's gRPC front end does."""
    import ssl
    import warnings

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if legacy:
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.load_cert_chain(chain, key)
    if h2:
        ctx.set_alpn_protocols(["h2", "http/1.1"])

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer an HTTP request with a Date (offset like the lab's real time); else hold until the peer goes."""
        import email.utils
        import time

        ssl_object = writer.get_extra_info("ssl_object")
        if ssl_object is not None and ssl_object.selected_alpn_protocol() == "h2":
            await _answer_h2(reader, writer)
            return
        with contextlib.suppress(ConnectionError, ssl.SSLError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            head = await reader.readuntil(b"\r\n\r\n")
            method, _, rest = head.partition(b" ")
            if method in (b"HEAD", b"GET"):
                date = email.utils.formatdate(time.time() + date_offset, usegmt=True)
                path = rest.split(b" ", 1)[0].decode("latin-1")
                status, body = discovery_answer(path, tenants or {}) or ("200 OK", b"")
                kind = "Content-Type: application/json; charset=utf-8\r\n" if body else ""
                writer.write(f"HTTP/1.1 {status}\r\nDate: {date}\r\n{kind}Content-Length: {len(body)}\r\n"
                             "Connection: close\r\n\r\n".encode() + (body if method == b"GET" else b""))  # fmt: skip
                await writer.drain()
        writer.close()

    await serve_forever(hold, specs, ctx)


async def _answer_h2(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    import ssl

    import h2.config
    import h2.connection

    with contextlib.suppress(ConnectionError, ssl.SSLError):
        conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False))
        conn.initiate_connection()
        data = await reader.read(65536)
        with contextlib.suppress(Exception):  # a malformed preface: the SETTINGS still go out, as a server's do
            conn.receive_data(data)
        writer.write(conn.data_to_send())
        await writer.drain()
        await reader.read(65536)  # hold the connection until the client goes
    writer.close()


async def sni_filter(listen_port: int, blocked: str) -> None:
    """A transparent SNI filter (the router's nat rules redirect TCP 443 here): a ClientHello naming `blocked` is
    answered with a reset, as a next-generation firewall's URL filter does; any other is relayed to where it was
    going (SO_ORIGINAL_DST) and the connection piped both ways."""
    import struct

    original_dst = 80  # SO_ORIGINAL_DST and IP6T_SO_ORIGINAL_DST (linux/netfilter_ipv4.h, netfilter_ipv6.h)

    def destination(sock: socket.socket) -> tuple[str, int]:
        if sock.family == socket.AF_INET6:
            raw = sock.getsockopt(socket.IPPROTO_IPV6, original_dst, 28)
            return socket.inet_ntop(socket.AF_INET6, raw[8:24]), struct.unpack("!H", raw[2:4])[0]
        raw = sock.getsockopt(socket.SOL_IP, original_dst, 16)
        return socket.inet_ntoa(raw[4:8]), struct.unpack("!H", raw[2:4])[0]

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        address, port = destination(sock)
        hello = await reader.read(16384)
        if server_name(hello) == blocked:
            raw = socket.socket(fileno=sock.dup())
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            raw.close()
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(address, port)
        except OSError:
            writer.transport.abort()
            return
        up_writer.write(hello)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    await serve_forever(handle, [f"0.0.0.0:{listen_port}", f"[::]:{listen_port}"])


def server_name(hello: bytes) -> str | None:
    """The SNI host name of a TLS ClientHello record (RFC 8446 4.1.2, RFC 6066 3), or None."""
    try:
        if hello[0] != 0x16 or hello[5] != 0x01:
            return None
        at = 9 + 2 + 32  # record header, handshake header, version, random
        at += 1 + hello[at]  # session id
        at += 2 + int.from_bytes(hello[at : at + 2], "big")  # cipher suites
        at += 1 + hello[at]  # compression methods
        end = at + 2 + int.from_bytes(hello[at : at + 2], "big")
        at += 2
        while at + 4 <= end:
            kind, size = int.from_bytes(hello[at : at + 2], "big"), int.from_bytes(hello[at + 2 : at + 4], "big")
            if kind == 0:  # server_name: list length, name type, name length, name
                length = int.from_bytes(hello[at + 7 : at + 9], "big")
                return hello[at + 9 : at + 9 + length].decode("ascii", "replace")
            at += 4 + size
    except IndexError:
        return None
    return None


BLOCK_PAGE = (
    b"<!DOCTYPE html><html><head><title>Access Denied - Lab Web Filter</title></head>"
    b"<body>This site is blocked by your organisation's policy.</body></html>"
)


async def http_listeners(crl_file: str, specs: list[str], *, block_page: bool = False, portal: str | None = None,
                         ocsp_file: str | None = None, wpad_file: str | None = None,
                         aia_file: str | None = None) -> None:  # fmt: skip
    """Plain HTTP: *.crl → the CRL, POST (OCSP) → the OCSP response in `ocsp_file` (without one: 'unauthorized',
    as a responder that does not serve this CA says), /wpad.dat → `wpad_file` as a PAC script, anything else → a
    short text. With block_page, every request gets a 200 HTML page, as a web filter does; with `portal` (a URL),
    every request is redirected there, as a captive portal does."""
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509 import ocsp

    crl_body = Path(crl_file).read_bytes() if crl_file != "-" else b""  # noqa: ASYNC240 (once, before serving)
    if ocsp_file is not None:
        ocsp_body = Path(ocsp_file).read_bytes()  # noqa: ASYNC240 (once, before serving)
    else:
        ocsp_body = ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED).public_bytes(
            Encoding.DER
        )

    wpad_body = Path(wpad_file).read_bytes() if wpad_file else b""  # noqa: ASYNC240 (once, before serving)
    aia_body = Path(aia_file).read_bytes() if aia_file else b""  # noqa: ASYNC240 (once, before serving)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, ValueError):
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, path, _version = request_line.split(" ", 2)
            length = 0
            for line in header_lines:
                if line.lower().startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            if length:
                await reader.readexactly(length)
            extra = ""
            if portal is not None:
                status, kind, body = "302 Found", "text/html; charset=utf-8", b"<html><title>Sign in</title></html>"
                extra = f"Location: {portal}\r\n"
            elif block_page:
                status, kind, body = "200 OK", "text/html; charset=utf-8", BLOCK_PAGE
            elif method == "POST":
                status, kind, body = "200 OK", "application/ocsp-response", ocsp_body
            elif path.endswith(".crt") and aia_file is not None:  # an AIA caIssuers URL: the issuer, DER
                status, kind, body = "200 OK", "application/pkix-cert", aia_body
            elif path.endswith(".crl"):
                status, kind, body = "200 OK", "application/pkix-crl", crl_body
            elif path == "/wpad.dat" and wpad_file is not None:
                status, kind, body = "200 OK", "application/x-ns-proxy-autoconfig", wpad_body
            else:
                status, kind, body = "200 OK", "text/plain", b"lab service\n"
            writer.write(f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n{extra}"
                         "Connection: close\r\n\r\n".encode() + body)  # fmt: skip
            await writer.drain()
        writer.close()

    await serve_forever(serve, specs)


def dns_server(zone_file: str, listen: str) -> None:
    from dnsserver import Behaviour, DnsServer

    zone = {name: Behaviour(**{k: tuple(v) if isinstance(v, list) else v for k, v in spec.items()})
            for name, spec in json.loads(Path(zone_file).read_text()).items()}  # fmt: skip
    host, _, port = listen.rpartition(":")
    server = DnsServer(zone, host=host, port=int(port))
    with server:
        print("READY", flush=True)
        asyncio.run(asyncio.Event().wait())


if __name__ == "__main__":
    kind = sys.argv[1]
    if kind == "tcp":
        asyncio.run(tcp_listeners(sys.argv[2:]))
    elif kind == "tls":
        args = sys.argv[2:]
        legacy = "--legacy" in args
        serve_h2 = "--h2" in args
        offsets = [float(a.split("=", 1)[1]) for a in args if a.startswith("--date-offset=")]
        tenant_files = [a.split("=", 1)[1] for a in args if a.startswith("--tenants=")]
        tenants = json.loads(Path(tenant_files[0]).read_text()) if tenant_files else {}
        args = [a for a in args if not a.startswith("--")]
        asyncio.run(tls_listeners(args[0], args[1], args[2:], legacy=legacy, date_offset=offsets[0] if offsets else 0,
                                  tenants=tenants, h2=serve_h2))  # fmt: skip
    elif kind == "http":
        args = sys.argv[2:]
        block = "--block-page" in args
        ocsp_files = [a.split("=", 1)[1] for a in args if a.startswith("--ocsp=")]
        wpad_files = [a.split("=", 1)[1] for a in args if a.startswith("--wpad=")]
        aia_files = [a.split("=", 1)[1] for a in args if a.startswith("--aia=")]
        portals = [a.split("=", 1)[1] for a in args if a.startswith("--portal=")]
        args = [a for a in args if not a.startswith("--")]
        asyncio.run(http_listeners(args[0], args[1:], block_page=block, portal=portals[0] if portals else None,
                                   ocsp_file=ocsp_files[0] if ocsp_files else None,
                                   wpad_file=wpad_files[0] if wpad_files else None,
                                   aia_file=aia_files[0] if aia_files else None))  # fmt: skip
    elif kind == "sni-filter":
        asyncio.run(sni_filter(int(sys.argv[2]), sys.argv[3]))
    elif kind == "dns":
        dns_server(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(f"unknown server kind {kind!r}")
