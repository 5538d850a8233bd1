"""The PAC worker: a child process that evaluates one PAC script with dukpy (QuickJS) and answers
FindProxyForURL queries. It is a separate process so that a hostile script (an endless loop, a huge allocation)
is stopped by killing it, and its memory, CPU time, file writes and (on Windows) child processes are capped by the
OS. The script runs in pacsandbox.PacSandbox: ECMAScript's built-ins and the PAC helpers, nothing else; the helpers'
name lookups are asked of the parent (the run's resolver), which checks them again.

Protocol, one JSON object per line. Parent → worker: {"script": ..., "memory_bytes": N} first, then
{"id": n, "url": ..., "host": ...} per query, or {"answer": value} to a question. Worker → parent: {"ready":
engine} or {"error": reason}, then per query {"ask": "dnsResolve"|"dnsResolveEx"|"myIpAddress", "host": ...}
(as many as the script needs) and finally {"id": n, "result": text} or {"id": n, "error": reason}.
"""

from __future__ import annotations

import json
import sys
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
        # Defence in depth under the JavaScript allow-list (pacsandbox.py): even code that escaped the engine could
        # not write a file (any write past 0 bytes to a regular file fails), nor leave a core dump of its memory.
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _job_limits(memory: int, cpu_seconds: int) -> None:
    """A job object, Windows' way to cap one process. The flags and the structure's layout are those of
    JOBOBJECT_BASIC_LIMIT_INFORMATION and JOBOBJECT_EXTENDED_LIMIT_INFORMATION (learn.microsoft.com/windows/win32/
    api/winnt/ns-winnt-jobobject_basic_limit_information)."""
    import ctypes
    from ctypes import wintypes

    class BasicLimits(ctypes.Structure):
        _fields_ = [
            ("PerProcessUserTimeLimit", ctypes.c_int64),
            ("PerJobUserTimeLimit", ctypes.c_int64),
            ("LimitFlags", wintypes.DWORD),
            ("MinimumWorkingSetSize", ctypes.c_size_t),
            ("MaximumWorkingSetSize", ctypes.c_size_t),
            ("ActiveProcessLimit", wintypes.DWORD),
            ("Affinity", ctypes.c_size_t),
            ("PriorityClass", wintypes.DWORD),
            ("SchedulingClass", wintypes.DWORD),
        ]

    class IoCounters(ctypes.Structure):
        _fields_ = [
            (name, ctypes.c_uint64)
            for name in ("ReadOps", "WriteOps", "OtherOps", "ReadBytes", "WriteBytes", "OtherBytes")
        ]

    class ExtendedLimits(ctypes.Structure):
        _fields_ = [
            ("Basic", BasicLimits),
            ("Io", IoCounters),
            ("ProcessMemoryLimit", ctypes.c_size_t),
            ("JobMemoryLimit", ctypes.c_size_t),
            ("PeakProcessMemoryUsed", ctypes.c_size_t),
            ("PeakJobMemoryUsed", ctypes.c_size_t),
        ]

    job_object_extended_limit_information = 9
    job_object_limit_process_time = 0x2
    job_object_limit_process_memory = 0x100
    job_object_limit_active_process = 0x8  # with ActiveProcessLimit 1: the worker cannot start another process
    kernel32: Any = getattr(ctypes, "windll").kernel32  # noqa: B009 (absent off Windows)
    job = kernel32.CreateJobObjectW(None, None)
    limits = ExtendedLimits()
    limits.Basic.LimitFlags = (
        job_object_limit_process_memory | job_object_limit_process_time | job_object_limit_active_process
    )
    limits.Basic.ActiveProcessLimit = 1
    limits.Basic.PerProcessUserTimeLimit = cpu_seconds * 10_000_000  # 100-ns units
    limits.ProcessMemoryLimit = memory
    kernel32.SetInformationJobObject(
        job, job_object_extended_limit_information, ctypes.byref(limits), ctypes.sizeof(limits)
    )
    kernel32.AssignProcessToJobObject(job, kernel32.GetCurrentProcess())


def _send(out: TextIO, message: dict[str, Any]) -> None:
    # ASCII with escapes: a lone UTF-16 surrogate from the script crosses the pipe as \udXXX, which the parent
    # replaces (it must not reach a report, whose encoders refuse it)
    out.write(json.dumps(message, ensure_ascii=True) + "\n")
    out.flush()


def serve(stdin: TextIO, stdout: TextIO) -> None:
    first = json.loads(stdin.readline() or "{}")
    if first.get("memory_bytes"):
        limit_resources(int(first["memory_bytes"]), int(first.get("cpu_seconds") or 60))
    from preflight.proxy.pacsandbox import PacSandbox, SandboxError

    def ask(kind: str, host: str | None = None) -> Any:
        _send(stdout, {"ask": kind, "host": host})
        line = stdin.readline()
        if not line:
            raise SystemExit(0)  # the parent is gone
        return json.loads(line).get("answer")

    script = str(first.get("script", "")).lstrip("\ufeff")
    try:
        sandbox = PacSandbox(ask)
    except SandboxError as exc:
        _send(stdout, {"error": str(exc)})
        return
    try:
        sandbox.load(script)
        defined = sandbox.defines_find_proxy()
    except SandboxError as exc:
        _send(stdout, {"error": str(exc)})
        return
    except Exception as exc:  # the engine's errors: a one-line reason with the script's line
        _send(stdout, {"error": _one_line(exc)})
        return
    if not defined:
        _send(stdout, {"error": "the script defines no function FindProxyForURL(url, host)"})
        return
    _send(stdout, {"ready": f"dukpy {_version()} (QuickJS)"})
    for line in stdin:
        query = json.loads(line)
        try:
            result = sandbox.find(str(query["url"]), str(query["host"]))
        except Exception as exc:
            _send(stdout, {"id": query["id"], "error": _one_line(exc)})
            continue
        if not isinstance(result, str):
            _send(stdout, {"id": query["id"], "error": f"FindProxyForURL returned {_js_type(result)}, not a string"})
        elif len(result) > MAX_RESULT:
            _send(
                stdout,
                {
                    "id": query["id"],
                    "error": f"FindProxyForURL returned {len(result):,} characters (more "
                    f"than {MAX_RESULT:,}: not a proxy list)",
                },
            )
        else:
            _send(stdout, {"id": query["id"], "result": result})


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
