"""Windows file semantics, proven with fakes: a report held open by another program (sharing violations retried
with a bounded backoff, then one clear error), profiles and connector configurations saved as UTF-16 or with a
BOM, and the connector's files found from %ProgramW6432% / %ProgramFiles% rather than a hard-coded C:\\."""

from __future__ import annotations

from pathlib import Path

import pytest

from preflight import profile as profile_mod
from preflight.proxy.settings import windows_settings
from preflight.proxy.windows import FileReader, connector_config_paths, parse_dotnet_config
from preflight.reporting import output


class Locked(PermissionError):
    """What os.replace raises on Windows while Excel (or a scanner) has the target open."""

    def __init__(self, winerror: int = 32) -> None:
        super().__init__(13, "The process cannot access the file because it is being used by another process")
        self.winerror = winerror


def test_a_locked_report_is_retried_until_the_lock_goes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target, calls, slept = tmp_path / "report.csv", [], []
    real = output.os.replace

    def replace(source: str, dest: Path) -> None:
        calls.append(dest)
        if len(calls) < 3:  # a scanner holds the new file for a moment
            raise Locked()
        real(source, dest)

    monkeypatch.setattr(output.os, "replace", replace)
    monkeypatch.setattr(output.time, "sleep", slept.append)
    output.write_atomic(target, "a,b\n")
    assert target.read_text() == "a,b\n" and len(calls) == 3 and slept == [0.05, 0.1]


def test_a_report_that_stays_locked_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(output.os, "replace", lambda source, dest: (_ for _ in ()).throw(Locked(33)))
    monkeypatch.setattr(output.time, "sleep", slept.append)
    target = tmp_path / "report.csv"
    target.write_text("the old report\n")
    with pytest.raises(PermissionError, match="open in another program"):
        output.write_atomic(target, "new\n")
    assert sum(slept) < 3  # bounded
    assert target.read_text() == "the old report\n" and sorted(p.name for p in tmp_path.iterdir()) == ["report.csv"]


def test_an_access_denied_that_is_not_a_lock_is_not_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(output.os, "replace", lambda source, dest: (_ for _ in ()).throw(PermissionError(13, "no")))
    monkeypatch.setattr(output.time, "sleep", slept.append)
    with pytest.raises(PermissionError):
        output.write_atomic(tmp_path / "r.json", "{}")
    assert slept == []


PROFILE = 'name = "notepad"\n[[endpoint]]\nhost = "login.microsoftonline.com"\nports = [443]\npurpose = "Anmeldung – Zeichen"\nsource = "https://learn.microsoft.com/"\n'  # noqa: E501


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig", "utf-16-be-bom", "utf-8"])
def test_profiles_saved_by_notepad_load(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "profile.toml"
    text = PROFILE.replace("\n", "\r\n")
    data = b"\xfe\xff" + text.encode("utf-16-be") if encoding == "utf-16-be-bom" else text.encode(encoding)
    path.write_bytes(data)
    loaded = profile_mod.load(str(path))
    assert loaded.endpoints[0].purpose == "Anmeldung – Zeichen"


def test_a_profile_in_another_encoding_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "profile.toml"
    path.write_bytes(PROFILE.encode("cp1252"))
    with pytest.raises(profile_mod.ProfileError, match=r"not UTF-8 or UTF-16 text"):
        profile_mod.load(str(path))


CONFIG = ('<?xml version="1.0" encoding="{encoding}"?>\r\n<configuration><system.net><defaultProxy enabled="true">'
          '<proxy proxyaddress="http://proxy.contoso.com:8080" usesystemdefault="false" /></defaultProxy>'
          "</system.net></configuration>\r\n")  # fmt: skip


@pytest.mark.parametrize(("declared", "codec"), [("utf-16", "utf-16"), ("utf-8", "utf-8-sig"), ("utf-8", "utf-8")])
def test_connector_configs_saved_as_utf16_or_with_a_bom_load(tmp_path: Path, declared: str, codec: str) -> None:
    path = tmp_path / "ApplicationProxyConnectorService.exe.config"
    path.write_bytes(CONFIG.format(encoding=declared).encode(codec))
    settings = windows_settings(None, str(path))
    assert not settings.problems, settings.problems
    assert settings.connector is not None and settings.connector.proxy_address == "http://proxy.contoso.com:8080"
    text = FileReader().config_text(str(path))
    assert text is not None and parse_dotnet_config(text, str(path)).found


def test_connector_configs_are_found_where_this_windows_keeps_program_files() -> None:
    env = {"ProgramW6432": r"D:\Program Files", "ProgramFiles": r"D:\Program Files (x86)", "SystemRoot": r"E:\WIN"}
    paths = connector_config_paths(env)
    assert all(p.startswith("D:\\Program Files\\Microsoft ") for p in paths[:-1])  # the 64-bit folder, from 32-bit
    assert paths[-1] == r"E:\WIN\Microsoft.NET\Framework64\v4.0.30319\Config\machine.config"
    assert connector_config_paths({"PROGRAMFILES": r"C:\Programme"})[0].startswith("C:\\Programme\\")  # 64-bit
    assert connector_config_paths({})[0].startswith("C:\\Program Files\\")
