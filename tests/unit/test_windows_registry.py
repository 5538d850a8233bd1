"""The registry readers against a fake `winreg` with Windows' semantics: a 32-bit process sees the WOW6432Node view
unless it asks for KEY_WOW64_64KEY, a missing key is FileNotFoundError, values carry their REG_* type."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest
from helpers import FIXTURES

from preflight.host import installed
from preflight.proxy.windows import INTERNET_SETTINGS as INTERNET_SETTINGS_PATH
from preflight.proxy.windows import RegistryReader, build_winhttp_settings, parse_winhttp_settings

CONNECTOR_FIXTURES = FIXTURES / "windows" / "connector"
THUMBPRINT = "CC45A1CC0AA7143BD320C09E21523980AAAA9705"


class FakeWinreg(types.ModuleType):
    HKEY_LOCAL_MACHINE, HKEY_CURRENT_USER, HKEY_USERS = 0x80000002, 0x80000001, 0x80000003
    KEY_READ, KEY_WOW64_64KEY = 0x20019, 0x0100
    REG_SZ, REG_DWORD, REG_BINARY = 1, 4, 3

    def __init__(self, native: dict[tuple[int, str], dict[str, tuple[Any, int]]],
                 wow6432: dict[tuple[int, str], dict[str, tuple[Any, int]]]) -> None:  # fmt: skip
        super().__init__("winreg")
        self.native, self.wow6432 = native, wow6432  # the 64-bit view, and what a 32-bit process sees by default
        self.opened: list[tuple[int, str, int]] = []
        self.denied: set[tuple[int, str]] = set()  # keys whose ACL refuses this process

    def OpenKey(self, hive: int, path: str, reserved: int = 0, access: int = 0x20019) -> Any:
        self.opened.append((hive, path, access))
        if (hive, path.lower()) in self.denied:
            raise PermissionError(13, "Access is denied")  # WinError 5, as winreg raises it
        view = self.native if access & self.KEY_WOW64_64KEY or hive != self.HKEY_LOCAL_MACHINE else self.wow6432
        if (hive, path.lower()) not in view:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        values = KeyValues(view[(hive, path.lower())])
        values.subkeys = sorted({p.split("\\")[path.count("\\") + 1] for h, p in view
                                 if h == hive and p.startswith(path.lower() + "\\")})  # fmt: skip

        class Key:
            def __enter__(self) -> KeyValues:
                return values

            def __exit__(self, *exc: object) -> None:
                return None

        return Key()

    def QueryValueEx(self, key: dict[str, tuple[Any, int]], name: str) -> tuple[Any, int]:
        if name not in key:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return key[name]

    def QueryInfoKey(self, key: KeyValues) -> tuple[int, int, int]:
        return len(key.subkeys), len(key), 0

    def EnumKey(self, key: KeyValues, index: int) -> str:
        if index >= len(key.subkeys):
            raise OSError(259, "No more data is available")  # ERROR_NO_MORE_ITEMS
        return key.subkeys[index]


class KeyValues(dict[str, tuple[Any, int]]):
    """An open key: its values, and the names of its subkeys (what QueryInfoKey and EnumKey see)."""

    subkeys: list[str]


CONNECTIONS = r"software\microsoft\windows\currentversion\internet settings\connections"
INTERNET = r"software\microsoft\windows\currentversion\internet settings"
CERTIFICATE = (installed.MACHINE_STORE_KEY + THUMBPRINT).lower()


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> FakeWinreg:
    proxied = build_winhttp_settings("proxy.contoso.com:8080", "<local>")
    fake = FakeWinreg(
        native={
            (FakeWinreg.HKEY_LOCAL_MACHINE, CONNECTIONS): {"WinHttpSettings": (proxied, FakeWinreg.REG_BINARY)},
            (FakeWinreg.HKEY_CURRENT_USER, INTERNET): {"ProxyEnable": (1, FakeWinreg.REG_DWORD),
                                                       "ProxyServer": ("wininet.contoso.com:3128", FakeWinreg.REG_SZ)},
            (FakeWinreg.HKEY_LOCAL_MACHINE, CERTIFICATE): {
                "Blob": ((CONNECTOR_FIXTURES / "connector-cert.blob").read_bytes(), FakeWinreg.REG_BINARY)},
        },
        wow6432={(FakeWinreg.HKEY_LOCAL_MACHINE, CONNECTIONS): {
            "WinHttpSettings": (build_winhttp_settings(), FakeWinreg.REG_BINARY)}},  # direct: the wrong view
    )  # fmt: skip
    monkeypatch.setitem(sys.modules, "winreg", fake)
    return fake


def test_winhttp_is_read_from_the_64_bit_view(registry: FakeWinreg) -> None:
    blob = RegistryReader().winhttp_blob()
    assert blob is not None and parse_winhttp_settings(blob).proxy == "proxy.contoso.com:8080"
    assert registry.opened[0][2] & FakeWinreg.KEY_WOW64_64KEY


def test_wininet_values_of_the_user(registry: FakeWinreg) -> None:
    values = RegistryReader().wininet_values()
    assert values == {"ProxyEnable": 1, "ProxyServer": "wininet.contoso.com:3128"}


def test_the_connector_certificate_from_the_machine_store(registry: FakeWinreg) -> None:
    reader = installed.WindowsConnectorReader()
    blob = reader.machine_certificate_blob(THUMBPRINT)
    assert blob is not None and installed.connector_identity(installed.certificate_from_blob(blob)).tenant_id
    assert registry.opened[-1][2] & FakeWinreg.KEY_WOW64_64KEY
    assert reader.machine_certificate_blob("0" * 40) is None  # not there: FileNotFoundError is absence


def test_a_blob_of_the_wrong_type_is_an_error_not_a_crash(registry: FakeWinreg) -> None:
    registry.native[(FakeWinreg.HKEY_LOCAL_MACHINE, CERTIFICATE)]["Blob"] = ("text", FakeWinreg.REG_SZ)
    with pytest.raises(installed.InstalledConnectorError, match="not REG_BINARY"):
        installed.WindowsConnectorReader().machine_certificate_blob(THUMBPRINT)


TCPIP = r"system\currentcontrolset\services\tcpip\parameters"
POLICY = r"software\policies\microsoft\windows nt\dnsclient"


def test_wininet_auto_detect_comes_from_the_users_default_connection_settings(registry: FakeWinreg) -> None:
    blob = build_winhttp_settings(flags=1 | 8)
    registry.native[(FakeWinreg.HKEY_CURRENT_USER, CONNECTIONS)] = {"DefaultConnectionSettings": (blob, 3)}
    values = RegistryReader().wininet_values()
    assert values is not None and values["DefaultConnectionSettings"] == blob


def test_dns_search_list_policy_wins_then_each_adapter(registry: FakeWinreg) -> None:
    """Group Policy's SearchList replaces the local one; every adapter's Domain and DhcpDomain follow."""
    sz = FakeWinreg.REG_SZ
    hklm = FakeWinreg.HKEY_LOCAL_MACHINE
    registry.native[(hklm, TCPIP)] = {"Domain": ("corp.contoso.test", sz), "SearchList": ("local.test", sz)}
    registry.native[(hklm, TCPIP + r"\interfaces")] = {}
    registry.native[(hklm, TCPIP + r"\interfaces\{4d36e972-1}")] = {"DhcpDomain": ("Branch.Contoso.Test.", sz)}
    registry.native[(hklm, TCPIP + r"\interfaces\{4d36e972-2}")] = {"Domain": ("", sz)}
    assert RegistryReader().dns_search_list() == ("local.test", "branch.contoso.test")
    registry.native[(hklm, POLICY)] = {"SearchList": ("a.contoso.test,b.contoso.test", sz)}
    assert RegistryReader().dns_search_list() == ("a.contoso.test", "b.contoso.test", "branch.contoso.test")
    assert RegistryReader().primary_dns_domain() == "corp.contoso.test"
    assert all(access & FakeWinreg.KEY_WOW64_64KEY for hive, _path, access in registry.opened if hive == hklm)


NETWORK_SERVICE = FakeWinreg.HKEY_USERS


def test_wininet_values_of_the_connectors_account_and_of_the_machine(registry: FakeWinreg) -> None:
    from preflight.proxy.windows import CONNECTOR_SERVICE, INTERNET_SETTINGS_POLICY

    dword, sz, hklm = FakeWinreg.REG_DWORD, FakeWinreg.REG_SZ, FakeWinreg.HKEY_LOCAL_MACHINE
    registry.native[(NETWORK_SERVICE, "s-1-5-20\\" + INTERNET)] = {
        "ProxyEnable": (1, dword),
        "ProxyServer": ("ns.contoso.test:8080", sz),
    }
    registry.native[(hklm, INTERNET)] = {"ProxyEnable": (0, dword)}
    registry.native[(hklm, INTERNET_SETTINGS_POLICY.lower())] = {"ProxySettingsPerUser": (0, dword)}
    registry.native[(hklm, CONNECTOR_SERVICE.lower())] = {"ObjectName": ("NT AUTHORITY\\NetworkService", sz)}
    registry.wow6432[(hklm, INTERNET)] = {"ProxyEnable": (1, dword)}  # the 32-bit view: not the connector's
    reader = RegistryReader()
    assert reader.wininet_values("HKU\\S-1-5-20") == {"ProxyEnable": 1, "ProxyServer": "ns.contoso.test:8080"}
    assert registry.opened[0][:2] == (NETWORK_SERVICE, "S-1-5-20\\" + INTERNET_SETTINGS_PATH)
    assert reader.wininet_values("HKLM") == {"ProxyEnable": 0}
    assert reader.wininet_values("HKU\\S-1-5-19") is None  # Local Service has none
    assert reader.registry_value(INTERNET_SETTINGS_POLICY, "ProxySettingsPerUser") == 0
    assert reader.registry_value(CONNECTOR_SERVICE, "ObjectName") == "NT AUTHORITY\\NetworkService"
    assert reader.registry_value(CONNECTOR_SERVICE, "Missing") is None
    assert all(access & FakeWinreg.KEY_WOW64_64KEY for hive, _path, access in registry.opened if hive == hklm)


def test_a_hive_this_process_may_not_read_raises_for_the_caller_to_report(registry: FakeWinreg) -> None:
    registry.native[(NETWORK_SERVICE, "s-1-5-20\\" + INTERNET)] = {"ProxyEnable": (1, FakeWinreg.REG_DWORD)}
    registry.denied.add((NETWORK_SERVICE, "s-1-5-20\\" + INTERNET))
    with pytest.raises(PermissionError):
        RegistryReader().wininet_values("HKU\\S-1-5-20")
