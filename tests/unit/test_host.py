"""host.* checks: every code from a fake registry with Windows' semantics (absent keys, access denied, values of
the wrong type), the same checks through the engine (skip off Windows, never pass), and the Windows reader
against a fake winreg."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest
from fakecontext import FakeContext

from checks import host, hostbase
from preflight import profile as profile_mod
from preflight.engine import plan as plan_mod
from preflight.engine.context import RunContext, RunOptions
from preflight.host.winhost import RegistryTypeError
from preflight.model import Status, Target

GiB = 1024**3
SCHANNEL_CLIENT, SCHANNEL_SERVER = host.SCHANNEL + "Client", host.SCHANNEL + "Server"
NET64, NET32 = host.DOTNET_VIEWS.values()
HEALTHY: dict[tuple[str, str], Any] = {
    (NET64, "SchUseStrongCrypto"): 1,
    (NET32, "SchUseStrongCrypto"): 1,
    (host.DOTNET_KEY, "Release"): 528040,
    (host.WINDOWS_KEY, "ProductName"): "Windows Server 2022 Datacenter",
    (host.WINDOWS_KEY, "InstallationType"): "Server",
    (host.WINDOWS_KEY, "CurrentBuildNumber"): "20348",
}


class FakeHost:
    """HKLM values by (key, name); an exception instead of a value raises it, as winreg would."""

    def __init__(self, changes: dict[tuple[str, str], Any] | None = None, cores: int = 4, memory: int = 16 * GiB):
        self.values = {**HEALTHY, **(changes or {})}
        self.cores, self.memory = cores, memory

    def _get(self, key: str, name: str, kind: type) -> Any:
        value = self.values.get((key, name))
        if isinstance(value, BaseException):
            raise value
        if value is not None and not isinstance(value, kind):
            raise RegistryTypeError(f"HKLM\\{key}\\{name} has registry type 1, not 4")
        return value

    def dword(self, path: str, name: str) -> int | None:
        return self._get(path, name, int)  # type: ignore[no-any-return]

    def string(self, path: str, name: str) -> str | None:
        return self._get(path, name, str)  # type: ignore[no-any-return]

    def cpu_count(self) -> int | None:
        return self.cores

    def memory_bytes(self) -> int | None:
        return self.memory


DENIED = PermissionError(13, "Access is denied")


@pytest.mark.parametrize(
    ("changes", "status", "code", "words"),
    [
        ({}, Status.PASS, "host.tls12_ok", "both views"),
        ({(SCHANNEL_CLIENT, "Enabled"): 1, (SCHANNEL_CLIENT, "DisabledByDefault"): 0}, Status.PASS, "host.tls12_ok",
         ""),
        ({(SCHANNEL_CLIENT, "Enabled"): 0}, Status.FAIL, "host.tls12_disabled", "Client Enabled=0"),
        ({(SCHANNEL_SERVER, "DisabledByDefault"): 1}, Status.FAIL, "host.tls12_disabled", "Server DisabledByDefault=1"),
        ({(NET64, "SchUseStrongCrypto"): 0}, Status.FAIL, "host.strong_crypto_off", "64-bit"),
        ({(NET32, "SchUseStrongCrypto"): None}, Status.WARN, "host.strong_crypto_unset", "32-bit (WOW6432Node)"),
        ({(NET64, "SchUseStrongCrypto"): None, (NET32, "SchUseStrongCrypto"): None}, Status.WARN,
         "host.strong_crypto_unset", "64-bit, 32-bit"),
        ({(SCHANNEL_CLIENT, "Enabled"): DENIED}, Status.ERROR, "host.unreadable", "access denied"),
        ({(NET64, "SchUseStrongCrypto"): "1"}, Status.ERROR, "host.unreadable", "registry type"),
    ],
)  # fmt: skip
def test_tls(changes: dict[tuple[str, str], Any], status: Status, code: str, words: str) -> None:
    check = host.HostTlsCheck()
    check.reader = FakeHost(changes)
    seen = asyncio.run(check.observe(Target(hostbase.TARGET), FakeContext()))
    assert isinstance(seen, host.HostTlsObserved) and len(seen.schannel) == 4 and len(seen.strong_crypto) == 2
    finding = check.judge(seen)
    assert (finding.status, finding.code) == (status, code), finding.summary
    assert words in finding.summary
    if status in (Status.FAIL, Status.WARN):
        assert "SchUseStrongCrypto=1" in finding.remediation and "DisabledByDefault=0" in finding.remediation
    if code == "host.unreadable":
        assert "HKLM\\" in finding.summary  # the key path, to find it


@pytest.mark.parametrize(
    ("release", "status", "code", "version"),
    [(533320, Status.PASS, "host.dotnet_ok", "4.8.1"), (461808, Status.PASS, "host.dotnet_ok", "4.7.2"),
     (461308, Status.FAIL, "host.dotnet_too_old", "4.7.1"), (394802, Status.FAIL, "host.dotnet_too_old", "4.6.2"),
     (None, Status.FAIL, "host.dotnet_missing", None), (DENIED, Status.ERROR, "host.unreadable", None),
     ("528040", Status.ERROR, "host.unreadable", None)],
)  # fmt: skip
def test_dotnet(release: Any, status: Status, code: str, version: str | None) -> None:
    reader = FakeHost({(host.DOTNET_KEY, "Release"): release})
    from preflight.host.winhost import read_dword

    finding = host.judge_dotnet(read_dword(reader, host.DOTNET_KEY, "Release"))
    assert (finding.status, finding.code) == (status, code), finding.summary
    assert finding.evidence.get("version") == version


@pytest.mark.parametrize(
    ("changes", "cores", "memory", "code"),
    [
        ({}, 4, 8 * GiB - 50 * 1024**2, "host.os_ok"),  # 8 GiB less what firmware keeps
        ({(host.WINDOWS_KEY, "InstallationType"): "Server Core"}, 8, 32 * GiB, "host.os_ok"),
        ({(host.WINDOWS_KEY, "CurrentBuildNumber"): "9600", (host.WINDOWS_KEY, "ProductName"):
          "Windows Server 2012 R2 Standard"}, 4, 8 * GiB, "host.os_unsupported"),
        ({(host.WINDOWS_KEY, "InstallationType"): "Client", (host.WINDOWS_KEY, "ProductName"): "Windows 10 Pro"},
         8, 16 * GiB, "host.os_unsupported"),
        ({}, 2, 16 * GiB, "host.resources_low"),
        ({}, 4, 4 * GiB, "host.resources_low"),
        ({(host.WINDOWS_KEY, "CurrentBuildNumber"): DENIED}, 4, 8 * GiB, "host.unreadable"),
    ],
)  # fmt: skip
def test_os(changes: dict[tuple[str, str], Any], cores: int, memory: int, code: str) -> None:
    reader = FakeHost(changes, cores, memory)
    check = host.HostOsCheck()
    check.reader = reader
    finding = asyncio.run(check.run(Target(hostbase.TARGET), FakeContext()))
    assert finding.code == code, finding.summary
    assert finding.status == check.codes[code].status


def test_off_windows_every_host_check_is_a_skip_through_the_engine() -> None:
    from preflight.engine.runner import RunState, execute

    plan = plan_mod.build(profile_mod.load("entra-private-access"))
    from checks.connector_health import HostConnectorCheck

    checks = [host.HostTlsCheck(), host.HostDotnetCheck(), host.HostOsCheck(), HostConnectorCheck()]
    state = RunState()

    async def run() -> None:
        await execute(plan, checks, [], RunOptions(timeout=0.5), state, asyncio.Event())  # type: ignore[arg-type]

    asyncio.run(run())
    results = state.ordered_results()
    assert [(r.check, r.status, r.code) for r in results] == [(c.id, Status.SKIP, "host.not_windows") for c in checks]
    assert RunContext  # the checks ran through the real runner, which validated each code


def test_the_windows_reader_against_a_fake_winreg(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    from preflight.host.winhost import WinregReader

    class Key:
        def __init__(self, values: dict[str, tuple[Any, int]]) -> None:
            self.values = values

        def __enter__(self) -> Key:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

    fake = types.ModuleType("winreg")
    fake.HKEY_LOCAL_MACHINE, fake.KEY_READ, fake.KEY_WOW64_64KEY = 0x80000002, 0x20019, 0x0100  # type: ignore[attr-defined]
    fake.REG_SZ, fake.REG_EXPAND_SZ, fake.REG_DWORD = 1, 2, 4  # type: ignore[attr-defined]
    registry = {NET64.lower(): {"SchUseStrongCrypto": (1, 4)}, host.WINDOWS_KEY.lower(): {"ProductName": ("X", 4)}}
    opened: list[int] = []

    def open_key(hive: int, path: str, reserved: int, access: int) -> Key:
        opened.append(access)
        if path.lower() not in registry:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return Key(registry[path.lower()])

    def query(key: Key, name: str) -> tuple[Any, int]:
        if name not in key.values:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return key.values[name]

    fake.OpenKey, fake.QueryValueEx = open_key, query  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "winreg", fake)
    reader = WinregReader()
    assert reader.dword(NET64, "SchUseStrongCrypto") == 1
    assert reader.dword(NET32, "SchUseStrongCrypto") is None  # absent key
    assert reader.dword(NET64, "SystemDefaultTlsVersions") is None  # absent value
    with pytest.raises(RegistryTypeError):
        reader.string(host.WINDOWS_KEY, "ProductName")  # a DWORD where a string belongs
    assert all(access & fake.KEY_WOW64_64KEY for access in opened)  # type: ignore[attr-defined]
