"""The JavaScript context a PAC script runs in: the ECMAScript built-ins and the PAC helper functions, nothing else.

A PAC or WPAD script is untrusted input from the network, evaluated on every host that runs the tool. dukpy's
`JSInterpreter` is a Node-like host: it installs `process` (with this process's environment), `require` and a
module loader that open files, and a `call_python` bridge that reaches every function exported to it, its own
file-reading ones included. A deny-list over that cannot be complete, so this module does not use it: it builds
the context from dukpy's native engine directly and answers the bridge itself, from an allow-list.

- The bridge (`call_python`, which dukpy's native code installs on every evaluation) reaches exactly
  `dnsResolve`, `dnsResolveEx`, `myIpAddress` and `alert`, each with its arguments checked (count, type, a host
  name's shape and size); anything else is a JavaScript error in the script, never a Python call.
- The host object has no module loader: `import()` of any specifier fails.
- After the helpers load, every global that is not an ECMAScript built-in or a PAC helper is deleted, and each
  evaluation removes the bridge's global before the script's code runs: the helpers keep it in a closure.

The Netscape PAC specification's functions are what browsers and WinHTTP give a script; WinHTTP adds the `Ex`
variants (Microsoft, "Proxy Auto-Config File Format": learn.microsoft.com/windows/win32/winhttp/ipv6-extensions-
to-navigator-auto-config-file-format). Nothing in the spec reads files, the environment or the network beyond name
lookups, so this is the whole surface.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from typing import Any

from preflight.netutil import is_host, is_ip_literal


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# What the PAC helper file defines and exports to the script (pac_helpers.js).
PAC_FUNCTIONS = _words(
    "dnsResolve dnsResolveEx myIpAddress myIpAddressEx isResolvable isResolvableEx isPlainHostName dnsDomainIs "
    "localHostOrDomainIs dnsDomainLevels shExpMatch isInNet isInNetEx sortIpAddressList getClientVersion "
    "weekdayRange dateRange timeRange alert"
)

# ECMAScript's own global objects (ECMA-262, "The Global Object"). Not kept although QuickJS has them: `performance`
# and `queueMicrotask` (host APIs, not ECMAScript), `SharedArrayBuffer` and `Atomics` (shared memory),
# `WeakRef` and `FinalizationRegistry` (they observe the collector), `DOMException` (a web API).
ECMASCRIPT_GLOBALS = frozenset(
    _words(
        "globalThis Infinity NaN undefined eval isFinite isNaN parseFloat parseInt decodeURI decodeURIComponent "
        "encodeURI encodeURIComponent escape unescape Object Function Boolean Symbol Error AggregateError EvalError "
        "RangeError ReferenceError SyntaxError TypeError URIError InternalError Number BigInt Math Date String "
        "RegExp Array Int8Array Uint8Array Uint8ClampedArray Int16Array Uint16Array Int32Array Uint32Array "
        "BigInt64Array BigUint64Array Float16Array Float32Array Float64Array Map Set WeakMap WeakSet ArrayBuffer "
        "DataView JSON Promise Reflect Proxy Iterator"
    )
)
ALLOWED_GLOBALS = ECMASCRIPT_GLOBALS | set(PAC_FUNCTIONS)

# The bridge's allow-list: helper name → how many arguments it takes.
BRIDGE_ARITY = {"dnsResolve": 1, "dnsResolveEx": 1, "myIpAddress": 0, "alert": 1}

Ask = Callable[[str, str | None], Any]  # (helper, host) → the answer, from the parent process


class SandboxError(Exception):
    """The engine could not give the script the context it must have; the script was not run."""


def _bridge_name(name: bytes) -> str:
    return name.decode("utf-8", "replace")


class PacSandbox:
    """One script's context. `load(script)` evaluates the helpers and the script; `find(url, host)` calls
    FindProxyForURL. `ask` answers name lookups (the parent's resolver); it sees only validated arguments."""

    def __init__(self, ask: Ask) -> None:
        try:
            from dukpy import _dukpy  # type: ignore[import-untyped]
        except ImportError as exc:
            raise SandboxError(f"the PAC engine (dukpy) is not installed: {exc}") from None
        if not all(callable(getattr(_dukpy, name, None)) for name in ("create_context", "eval_string")):
            raise SandboxError("this dukpy has no create_context/eval_string: a version the sandbox was not built for")
        self._native = _dukpy
        self._ctx = _dukpy.create_context()  # dukpy's eval_string reads the context from this attribute
        self._ask = ask

    # dukpy's native bridge calls these two methods on the object given to eval_string; nothing else is reached.
    def _check_exported_function_exists(self, name: bytes) -> bool:
        return _bridge_name(name) in BRIDGE_ARITY

    def _call_python(self, name: bytes, json_args: bytes) -> bytes | None:
        helper = _bridge_name(name)
        arity = BRIDGE_ARITY.get(helper)
        args = json.loads(json_args.decode("utf-8", "replace") or "[]")
        if arity is None or not isinstance(args, list) or len(args) != arity:
            raise TypeError(f"{helper}: not a PAC helper, or called with the wrong arguments")
        if helper == "alert":
            return None  # WinHTTP shows a script's alerts to no one; neither does the run
        host = args[0] if arity else None
        if host is not None and (not isinstance(host, str) or not plausible_host(host)):
            answer = None  # as a resolver answers a name that cannot exist: no lookup is made
        else:
            answer = self._ask(helper, host)
        return None if answer is None else json.dumps(answer).encode("utf-8")

    def evaluate(self, code: str, **values: Any) -> Any:
        """Evaluates `code` as a global script; `values` are readable as `dukpy.NAME` until the code removes them."""
        payload = json.dumps(values, ensure_ascii=True).encode("ascii")
        result = self._native.eval_string(self, code.encode("utf-8", "surrogatepass"), payload, False, "<pac>")
        return None if result is None else json.loads(result.decode("utf-8", "surrogatepass"))

    def load(self, script: str) -> None:
        """The helpers, the pruning of globals, then the script: its own errors propagate as the engine raised
        them (the worker turns them into one line)."""
        helpers = resources.files("preflight.proxy").joinpath("pac_helpers.js").read_text(encoding="utf-8")
        exports = "".join(f"globalThis.{name} = {name};" for name in PAC_FUNCTIONS)
        # The helpers are evaluated inside a function that receives the bridge: it stays in their closure only.
        self.evaluate(f"(function (__bridge) {{\n{helpers}\n{exports}\n}})(call_python);")
        allowed = json.dumps(sorted(ALLOWED_GLOBALS))
        left = self.evaluate(
            f"(function (allowed) {{ var kept = {{}}; allowed.forEach(function (n) {{ kept[n] = true; }});"
            " Object.getOwnPropertyNames(globalThis).forEach(function (n) {"
            " if (!kept[n]) { delete globalThis[n]; } });"
            ' return Object.getOwnPropertyNames(globalThis).filter(function (n) { return !kept[n] && n !== "dukpy"'
            f' && n !== "call_python"; }}); }})({allowed})'
        )
        if left:
            raise SandboxError(f"the PAC engine keeps globals the sandbox cannot remove: {', '.join(map(str, left))}")
        # The script is evaluated as it is, global code, so that its line numbers and a "use strict" stay its
        # own; while its top level runs, the bridge's global is there, and reaches only the allow-list above.
        self.evaluate(script)

    def find(self, url: str, host: str) -> Any:
        return self.evaluate(_without_bridge("return FindProxyForURL(v.url, v.host);"), url=url, host=host)

    def defines_find_proxy(self) -> bool:
        return bool(self.evaluate(_without_bridge("return typeof FindProxyForURL === 'function';")))


def _without_bridge(body: str) -> str:
    """Code that first removes the two globals dukpy's native code installs on every evaluation (`call_python`
    and `dukpy`, the values), then runs `body` with the values as `v`."""
    return f"(function (v) {{ delete globalThis.call_python; delete globalThis.dukpy; {body} }})(dukpy);"


def lookup_name(host: str) -> str | None:
    """The name a script's dnsResolve(host) is looked up as, or None when no DNS query could carry it (an empty
    or over-long label, more than 253 characters, characters no host name has): a browser's resolver fails such
    a name at once, and so does this one, without sending a query. IP literals are returned as they are."""
    text = host.strip()
    if is_ip_literal(text.strip("[]")):
        return text.strip("[]")
    if not text.isascii():
        try:
            text = text.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    return text if text and is_host(text) else None


def plausible_host(host: str) -> bool:
    """What the worker lets a helper ask the parent to look up; the parent checks again (`lookup_name`, the same
    rule: the worker is not trusted to have applied it)."""
    return lookup_name(host) is not None
