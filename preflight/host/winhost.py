"""The facts about this Windows host that the host.* checks judge: registry values, processors, memory. One small
reader over winreg and kernel32; everything that decides is a pure function in checks/host.py, tested against a
fake reader with Windows' semantics (absent keys, access denied, values of the wrong type).

Registry paths are HKLM and read from the 64-bit view, also from a 32-bit Python; the 32-bit (.NET) settings are
read where 64-bit Windows keeps them, under WOW6432Node.
"""

from __future__ import annotations

import ctypes
import dataclasses
import os
import sys
from collections.abc import Callable
from typing import Any, Protocol


class RegistryTypeError(ValueError):
    """A value exists but has another type than the setting needs (a REG_SZ where a REG_DWORD belongs)."""


class HostReader(Protocol):
    def dword(self, path: str, name: str) -> int | None:
        """HKLM\\path\\name as a REG_DWORD; None if the key or the value is absent. PermissionError if it cannot
        be read, RegistryTypeError if it is not a DWORD."""

    def string(self, path: str, name: str) -> str | None:
        """The same for REG_SZ / REG_EXPAND_SZ."""

    def multi_string(self, path: str, name: str) -> list[str] | None:
        """The same for REG_MULTI_SZ (a list of strings)."""

    def cpu_count(self) -> int | None: ...

    def memory_bytes(self) -> int | None: ...

    def subkeys(self, path: str) -> list[str]:
        """The names of HKLM\\path's subkeys ([] if the key is absent)."""

    def command(self, *args: str) -> str:
        """A Windows tool's output (stdout, then stderr), '' if it could not run; bounded in time."""


@dataclasses.dataclass(frozen=True)
class Reading:
    """One registry value as observed: the full key path for the evidence and the remediation text."""

    key: str
    name: str
    value: int | str | None
    problem: str | None = None  # access denied, wrong type: the value could not be judged

    @property
    def where(self) -> str:
        return f"HKLM\\{self.key}\\{self.name}"

    def to_json(self) -> dict[str, Any]:
        return {"key": f"HKLM\\{self.key}", "name": self.name, "value": self.value, "problem": self.problem}


def _reading(read: Callable[[str, str], int | str | None], key: str, name: str) -> Reading:
    """One value as a Reading: what could not be read becomes its problem, never an exception."""
    try:
        return Reading(key, name, read(key, name))
    except PermissionError as exc:
        return Reading(key, name, None, f"access denied ({exc.strerror or exc})")
    except RegistryTypeError as exc:
        return Reading(key, name, None, str(exc))


def read_dword(reader: HostReader, key: str, name: str) -> Reading:
    return _reading(reader.dword, key, name)


def read_string(reader: HostReader, key: str, name: str) -> Reading:
    return _reading(reader.string, key, name)


def read_multi_string(reader: HostReader, key: str, name: str) -> Reading:
    """A REG_MULTI_SZ as one Reading whose value is its strings joined by newlines."""

    def joined(path: str, value_name: str) -> str | None:
        values = reader.multi_string(path, value_name)
        return "\n".join(values) if values is not None else None

    return _reading(joined, key, name)


class WinregReader:  # the few lines that need Windows; checks/host.py judges what they return
    def __init__(self) -> None:
        import winreg

        self._winreg: Any = winreg

    def _value(self, path: str, name: str, types: tuple[int, ...]) -> Any:
        winreg = self._winreg
        try:
            with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, path, 0, winreg.KEY_READ | winreg.KEY_WOW64_64KEY) as key:
                value, kind = winreg.QueryValueEx(key, name)
        except FileNotFoundError:
            return None
        if kind not in types:
            raise RegistryTypeError(
                f"HKLM\\{path}\\{name} has registry type {kind}, not {' or '.join(map(str, types))}"
            )
        return value

    def dword(self, path: str, name: str) -> int | None:
        value = self._value(path, name, (self._winreg.REG_DWORD,))
        return int(value) if value is not None else None

    def string(self, path: str, name: str) -> str | None:
        value = self._value(path, name, (self._winreg.REG_SZ, self._winreg.REG_EXPAND_SZ))
        return str(value) if value is not None else None

    def multi_string(self, path: str, name: str) -> list[str] | None:
        value = self._value(path, name, (self._winreg.REG_MULTI_SZ,))
        return [str(item) for item in value] if value is not None else None

    def cpu_count(self) -> int | None:
        return os.cpu_count()

    def subkeys(self, path: str) -> list[str]:
        winreg = self._winreg
        names: list[str] = []
        try:
            with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, path, 0, winreg.KEY_READ | winreg.KEY_WOW64_64KEY) as key:
                while True:
                    try:
                        names.append(winreg.EnumKey(key, len(names)))
                    except OSError:  # ERROR_NO_MORE_ITEMS
                        return names
        except FileNotFoundError:
            return []

    def command(self, *args: str) -> str:
        return run_command(*args)

    def memory_bytes(self) -> int | None:
        class MemoryStatus(ctypes.Structure):
            _fields_ = [("length", ctypes.c_ulong), ("load", ctypes.c_ulong)] + [
                (name, ctypes.c_ulonglong)
                for name in (
                    "total_physical",
                    "available_physical",
                    "total_page",
                    "available_page",
                    "total_virtual",
                    "available_virtual",
                    "available_extended",
                )
            ]

        status = MemoryStatus()
        status.length = ctypes.sizeof(MemoryStatus)
        kernel32: Any = getattr(ctypes, "windll").kernel32  # noqa: B009 (absent off Windows)
        return int(status.total_physical) if kernel32.GlobalMemoryStatusEx(ctypes.byref(status)) else None


COMMAND_TIMEOUT_S = 10.0


def run_command(*args: str) -> str:
    """A tool's output (sc.exe writes its errors to stdout), '' if it could not run or did not finish in time."""
    import subprocess

    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, errors="replace")
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout + done.stderr


def default_reader() -> HostReader | None:
    if sys.platform == "win32":
        return WinregReader()
    else:  # one branch per platform, each type-checked on its own
        return None
