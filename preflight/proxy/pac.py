"""Proxy auto-config (PAC) evaluated by a real JavaScript engine, isolated in a worker process.

Why dukpy: a maintained package (0.6, 2026) with wheels for Linux and Windows that embeds QuickJS, a complete
modern JavaScript engine (loops, `switch`, regular expressions, closures, everything a real PAC file uses); pypac,
the most used PAC library for Python, runs on it; and it lets the helper functions call back into Python, so
`dnsResolve()` goes through the run's own resolver (`--dns-server`, timeouts, the shared answers) instead of a
resolver of its own. pacparser (also with Windows wheels) resolves names itself, which a run must control, and
keeps one global engine per process; it is the reference in the differential test over the PAC corpus, with its
own implementation of the helper functions. The subset interpreter this replaced refused 11 of the corpus's 23
files (loops, regular expressions, switch, `new`, try, a BOM) and answered 3 others differently
(myIpAddress() was always 127.0.0.1, dateRange() always false).

The script is untrusted: it runs in a child process (preflight/proxy/pacworker.py) with its memory capped by the
OS; each query gets `--timeout` of the worker's own time (time spent waiting for a name lookup the script asked
for does not count, each lookup is itself bounded); a worker that overruns is killed. Every failure is a PacError
with the code the proxy.effective check reports.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from preflight import lazy
from preflight.proxy.pacsandbox import lookup_name
from preflight.redact import well_formed

if TYPE_CHECKING:
    import asyncio
    import json
else:
    asyncio = lazy.module("asyncio")
    json = lazy.module("json")


MAX_SOURCE = 4 * 1024 * 1024  # bytes: larger scripts are refused before they reach the engine
MEMORY_BYTES = 256 * 1024 * 1024  # the worker's address space
CPU_SECONDS = 60  # the worker's CPU time over its life: a worker orphaned in an endless loop still ends
MAX_LOOKUPS = 64  # distinct names one script may ask the run to resolve (each one is a DNS query)
# All of one script's name lookups together may take this many --timeout: a script that asks a silent resolver
# for name after name would otherwise spend the run's deadline (64 names x --timeout) before any check starts.
LOOKUP_BUDGET_TIMEOUTS = 2.0
MAX_LINE = 1024 * 1024
MAX_INVALID_SHOWN = 8  # names a script asked for that cannot be DNS names, kept as evidence


class PacError(Exception):
    """A PAC script that cannot be used: `code` is the proxy.effective code (proxy.pac_*), `message` one line."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclasses.dataclass(frozen=True)
class PacDecision:
    kind: str  # PROXY | HTTP | HTTPS | DIRECT | SOCKS... | other
    server: str | None
    raw: str


def parse_result(text: str) -> list[PacDecision]:
    """'PROXY a:1; PROXY b:2; DIRECT' → decisions in order (clients try them in turn)."""
    decisions = []
    for part in text.split(";"):
        words = part.strip().split()
        if not words:
            continue
        kind = words[0].upper()
        decisions.append(PacDecision(kind, words[1] if len(words) > 1 else None, part.strip()))
    return decisions


def from_worker(value: Any) -> str:
    """Text the worker sent, as text a report can carry: a lone UTF-16 surrogate (JavaScript strings may hold
    them; JSON carries them as escapes) becomes U+FFFD, so no encoder downstream refuses the report."""
    return well_formed(value if isinstance(value, str) else "" if value is None else str(value))


Lookup = Callable[[str, str], Awaitable[Any]]  # (question, host) → answer: dnsResolve, dnsResolveEx, myIpAddress


# -I: no PYTHONPATH, user site or current directory; the worker gets exactly this process's import path (a venv, a
# zipapp's unpacked site-packages) from PREFLIGHT_PAC_PATH.
WORKER_BOOTSTRAP = (
    "import os, sys; sys.path[:0] = os.environ['PREFLIGHT_PAC_PATH'].split(os.pathsep); "
    "from preflight.proxy.pacworker import main; main()"
)


