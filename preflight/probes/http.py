"""HTTP observation for revocation checks: one request to one address, with bounded reads.

The request goes to the address the run resolved (Host header carries the name), so DNS answers come from one
place. Environment proxies are never applied silently (trust_env=False): the proxy path is explicit.
"""

from __future__ import annotations

import dataclasses
import re
import time
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from preflight import lazy
from preflight.netutil import bracketed

if TYPE_CHECKING:
    import asyncio
else:
    asyncio = lazy.module("asyncio")


# dns_error: the fetch could not begin, its name resolving to no usable address (the tenant lookup says so)
FetchOutcome = Literal["response", "timeout", "refused", "reset", "tls_error", "proxy_error", "dns_error", "error"]

MAX_BODY = 4 * 1024 * 1024  # bytes read from any HTTP peer; the rest is not read
MAX_HEADER_NOTE = 200
EXCHANGE_TIMEOUTS = 3  # a whole request/response may take this many --timeout periods


@dataclasses.dataclass(frozen=True)
class HttpFetch:
    url: str
    address: str
    method: str
    outcome: FetchOutcome
    status: int | None = None
    content_type: str | None = None
    location: str | None = None
    body: bytes = b""
    truncated: bool = False
    error: str | None = None
    elapsed_ms: float | None = None

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("body")
        data["body_bytes"] = len(self.body)
        data["title"] = page_title(self.body)
        return data


def classify_connect_error(text: str) -> FetchOutcome:
    """refused | timeout | tls_error | error, from the message of a failed connect (TLS failures surface here too;
    on Windows the message carries the WinError number, which decides)."""
    from preflight.probes.tcp import WINDOWS_CONNECT_ERRORS

    windows = re.search(r"\[WinError (\d+)\]", text)
    if windows is not None:
        outcome = WINDOWS_CONNECT_ERRORS.get(int(windows.group(1)))
        return "refused" if outcome == "refused" else "timeout" if outcome == "filtered" else "error"
    lowered = text.lower()
    if "certificate_verify_failed" in lowered or "[ssl" in lowered or "tlsv1" in lowered or "ssl:" in lowered:
        return "tls_error"
    return "refused" if "refused" in lowered else "error"


def page_title(body: bytes) -> str | None:
    match = re.search(rb"<title[^>]*>(.*?)</title>", body[:65536], re.IGNORECASE | re.DOTALL)
    if not match:
        return None
    return match.group(1).decode("utf-8", "replace").strip()[:MAX_HEADER_NOTE] or None


def _address_url(url: str, address: str) -> tuple[str, str]:
    parts = urlsplit(url)
    host = bracketed(address)
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    target = parts._replace(netloc=netloc).geturl()
    return target, parts.netloc


async def fetch(
    url: str,
    address: str,
    timeout: float,
    *,
    method: str = "GET",
    content: bytes | None = None,
    content_type: str | None = None,
    proxy_url: str | None = None,
    ssl_context: Any = None,
    max_body: int = MAX_BODY,
) -> HttpFetch:
    """`address` is where to connect (Host carries the name); with `proxy_url` the request goes to the proxy in
    absolute form by name (the proxy resolves it) and `address` only labels the path. An https URL is verified
    with `ssl_context` (certifi when None) against the URL's name, also when connecting to an address."""
    extensions: dict[str, Any] = {}
    if proxy_url is None:
        target, host_header = _address_url(url, address)
        name = urlsplit(url).hostname
        if url.lower().startswith("https://") and name:
            extensions["sni_hostname"] = name  # verify the certificate against the name, not the address
    else:
        target, host_header = url, urlsplit(url).netloc
    import httpx  # loaded on first use: runs without CRL/OCSP checks never pay for it

    headers = {"Host": host_header, "User-Agent": "connector-preflight", "Accept": "*/*"}
    if content_type:
        headers["Content-Type"] = content_type
    start = time.monotonic()
    try:
        async with (
            # httpx's timeout is per read: a peer trickling bytes would never trip it. This bounds the exchange.
            asyncio.timeout(timeout * EXCHANGE_TIMEOUTS),
            # Plain http (CRL/OCSP) needs no trust store: skipping it saves the ~30 ms of loading certifi per
            # client, which at the end of a run is CPU time every other check waits behind.
            httpx.AsyncClient(
                trust_env=False,
                follow_redirects=False,
                timeout=timeout,
                proxy=proxy_url,
                verify=ssl_context if ssl_context is not None else not url.lower().startswith("http://"),
            ) as client,
            client.stream(method, target, headers=headers, content=content, extensions=extensions) as response,
        ):
            body = bytearray()
            truncated = False
            async for chunk in response.aiter_raw():
                body.extend(chunk)
                if len(body) > max_body:
                    del body[max_body:]
                    truncated = True
                    break
            return HttpFetch(
                url,
                address,
                method,
                "response",
                response.status_code,
                response.headers.get("content-type"),
                response.headers.get("location"),
                bytes(body),
                truncated,
                None,
                round((time.monotonic() - start) * 1000, 2),
            )
    except httpx.TimeoutException as exc:
        return HttpFetch(url, address, method, "timeout", error=f"{type(exc).__name__}: no answer within {timeout:g}s")
    except TimeoutError:
        bound = timeout * EXCHANGE_TIMEOUTS
        return HttpFetch(url, address, method, "timeout", error=f"no complete answer within {bound:g}s")
    except httpx.ProxyError as exc:
        return HttpFetch(url, address, method, "proxy_error", error=f"ProxyError: {exc}")
    except httpx.ConnectError as exc:
        text = str(exc)
        outcome = classify_connect_error(text)
        return HttpFetch(url, address, method, outcome, error=f"ConnectError: {text}")
    except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
        return HttpFetch(url, address, method, "reset", error=f"{type(exc).__name__}: {exc}")
    except httpx.HTTPError as exc:
        return HttpFetch(url, address, method, "error", error=f"{type(exc).__name__}: {exc}")
