"""The PAC corpus: real-world-shaped PAC files (loops over bypass arrays, regular-expression literals and RegExp
objects, switch, nested functions and function expressions, do/while, try/catch, the helpers isInNet, dnsResolve,
myIpAddress, shExpMatch, dnsDomainLevels, weekdayRange, timeRange, dateRange, multi-fallback answers, a BOM, CRLF)
evaluated by the tool's engine (dukpy's QuickJS in its worker, helpers from pac_helpers.js) and by pacparser, an
independent engine with its own implementation of the helpers. They must agree on every route.

pacparser would resolve names itself: it runs in a process with a network namespace of its own (no interface but
a down loopback), and both engines get the same name → address table through dnsResolve, so no name is ever
looked up for real.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import FIXTURES

from preflight.proxy.pac import PacSession

CORPUS = sorted((FIXTURES / "pac").glob("*.pac"))
GUID_HOST = "8f2b1c3d-0000-4000-8000-000000000001.bootstrap.msappproxy.net"
QUERIES = [
    ("https://login.microsoftonline.com/", "login.microsoftonline.com"),
    (f"https://{GUID_HOST}:8398/", GUID_HOST),
    (f"https://{GUID_HOST}/", GUID_HOST),
    ("http://crl3.digicert.com/", "crl3.digicert.com"),
    ("https://intranet/", "intranet"),
    ("https://app.contoso.com/", "app.contoso.com"),
    ("https://198.18.1.3/", "198.18.1.3"),
    ("https://198.19.113.9/", "198.19.113.9"),
    ("https://www.example.org/", "www.example.org"),
    ("https://a.b.c.d.fabrikam.com/", "a.b.c.d.fabrikam.com"),
    ("https://sb1.servicebus.windows.net/", "sb1.servicebus.windows.net"),
    ("https://LOGIN.MicrosoftOnline.com/", "LOGIN.MicrosoftOnline.com"),
    ("ftp://files.example.org/", "files.example.org"),
]
DNS = {"intranet": "198.18.0.5", "app.contoso.com": "198.18.20.8", "login.microsoftonline.com": "192.0.2.130",
       "crl3.digicert.com": "198.19.229.108", "www.example.org": "198.19.100.20",
       "sb1.servicebus.windows.net": "198.19.100.30"}  # fmt: skip
MY_IP = "198.18.20.40"

PACPARSER_RUNNER = r"""
import json, re, sys
import pacparser
job = json.load(sys.stdin)
shim = ("var __dns = %s;\n"
        "function dnsResolve(h) { if (/^\\d+\\.\\d+\\.\\d+\\.\\d+$/.test(h)) return h;"
        " return __dns.hasOwnProperty(h) ? __dns[h] : null; }\n") % json.dumps(job["dns"])
pacparser.init()
pacparser.setmyip(job["my_ip"])
pacparser.parse_pac_string(shim + job["script"])
print(json.dumps([pacparser.find_proxy(url, host) for url, host in job["queries"]]))
"""


def pacparser_routes(script: str) -> list[str]:
    job = {"script": script.lstrip("\ufeff"), "queries": QUERIES, "dns": DNS, "my_ip": MY_IP}
    done = subprocess.run(["unshare", "-n", sys.executable, "-c", PACPARSER_RUNNER], input=json.dumps(job),
                          capture_output=True, text=True, timeout=30, check=True)  # fmt: skip
    return list(json.loads(done.stdout))


def engine_routes(script: str) -> list[str]:
    async def lookup(question: str, host: str) -> Any:
        if question == "myIpAddress":
            return MY_IP
        literal = host.replace(".", "").isdigit()
        address = host if literal else DNS.get(host)
        return address if question == "dnsResolve" else (address or "")

    async def run() -> list[str]:
        session = PacSession(script, lookup, timeout=5.0)
        try:
            await session.start()
            return [await session.find(url, host) for url, host in QUERIES]
        finally:
            await session.close()

    return asyncio.run(run())


def test_the_corpus_is_big_enough() -> None:
    assert len(CORPUS) >= 20


@pytest.mark.netns  # pacparser runs in a network namespace of its own: unshare needs root
@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_engines_agree_on_every_route(path: Path) -> None:
    script = path.read_bytes().decode("utf-8")
    ours, reference = engine_routes(script), pacparser_routes(script)
    disagreements = [(q[0], a, b) for q, a, b in zip(QUERIES, ours, reference, strict=True) if a != b]
    assert not disagreements, disagreements
