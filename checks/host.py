"""`host.*`: is this Windows Server fit for the connector? TLS 1.2 in SCHANNEL and .NET, the .NET Framework
version, the Windows version and size. Each check reads its registry values through preflight/host/winhost.py and
judges them in a pure function; off Windows each is a skip, never a pass.

Sources: Microsoft Learn, "Understand Microsoft Entra application proxy connectors" (Windows Server 2012 R2 or
later, TLS 1.2 enabled before installing: SCHANNEL TLS 1.2 Client and Server Enabled=1 and DisabledByDefault=0,
.NET v4.0.30319 SchUseStrongCrypto=1; .NET 4.7.1 or later for 1.5.3437.0+) and "How to configure connectors for
Global Secure Access" (Windows Server 2016 or later, .NET 4.7.2 or later, 4 cores and 8 GiB recommended); the
TLS registry settings and .NET Framework version documentation for what each value means.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from checks.hostbase import SHARED, HostCheckBase
from checks.hostbase import host_finding as _finding
from preflight import CodeDoc, Finding, Status
from preflight.host.winhost import HostReader, Reading, read_dword, read_string

if TYPE_CHECKING:
    from preflight.context import Context

CONNECTOR_DOC = "https://learn.microsoft.com/en-us/entra/identity/app-proxy/application-proxy-connectors"
GSA_DOC = "https://learn.microsoft.com/en-us/entra/global-secure-access/how-to-configure-connectors"


SCHANNEL = "SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.2\\"
DOTNET_VIEWS = {
    "64-bit": "SOFTWARE\\Microsoft\\.NETFramework\\v4.0.30319",
    "32-bit (WOW6432Node)": "SOFTWARE\\WOW6432Node\\Microsoft\\.NETFramework\\v4.0.30319",
}
SET_TLS12 = (
    f"Set HKLM\\{SCHANNEL}Client and ...\\Server: Enabled=1 and DisabledByDefault=0 (REG_DWORD), and under "
    + " and ".join(f"HKLM\\{key}" for key in DOTNET_VIEWS.values())
    + f": SchUseStrongCrypto=1, then restart the server ({CONNECTOR_DOC})."
)

TLS_CODES: Final[dict[str, CodeDoc]] = {
    "host.tls12_ok": CodeDoc(
        Status.PASS,
        "TLS 1.2 is enabled in SCHANNEL and .NET uses strong cryptography in both its 64-bit and 32-bit views.",
        f"The SCHANNEL TLS 1.2 Client and Server keys do not disable it, and SchUseStrongCrypto is 1 under "
        f"{' and '.join(DOTNET_VIEWS.values())}.",
        "Nothing to do.",
    ),
    "host.tls12_disabled": CodeDoc(
        Status.FAIL,
        "TLS 1.2 is switched off in SCHANNEL (Enabled=0) or not used by default (DisabledByDefault=1): the connector "
        "cannot register or connect, and its installation fails.",
        f"HKLM\\{SCHANNEL}Client or Server has Enabled=0 or DisabledByDefault=1 (absent values leave Windows' "
        "default, which enables TLS 1.2 on Windows Server 2012 R2 and later).",
        SET_TLS12,
    ),
    "host.strong_crypto_off": CodeDoc(
        Status.FAIL,
        ".NET is told not to use strong cryptography (SchUseStrongCrypto=0) in one of its views: the connector's "
        ".NET code may not offer TLS 1.2.",
        "SchUseStrongCrypto is 0 under one of the .NET v4.0.30319 keys (the view is in the evidence).",
        SET_TLS12,
    ),
    "host.strong_crypto_unset": CodeDoc(
        Status.WARN,
        "SchUseStrongCrypto is not set in one of .NET's views. .NET 4.6+ defaults to strong cryptography, but "
        "Microsoft asks for the value on connector hosts; hardening tools and older components rely on it.",
        "SchUseStrongCrypto is absent under one of the .NET v4.0.30319 keys (the view is in the evidence).",
        SET_TLS12,
    ),
}

# .NET Framework 4.x Release values (Microsoft Learn: "How to: Determine which .NET Framework versions are
# installed"): the smallest Release of each version.
DOTNET_RELEASES = (
    (533320, "4.8.1"),
    (528040, "4.8"),
    (461808, "4.7.2"),
    (461308, "4.7.1"),
    (460798, "4.7"),
    (394802, "4.6.2"),
    (394254, "4.6.1"),
    (393295, "4.6"),
    (379893, "4.5.2"),
    (378675, "4.5.1"),
    (378389, "4.5"),
)
DOTNET_KEY = "SOFTWARE\\Microsoft\\NET Framework Setup\\NDP\\v4\\Full"
DOTNET_MINIMUM = 461808  # 4.7.2

DOTNET_CODES: Final[dict[str, CodeDoc]] = {
    "host.dotnet_ok": CodeDoc(
        Status.PASS,
        ".NET Framework 4.7.2 or later is installed.",
        f"HKLM\\{DOTNET_KEY}\\Release is {DOTNET_MINIMUM} or more.",
        "Nothing to do.",
    ),
    "host.dotnet_too_old": CodeDoc(
        Status.FAIL,
        "The installed .NET Framework is older than 4.7.2, which the connector needs: the installation fails.",
        f"HKLM\\{DOTNET_KEY}\\Release is below {DOTNET_MINIMUM} (the version it stands for is in the evidence).",
        f"Install .NET Framework 4.8 (or 4.7.2 at least) and restart ({GSA_DOC}).",
    ),
    "host.dotnet_missing": CodeDoc(
        Status.FAIL,
        "No .NET Framework 4.x is installed: the connector cannot be installed.",
        f"HKLM\\{DOTNET_KEY}\\Release is absent.",
        f"Install .NET Framework 4.8 and restart ({GSA_DOC}).",
    ),
}

WINDOWS_KEY = "SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion"
SERVER_2016_BUILD = 14393
SERVER_BUILDS = (
    (26100, "Windows Server 2025"),
    (20348, "Windows Server 2022"),
    (17763, "Windows Server 2019"),
    (14393, "Windows Server 2016"),
    (9600, "Windows Server 2012 R2"),
)
MIN_CORES, MIN_MEMORY = 4, 8 * 1024**3

OS_CODES: Final[dict[str, CodeDoc]] = {
    "host.os_ok": CodeDoc(
        Status.PASS,
        "Windows Server 2016 or later, with the recommended 4 cores and 8 GiB of memory.",
        f"HKLM\\{WINDOWS_KEY}: InstallationType Server (or Server Core), CurrentBuildNumber {SERVER_2016_BUILD} or "
        "more; processor and memory counts from Windows.",
        "Nothing to do.",
    ),
    "host.os_unsupported": CodeDoc(
        Status.FAIL,
        "This is not Windows Server 2016 or later: a client Windows, or an older server. The connector is "
        "supported on Windows Server 2016 and later only.",
        f"HKLM\\{WINDOWS_KEY}\\InstallationType is not Server, or CurrentBuildNumber is below {SERVER_2016_BUILD}.",
        f"Install the connector on Windows Server 2016 or later ({GSA_DOC}).",
    ),
    "host.resources_low": CodeDoc(
        Status.WARN,
        "The server has fewer than the recommended 4 cores or 8 GiB of memory: the connector works, but may not "
        "keep up with its traffic.",
        "The processor count or the physical memory Windows reports is below the recommendation.",
        f"Give the server 4 cores and 8 GiB of memory, or plan more connectors per group ({GSA_DOC}).",
    ),
}


def _unreadable(codes: dict[str, CodeDoc], readings: Sequence[Reading], evidence: dict[str, Any]) -> Finding | None:
    broken = [r for r in readings if r.problem is not None]
    if not broken:
        return None
    return _finding(codes, "host.unreadable", f"{broken[0].where}: {broken[0].problem}", evidence)


def judge_tls(schannel: Sequence[Reading], strong_crypto: dict[str, Reading]) -> Finding:
    """SCHANNEL TLS 1.2 Client/Server (Enabled, DisabledByDefault) and SchUseStrongCrypto per .NET view. Pure."""
    evidence: dict[str, Any] = {
        "schannel": [r.to_json() for r in schannel],
        "dotnet": {view: r.to_json() for view, r in strong_crypto.items()},
    }
    broken = _unreadable(TLS_CODES, [*schannel, *strong_crypto.values()], evidence)
    if broken is not None:
        return broken
    off = [
        r
        for r in schannel
        if (r.name == "Enabled" and r.value == 0) or (r.name == "DisabledByDefault" and r.value == 1)
    ]
    if off:
        listed = ", ".join(f"{r.key.rsplit(chr(92), 1)[-1]} {r.name}={r.value}" for r in off)
        return _finding(TLS_CODES, "host.tls12_disabled", f"TLS 1.2 is switched off in SCHANNEL: {listed}", evidence)
    zero = [view for view, r in strong_crypto.items() if r.value == 0]
    if zero:
        return _finding(
            TLS_CODES, "host.strong_crypto_off", f"SchUseStrongCrypto=0 in .NET's {', '.join(zero)} view", evidence
        )
    unset = [view for view, r in strong_crypto.items() if r.value is None]
    if unset:
        return _finding(
            TLS_CODES,
            "host.strong_crypto_unset",
            f"SchUseStrongCrypto is not set in .NET's {', '.join(unset)} view",
            evidence,
        )
    return _finding(
        TLS_CODES, "host.tls12_ok", "TLS 1.2 enabled in SCHANNEL; .NET uses strong cryptography in both views", evidence
    )


def dotnet_version(release: int) -> str:
    return next((name for minimum, name in DOTNET_RELEASES if release >= minimum), "older than 4.5")


def judge_dotnet(release: Reading) -> Finding:
    evidence: dict[str, Any] = {"release": release.to_json()}
    broken = _unreadable(DOTNET_CODES, [release], evidence)
    if broken is not None:
        return broken
    if release.value is None:
        return _finding(
            DOTNET_CODES, "host.dotnet_missing", f"no .NET Framework 4.x ({release.where} is absent)", evidence
        )
    value = int(release.value)
    evidence["version"] = dotnet_version(value)
    if value < DOTNET_MINIMUM:
        return _finding(
            DOTNET_CODES,
            "host.dotnet_too_old",
            f".NET Framework {evidence['version']} (Release {value}); the connector needs 4.7.2 or later",
            evidence,
        )
    return _finding(DOTNET_CODES, "host.dotnet_ok", f".NET Framework {evidence['version']} (Release {value})", evidence)


def server_name(build: int) -> str:
    return next((name for minimum, name in SERVER_BUILDS if build >= minimum), "older than Windows Server 2012 R2")


def judge_os(product: Reading, installation: Reading, build: Reading, cores: int | None, memory: int | None) -> Finding:
    evidence: dict[str, Any] = {
        "product_name": product.to_json(),
        "installation_type": installation.to_json(),
        "build": build.to_json(),
        "cores": cores,
        "memory_bytes": memory,
    }
    broken = _unreadable(OS_CODES, [product, installation, build], evidence)
    if broken is not None:
        return broken
    number = int(str(build.value)) if str(build.value or "").isdigit() else 0
    server = str(installation.value or "").lower().startswith("server")
    name = f"{product.value or 'Windows'} (build {number or '?'})"
    if not server or number < SERVER_2016_BUILD:
        why = "not a server edition" if not server else f"{server_name(number)}, older than Windows Server 2016"
        return _finding(OS_CODES, "host.os_unsupported", f"{name}: {why}", evidence)
    short = [f"{cores} cores" for _ in [0] if cores is not None and cores < MIN_CORES]
    short += [f"{memory / 1024**3:.1f} GiB" for _ in [0] if memory is not None and memory < MIN_MEMORY * 0.97]
    if short:
        return _finding(
            OS_CODES, "host.resources_low", f"{name} with {' and '.join(short)} (recommended: 4 cores, 8 GiB)", evidence
        )
    size = f"{cores or '?'} cores, {memory / 1024**3:.0f} GiB" if memory else f"{cores or '?'} cores"
    return _finding(OS_CODES, "host.os_ok", f"{name}, {size}", evidence)


@dataclasses.dataclass(frozen=True)
class HostTlsObserved:
    """SCHANNEL's TLS 1.2 Client and Server values, and SchUseStrongCrypto in each of .NET's registry views."""

    schannel: tuple[Reading, ...]
    strong_crypto: Mapping[str, Reading]


@dataclasses.dataclass(frozen=True)
class DotnetObserved:
    release: Reading  # NDP\v4\Full\Release


@dataclasses.dataclass(frozen=True)
class OsObserved:
    product: Reading
    installation: Reading
    build: Reading
    cores: int | None
    memory_bytes: int | None


def observe_tls(reader: HostReader) -> HostTlsObserved:
    schannel = tuple(
        read_dword(reader, SCHANNEL + side, name)
        for side in ("Client", "Server")
        for name in ("Enabled", "DisabledByDefault")
    )
    return HostTlsObserved(
        schannel, {view: read_dword(reader, key, "SchUseStrongCrypto") for view, key in DOTNET_VIEWS.items()}
    )


def observe_os(reader: HostReader) -> OsObserved:
    return OsObserved(
        read_string(reader, WINDOWS_KEY, "ProductName"),
        read_string(reader, WINDOWS_KEY, "InstallationType"),
        read_string(reader, WINDOWS_KEY, "CurrentBuildNumber"),
        reader.cpu_count(),
        reader.memory_bytes(),
    )


class HostTlsCheck(HostCheckBase[HostTlsObserved]):
    id = "host.tls"
    title = "TLS 1.2 enabled in SCHANNEL and strong cryptography in .NET (64-bit and 32-bit views)"
    requires = "Windows (reads the registry); an administrator for every value"
    codes = TLS_CODES | SHARED

    async def read(self, reader: HostReader, ctx: Context) -> HostTlsObserved:
        return observe_tls(reader)

    def judge_windows(self, seen: HostTlsObserved) -> Finding:
        return judge_tls(seen.schannel, dict(seen.strong_crypto))


class HostDotnetCheck(HostCheckBase[DotnetObserved]):
    id = "host.dotnet"
    title = ".NET Framework 4.7.2 or later installed"
    requires = "Windows (reads the registry)"
    codes = DOTNET_CODES | SHARED

    async def read(self, reader: HostReader, ctx: Context) -> DotnetObserved:
        return DotnetObserved(read_dword(reader, DOTNET_KEY, "Release"))

    def judge_windows(self, seen: DotnetObserved) -> Finding:
        return judge_dotnet(seen.release)


class HostOsCheck(HostCheckBase[OsObserved]):
    id = "host.os"
    title = "Windows Server 2016 or later, 4 cores and 8 GiB recommended"
    requires = "Windows (reads the registry and the processor and memory counts)"
    codes = OS_CODES | SHARED

    async def read(self, reader: HostReader, ctx: Context) -> OsObserved:
        return observe_os(reader)

    def judge_windows(self, seen: OsObserved) -> Finding:
        return judge_os(seen.product, seen.installation, seen.build, seen.cores, seen.memory_bytes)
