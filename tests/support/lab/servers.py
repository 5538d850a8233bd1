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
                        date_offset: float = 0.0, tenants: dict[str, Any] | None = None) -> None:  # fmt: skip
    """Serve TLS with one certificate chain on each ADDRESS:PORT (1.2+, or 1.0/1.1 only when legacy); hold each
    session until the peer goes. GET of a tenant's OpenID discovery path answers as the sign-in service does."""
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

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer an HTTP request with a Date (offset like the lab's real time); else hold until the peer goes."""
        import email.utils
        import time

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


BLOCK_PAGE = (
    b"<!DOCTYPE html><html><head><title>Access Denied - Lab Web Filter</title></head>"
    b"<body>This site is blocked by your organisation's policy.</body></html>"
)


async def http_listeners(crl_file: str, specs: list[str], *, block_page: bool = False, portal: str | None = None,
                         ocsp_file: str | None = None, wpad_file: str | None = None) -> None:  # fmt: skip
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
        offsets = [float(a.split("=", 1)[1]) for a in args if a.startswith("--date-offset=")]
        tenant_files = [a.split("=", 1)[1] for a in args if a.startswith("--tenants=")]
        tenants = json.loads(Path(tenant_files[0]).read_text()) if tenant_files else {}
        args = [a for a in args if not a.startswith("--")]
        asyncio.run(tls_listeners(args[0], args[1], args[2:], legacy=legacy, date_offset=offsets[0] if offsets else 0,
                                  tenants=tenants))  # fmt: skip
    elif kind == "http":
        args = sys.argv[2:]
        block = "--block-page" in args
        ocsp_files = [a.split("=", 1)[1] for a in args if a.startswith("--ocsp=")]
        wpad_files = [a.split("=", 1)[1] for a in args if a.startswith("--wpad=")]
        portals = [a.split("=", 1)[1] for a in args if a.startswith("--portal=")]
        args = [a for a in args if not a.startswith("--")]
        asyncio.run(http_listeners(args[0], args[1:], block_page=block, portal=portals[0] if portals else None,
                                   ocsp_file=ocsp_files[0] if ocsp_files else None,
                                   wpad_file=wpad_files[0] if wpad_files else None))  # fmt: skip
    elif kind == "dns":
        dns_server(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(f"unknown server kind {kind!r}")
