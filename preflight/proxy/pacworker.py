"""The PAC worker: a child process that evaluates one PAC script with dukpy (QuickJS) and answers
FindProxyForURL queries. It is a separate process so that a hostile script (an endless loop, a huge allocation)
is stopped by killing it, and its memory is capped by the OS; it sees no Python object, only the helper functions
of pac_helpers.js, whose name lookups it asks of the parent (the run's resolver).

Protocol, one JSON object per line. Parent → worker: {"script": ..., "memory_bytes": N} first, then
{"id": n, "url": ..., "host": ...} per query, or {"answer": value} to a question. Worker → parent: {"ready":
engine} or {"error": reason}, then per query {"ask": "dnsResolve"|"dnsResolveEx"|"myIpAddress", "host": ...}
(as many as the script needs) and finally {"id": n, "result": text} or {"id": n, "error": reason}.
"""

from __future__ import annotations

import json
import sys
from importlib import resources
from typing import Any, TextIO

MAX_RESULT = 64 * 1024


def limit_resources(memory: int, cpu_seconds: int) -> None:
    """Cap this process's memory so an allocating script fails here, not on the host, and its CPU time so a worker
    whose parent died while the script looped does not spin forever."""
    if sys.platform == "win32":
        _job_limits(memory, cpu_seconds)
    else:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))


def _job_limits(memory: int, cpu_seconds: int) -> None:  # a job object: Windows' way to cap one process
    import ctypes
    from ctypes import wintypes

    class BasicLimits(ctypes.Structure):
        _fields_ = [("PerProcessUserTimeLimit", ctypes.c_int64), ("PerJobUserTimeLimit", ctypes.c_int64),
                    ("LimitFlags", wintypes.DWORD), ("MinimumWorkingSetSize", ctypes.c_size_t),
                    ("MaximumWorkingSetSize", ctypes.c_size_t), ("ActiveProcessLimit", wintypes.DWORD),
                    ("Affinity", ctypes.c_size_t), ("PriorityClass", wintypes.DWORD),
                    ("SchedulingClass", wintypes.DWORD)]  # fmt: skip

    class IoCounters(ctypes.Structure):
        _fields_ = [(name, ctypes.c_uint64) for name in ("ReadOps", "WriteOps", "OtherOps", "ReadBytes",
                                                          "WriteBytes", "OtherBytes")]  # fmt: skip

    class ExtendedLimits(ctypes.Structure):
        _fields_ = [("Basic", BasicLimits), ("Io", IoCounters), ("ProcessMemoryLimit", ctypes.c_size_t),
                    ("JobMemoryLimit", ctypes.c_size_t), ("PeakProcessMemoryUsed", ctypes.c_size_t),
                    ("PeakJobMemoryUsed", ctypes.c_size_t)]  # fmt: skip

    job_object_extended_limit_information = 9
    job_object_limit_process_time = 0x2
    job_object_limit_process_memory = 0x100
    kernel32: Any = getattr(ctypes, "windll").kernel32  # noqa: B009 (absent off Windows)
    job = kernel32.CreateJobObjectW(None, None)
    limits = ExtendedLimits()
    limits.Basic.LimitFlags = job_object_limit_process_memory | job_object_limit_process_time
    limits.Basic.PerProcessUserTimeLimit = cpu_seconds * 10_000_000  # 100-ns units
    limits.ProcessMemoryLimit = memory
    kernel32.SetInformationJobObject(job, job_object_extended_limit_information, ctypes.byref(limits),
                                     ctypes.sizeof(limits))  # fmt: skip
    kernel32.AssignProcessToJobObject(job, kernel32.GetCurrentProcess())


def _send(out: TextIO, message: dict[str, Any]) -> None:
    out.write(json.dumps(message) + "\n")
    out.flush()


def serve(stdin: TextIO, stdout: TextIO) -> None:
    first = json.loads(stdin.readline() or "{}")
    if first.get("memory_bytes"):
        limit_resources(int(first["memory_bytes"]), int(first.get("cpu_seconds") or 60))
    import dukpy  # type: ignore[import-untyped]

    def ask(kind: str, host: str | None = None) -> Any:
        _send(stdout, {"ask": kind, "host": host})
        line = stdin.readline()
        if not line:
            raise SystemExit(0)  # the parent is gone
        return json.loads(line).get("answer")

    interpreter = dukpy.JSInterpreter()
    # dukpy adds Node-like globals: `process.env` would hand the script this process's environment (a proxy URL
    # with its password) to leak through a name lookup, and `require` loads modules from disk. A PAC script gets
    # neither; the worker's environment is scrubbed too (proxy/pac.py).
    interpreter.evaljs(
        "delete globalThis.process; delete globalThis.require; delete globalThis.console;"
        "delete globalThis._dukpy_cjs_source_compiles; delete globalThis._dukpy_eval_cjs_source;"
    )
    interpreter.export_function("dnsResolve", lambda host: ask("dnsResolve", host))
    interpreter.export_function("dnsResolveEx", lambda host: ask("dnsResolveEx", host))
    interpreter.export_function("myIpAddress", lambda: ask("myIpAddress"))
    interpreter.export_function("alert", lambda _message: None)
    helpers = resources.files("preflight.proxy").joinpath("pac_helpers.js").read_text(encoding="utf-8")
    script = str(first.get("script", "")).lstrip("\ufeff")
    try:
        interpreter.evaljs(helpers)
        interpreter.evaljs(script)
        kind = interpreter.evaljs("typeof FindProxyForURL")
    except Exception as exc:  # the engine's errors: a one-line reason with the script's line
        _send(stdout, {"error": _one_line(exc)})
        return
    if kind != "function":
        _send(stdout, {"error": "the script defines no function FindProxyForURL(url, host)"})
        return
    _send(stdout, {"ready": f"dukpy {_version()} (QuickJS)"})
    for line in stdin:
        query = json.loads(line)
        try:
            result = interpreter.evaljs("FindProxyForURL(dukpy.url, dukpy.host)", url=query["url"], host=query["host"])
        except Exception as exc:
            _send(stdout, {"id": query["id"], "error": _one_line(exc)})
            continue
        if not isinstance(result, str):
            _send(stdout, {"id": query["id"], "error": f"FindProxyForURL returned {_js_type(result)}, not a string"})
        else:
            _send(stdout, {"id": query["id"], "result": result[:MAX_RESULT]})


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("dukpy")
    except metadata.PackageNotFoundError:
        return "?"


def _js_type(value: Any) -> str:
    if value is None:
        return "null or undefined"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "an object"


def _one_line(exc: BaseException) -> str:
    """The engine's message and the first stack line that points into the script ('<dukpy>:LINE')."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    message = lines[0] if lines else type(exc).__name__
    where = next((line for line in lines[1:] if "<dukpy>" in line or "line" in line), "")
    return f"{message} ({where})" if where else message


def main() -> None:
    import io

    # UTF-8 pipes whatever the console's code page (cp1252 on a Windows Server)
    serve(io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8"), io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8"))


if __name__ == "__main__":
    main()
