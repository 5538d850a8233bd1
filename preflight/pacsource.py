"""Loading a PAC script (--pac FILE|URL) and evaluating it for every endpoint once, before the run starts."""

from __future__ import annotations

import dataclasses
import socket
import threading
from collections.abc import Iterable
from pathlib import Path

from preflight.errors import UsageError
from preflight.model import Target
from preflight.pac import MAX_SOURCE, PacError, PacScript, Resolver
from preflight.proxy import ProxySettings, redact_url, strip_userinfo


def load_pac(value: str, timeout: float) -> tuple[str, str]:
    """(source text, origin) from a file path or an http(s) URL (fetched directly, no proxy, bounded). The origin,
    and every message, names a URL without its userinfo."""
    if value.startswith(("http://", "https://")):
        import httpx

        shown = redact_url(value)
        try:
            with (
                httpx.Client(trust_env=False, timeout=timeout, follow_redirects=True) as client,
                client.stream("GET", value) as response,
            ):
                body = b""
                for chunk in response.iter_raw():
                    body += chunk
                    if len(body) > MAX_SOURCE:
                        raise UsageError(f"--pac {shown}: larger than {MAX_SOURCE} bytes")
                if response.status_code != 200:
                    raise UsageError(f"--pac {shown}: HTTP {response.status_code}")
        except httpx.HTTPError as exc:
            raise UsageError(f"--pac {shown}: {type(exc).__name__}: {strip_userinfo(str(exc))}") from None
        return body.decode("utf-8", "replace"), shown
    path = Path(value)
    try:
        if not path.is_file():
            raise UsageError(f"--pac {value!r}: no such file")
        if path.stat().st_size > MAX_SOURCE:
            raise UsageError(f"--pac {value}: larger than {MAX_SOURCE} bytes")
        return path.read_text(encoding="utf-8", errors="replace"), str(path)
    except OSError as exc:
        raise UsageError(f"--pac {value!r}: cannot read: {exc.strerror or exc}") from None


def system_resolver(timeout: float) -> Resolver:
    """dnsResolve() through the OS, in a daemon thread, bounded by `timeout`; memoised."""
    cache: dict[str, str | None] = {}

    def resolve(host: str) -> str | None:
        if host in cache:
            return cache[host]
        found: list[str] = []

        def work() -> None:
            try:
                infos = socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM)
                found.extend(str(info[4][0]) for info in infos)
            except (OSError, UnicodeError):
                pass

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        thread.join(timeout)
        cache[host] = found[0] if found else None
        return cache[host]

    return resolve


def dns_server_resolver(servers: Iterable[tuple[str, int]], timeout: float) -> Resolver:
    import dns.exception
    import dns.message
    import dns.query
    import dns.rdatatype

    servers = list(servers)
    cache: dict[str, str | None] = {}

    def resolve(host: str) -> str | None:
        if host not in cache:
            cache[host] = None
            for address, port in servers:
                try:
                    reply = dns.query.udp(dns.message.make_query(host, dns.rdatatype.A), address, timeout, port)
                except (dns.exception.DNSException, OSError, ValueError):
                    continue
                for rrset in reply.answer:
                    for record in rrset:
                        if record.rdtype == dns.rdatatype.A:
                            cache[host] = record.address
                            break
                if cache[host]:
                    break
        return cache[host]

    return resolve


def with_pac(settings: ProxySettings, source: str, origin: str, targets: Iterable[Target],
             resolver: Resolver) -> ProxySettings:  # fmt: skip
    """Evaluate FindProxyForURL once per endpoint; a broken script becomes a problem, not a crash."""
    try:
        script = PacScript(source, origin)
    except PacError as exc:
        return dataclasses.replace(settings, problems=(*settings.problems, str(exc)))
    decisions: dict[tuple[str, int], str] = {}
    problems = list(settings.problems)
    for target in targets:
        if target.port is None or target.wildcard or target.missing:
            continue
        scheme = "http" if target.port == 80 else "https"
        port = "" if target.port in (80, 443) else f":{target.port}"
        try:
            decisions[(target.host, target.port)] = script.find_proxy(f"{scheme}://{target.host}{port}/",
                                                                      target.host, resolver=resolver)  # fmt: skip
        except PacError as exc:
            problems.append(f"{exc} (for {target.key})")
            break
    return dataclasses.replace(settings, pac_origin=origin, pac_decisions=decisions, problems=tuple(problems))