def worker_command() -> list[str]:
    """How to start the worker: this interpreter, or the frozen executable's hidden worker mode."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "--pac-worker"]
    return [sys.executable, "-I", "-c", WORKER_BOOTSTRAP]


# What the worker's environment keeps: the script must not read the run's (a proxy URL with its password), and the
# worker needs nothing but its import path and what Windows needs to start a process.
WORKER_ENVIRONMENT = ("SYSTEMROOT", "WINDIR", "TEMP", "TMP", "LANG", "LC_ALL", "TZ")


def _worker_environment() -> dict[str, str]:
    kept = {name: value for name, value in os.environ.items() if name.upper() in WORKER_ENVIRONMENT}
    return {**kept, "PREFLIGHT_PAC_PATH": os.pathsep.join(p for p in sys.path if p)}


class PacSession:
    """One worker for one script, for the whole run: `start()`, then `find()` per URL, then `close()`."""

    def __init__(self, script: str, lookup: Lookup, timeout: float) -> None:
        self.script = script.lstrip("\ufeff")
        self.lookup = lookup
        self.timeout = timeout
        self.engine: str | None = None
        self.lookups: dict[str, Any] = {}  # what the script asked, and the answers it got (evidence)
        self.invalid_names: list[str] = []  # asked for, not looked up: no DNS name has that shape
        self.lookup_seconds = 0.0
        self.lookup_budget = LOOKUP_BUDGET_TIMEOUTS * timeout
        self.lookups_exhausted = False
        self._process: asyncio.subprocess.Process | None = None
        self._next_id = 0
        self._lock = asyncio.Lock()
        self._broken: PacError | None = None

    async def start(self) -> None:
        if len(self.script.encode("utf-8", "replace")) > MAX_SOURCE:
            raise PacError("proxy.pac_too_large", f"the script is larger than {MAX_SOURCE // (1024 * 1024)} MiB")
        try:
            self._process = await asyncio.create_subprocess_exec(
                *worker_command(),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
                env=_worker_environment(),
                limit=MAX_LINE,
            )
        except OSError as exc:
            raise PacError("proxy.pac_error", f"the PAC engine could not start: {exc.strerror or exc}") from None
        await self._send({"script": self.script, "memory_bytes": MEMORY_BYTES, "cpu_seconds": CPU_SECONDS})
        first = await self._exchange(None)
        if "error" in first:
            raise self._fail(PacError("proxy.pac_error", str(first["error"])))
        self.engine = from_worker(first.get("ready"))

    async def find(self, url: str, host: str) -> str:
        """FindProxyForURL(url, host), as the script returns it. PacError when it cannot be had."""
        if self._broken is not None:
            raise self._broken
        async with self._lock:
            self._next_id += 1
            await self._send({"id": self._next_id, "url": url, "host": host})
            answer = await self._exchange(self._next_id)
        if "error" in answer:
            raise PacError("proxy.pac_error", f"FindProxyForURL({url!r}, {host!r}): {from_worker(answer['error'])}")
        return from_worker(answer.get("result"))

    async def _exchange(self, query_id: int | None) -> dict[str, Any]:
        """Read the worker's messages until the answer to `query_id` (None: the start), answering its questions.
        The worker's own time is bounded by the timeout; time spent on its lookups is not counted."""
        assert self._process is not None and self._process.stdout is not None
        budget = self.timeout
        while True:
            started = time.monotonic()
            try:
                line = await asyncio.wait_for(self._process.stdout.readline(), max(budget, 0.01))
            except TimeoutError:
                raise self._fail(
                    PacError(
                        "proxy.pac_timeout",
                        f"the script ran longer than {self.timeout:g} s (an endless loop, or too much work per URL)",
                    )
                ) from None
            except (ValueError, asyncio.LimitOverrunError):
                raise self._fail(PacError("proxy.pac_error", "the PAC engine sent an oversized message")) from None
            budget -= time.monotonic() - started
            if not line:
                code = await self._process.wait()
                raise self._fail(
                    PacError("proxy.pac_error", f"the PAC engine stopped (exit code {code}; out of memory?)")
                )
            message = json.loads(line)
            if not isinstance(message, dict):
                raise self._fail(PacError("proxy.pac_error", "the PAC engine sent a malformed message"))
            if "ask" in message:
                await self._send({"answer": await self._answer(from_worker(message["ask"]), message.get("host"))})
                continue
            if message.get("id") == query_id:
                return dict(message)

    async def _answer(self, question: str, host: Any) -> Any:
        """A lookup the script asked for, checked again here (the worker is not trusted to have checked it):
        one of the three questions, a name a DNS query can carry, within the lookup count and time budget."""
        if question not in ("dnsResolve", "dnsResolveEx", "myIpAddress"):
            return None
        name = None if question == "myIpAddress" else lookup_name(from_worker(host))
        if question != "myIpAddress" and name is None:
            if len(self.invalid_names) < MAX_INVALID_SHOWN:
                self.invalid_names.append(from_worker(host)[:80])
            return None
        key = f"{question}({name})" if name is not None else question
        if key in self.lookups:
            return self.lookups[key]
        if len(self.lookups) >= MAX_LOOKUPS:
            return None  # a script asking for ever more names gets no more DNS traffic
        left = self.lookup_budget - self.lookup_seconds
        started = time.monotonic()
        try:
            if left <= 0:
                raise TimeoutError
            self.lookups[key] = await asyncio.wait_for(self.lookup(question, name or ""), left)
        except TimeoutError:
            # the answer would be computed from lookups cut short, not what the connector is told: the script
            # stops here, at once, rather than looping on through ever more refused lookups in its own time
            self.lookups_exhausted = True
            spent = f"the script's name lookups took more than {self.lookup_budget:g} s in all"
            why = f"{spent} (2 x --timeout; the resolver does not answer?)"
            raise self._fail(PacError("proxy.pac_timeout", why)) from None
        finally:
            self.lookup_seconds += time.monotonic() - started
        return self.lookups[key]

    async def _send(self, message: dict[str, Any]) -> None:
        assert self._process is not None and self._process.stdin is not None
        try:
            self._process.stdin.write((json.dumps(message) + "\n").encode("utf-8"))
            await self._process.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the read that follows reports the worker's end

    def _fail(self, error: PacError) -> PacError:
        self._broken = error
        self._kill()
        return error

    def _kill(self) -> None:
        if self._process is not None and self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()

    async def close(self) -> None:
        if self._process is None:
            return
        if self._process.stdin is not None:
            with contextlib.suppress(OSError):
                self._process.stdin.close()
        try:
            await asyncio.wait_for(self._process.wait(), 1.0)
        except TimeoutError:
            self._kill()
            await self._process.wait()
