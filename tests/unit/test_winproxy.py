"""The Windows proxy settings parsers, on fixture files, and how their routes combine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import FIXTURES
from proxysettings import with_inputs

from checks.proxy import judge_effective, observe_effective
from preflight import profile as profile_mod
from preflight.engine import plan as plan_mod
from preflight.proxy import ProxySettings, parse_proxy_url, windows_settings
from preflight.proxy.windows import (
    CONNECTOR_CONFIGS,
    CONNECTOR_SERVICE,
    INTERNET_SETTINGS_POLICY,
    MACHINE_CONFIG,
    NET_DEFAULTS,
    NO_RECORD,
    UPDATER_CONFIGS,
    UPDATER_SERVICE,
    BypassList,
    WindowsSettingsError,
    build_connection_settings,
    build_winhttp_settings,
    connector_wininet_scope,
    parse_dotnet_config,
    parse_proxy_server,
    parse_winhttp_settings,
    parse_wininet,
)

WINDOWS_FIXTURES = FIXTURES / "windows"


def fixture(name: str) -> bytes:
    return (WINDOWS_FIXTURES / name).read_bytes()


def registry_values(name: str) -> dict[str, object]:
    """A fixture of Internet Settings values: REG_BINARY values are hex strings under a "REG_BINARY" key."""
    values: dict[str, object] = json.loads((WINDOWS_FIXTURES / name).read_text())
    return {key: bytes.fromhex(value["REG_BINARY"]) if isinstance(value, dict) else value
            for key, value in values.items()}  # fmt: skip


def test_winhttp_direct_record_from_netsh_reset() -> None:
    settings = parse_winhttp_settings(fixture("winhttp-direct.bin"))
    assert (settings.version, settings.flags, settings.proxy, settings.bypass) == (0x18, 1, "", "")
    assert not settings.manual


def test_winhttp_proxy_record() -> None:
    settings = parse_winhttp_settings(fixture("winhttp-proxy.bin"))
    assert settings.manual and settings.counter == 3
    assert settings.proxy == "198.18.1.1:3128"
    assert settings.bypass == "<local>;*.contoso.com"
    assert settings.autoconfig_url == ""


def test_winhttp_per_scheme_record() -> None:
    settings = parse_winhttp_settings(fixture("winhttp-per-scheme.bin"))
    assert parse_proxy_server(settings.proxy) == {"http": "198.18.1.1:3128", "https": "198.18.1.1:3129"}


@pytest.mark.parametrize("name", ["winhttp-truncated.bin", "winhttp-length-past-end.bin"])
def test_corrupt_winhttp_records_are_one_line_errors(name: str) -> None:
    with pytest.raises(WindowsSettingsError) as caught:
        parse_winhttp_settings(fixture(name))
    assert "\n" not in str(caught.value) and "offset" in str(caught.value)


@pytest.mark.parametrize("blob", [b"", b"\x00" * 11, b"\xff" * 100_000])
def test_hostile_winhttp_blobs(blob: bytes) -> None:
    with pytest.raises(WindowsSettingsError):
        parse_winhttp_settings(blob)


def test_round_trip() -> None:
    blob = build_winhttp_settings("proxy.lab:8080", "<local>", "http://wpad.lab/proxy.pac")
    parsed = parse_winhttp_settings(blob)
    assert (parsed.proxy, parsed.bypass, parsed.autoconfig_url, parsed.uses_autoconfig) == (
        "proxy.lab:8080", "<local>", "http://wpad.lab/proxy.pac", True)  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [("proxy:8080", {"*": "proxy:8080"}), ("http=a:1;https=b:2", {"http": "a:1", "https": "b:2"}),
     ("  http=a:1  https=b:2 ", {"http": "a:1", "https": "b:2"}), ("", {})],
)  # fmt: skip
def test_proxy_server_syntax(text: str, expected: dict[str, str]) -> None:
    assert parse_proxy_server(text) == expected


@pytest.mark.parametrize(
    ("bypass", "host", "matched"),
    [("<local>", "intranet", "<local>"), ("<local>", "login.microsoftonline.com", None),
     ("*.contoso.com", "app.contoso.com", "*.contoso.com"), ("*.contoso.com", "contoso.com", None),
     ("198.18.*", "198.18.50.10", "198.18.*"), ("*.msappproxy.net;<local>", "x.msappproxy.net", "*.msappproxy.net")],
)  # fmt: skip
def test_windows_bypass_lists(bypass: str, host: str, matched: str | None) -> None:
    assert BypassList.parse(bypass).matches(host) == matched


def test_wininet_values() -> None:
    settings = parse_wininet(registry_values("wininet-proxy.json"))
    assert settings.enabled and settings.servers == {"*": "198.18.1.1:3128"}
    assert settings.bypass.matches("a.msappproxy.net") == "*.msappproxy.net"
    assert settings.note is None  # Internet Options writes the record and its legacy mirror alike
    assert not parse_wininet(registry_values("wininet-disabled.json")).enabled
    with pytest.raises(WindowsSettingsError):
        parse_wininet({"ProxyEnable": "yes"})


def test_connector_config_with_proxy_and_bypass() -> None:
    config = parse_dotnet_config((WINDOWS_FIXTURES / "connector-proxy.exe.config").read_text(), "connector.exe.config")
    assert config.found and config.enabled and not config.use_system_default
    assert config.proxy_address == "http://198.18.1.1:3128"
    assert config.bypassed("crl.microsoft.com") == r"crl\.microsoft\.com"
    assert config.bypassed("intranet") == "bypassonlocal"
    assert config.bypassed("login.microsoftonline.com") is None


def test_connector_config_variants() -> None:
    disabled = parse_dotnet_config((WINDOWS_FIXTURES / "connector-disabled.exe.config").read_text(), "d")
    assert disabled.found and not disabled.enabled
    system = parse_dotnet_config((WINDOWS_FIXTURES / "connector-systemdefault.exe.config").read_text(), "s")
    assert system.found and system.use_system_default and system.proxy_address is None
    assert not parse_dotnet_config((WINDOWS_FIXTURES / "machine.config").read_text(), "m").found


@pytest.mark.parametrize("name", ["connector-entities.exe.config", "connector-broken.exe.config"])
def test_hostile_or_broken_configs_are_refused(name: str) -> None:
    with pytest.raises(WindowsSettingsError) as caught:
        parse_dotnet_config((WINDOWS_FIXTURES / name).read_text(), name)
    assert name in str(caught.value) and "\n" not in str(caught.value)


class FixtureReader:
    """The registry, as fixture files: what RegistryReader returns on Windows."""

    def __init__(self, winhttp: str | None, wininet: str | None, configs: dict[str, str],
                 domain: str | None = None, *, user: str | None = None,
                 values: dict[str, object] | None = None) -> None:  # fmt: skip
        self.winhttp, self.configs, self.domain = winhttp, configs, domain
        # `wininet`: the connector's account's (Network Service's) settings; `user`: this tool's user's
        self.hives: dict[str, str | None] = {r"HKU\S-1-5-20": wininet, "HKCU": user}
        self.values = values or {}  # HKLM values by "path\\name": the proxy policy, the service's ObjectName

    def registry_value(self, path: str, name: str) -> object:
        found = self.values.get(f"{path}\\{name}")
        if isinstance(found, OSError):
            raise found
        return found

    def primary_dns_domain(self) -> str | None:
        return self.domain

    def dns_search_list(self) -> tuple[str, ...]:
        return ()

    def winhttp_blob(self) -> bytes | None:
        return fixture(self.winhttp) if self.winhttp else None

    def wininet_values(self, hive: str = "HKCU") -> dict[str, object] | None:
        name = self.hives.get(hive)
        if name == "access-denied":
            raise PermissionError(13, "Access is denied")
        return registry_values(name) if name else None

    def config_text(self, path: str) -> str | None:
        name = self.configs.get(path)
        return (WINDOWS_FIXTURES / name).read_text() if name else None


def windows_proxy(reader: Any, connector_config: str | None = None) -> ProxySettings:
    return ProxySettings(windows_settings(reader, connector_config))


def plan_with(settings: ProxySettings) -> plan_mod.Plan:
    return plan_mod.build(profile_mod.load("entra-private-access"), proxy=settings)


def test_connector_route_wins_and_crl_bypass_is_divergent_from_winhttp() -> None:
    """The GlobalSecureAccess#24 shape: the connector proxies everything but WinHTTP (revocation) goes direct."""
    from preflight.proxy.windows import CONNECTOR_CONFIGS

    reader = FixtureReader("winhttp-direct.bin", None, {CONNECTOR_CONFIGS[0]: "connector-proxy.exe.config"})
    settings = windows_proxy(reader)
    plan = plan_with(settings)
    login = plan.route("login.microsoftonline.com", 443)
    assert login.proxy is not None and login.source.startswith("connector (")
    assert plan.route("crl.microsoft.com", 80).direct  # the config's own bypass list
    finding = judge_effective(observe_effective(plan))
    # The sources disagree, and the disagreement that breaks chain validation is named with its fix.
    assert finding.code == "proxy.system_proxy_missing"
    assert "netsh winhttp set proxy 198.18.1.1:3128" in finding.summary
    assert finding.evidence["divergent"]
    assert all(row["connector_proxy"] == "http://198.18.1.1:3128" for row in finding.evidence["system_route_direct"])
    assert "crl.microsoft.com:80" not in {row["target"] for row in finding.evidence["system_route_direct"]}
    by_source = finding.evidence["routes"]["login.microsoftonline.com:443"]["by_source"]
    assert by_source == {
        "tested": "http://198.18.1.1:3128",
        "connector": "http://198.18.1.1:3128",
        "updater": "direct",
        "winhttp": "direct",
    }  # the updater has no <defaultProxy> of its own


def test_sources_that_agree_are_not_divergent() -> None:
    from preflight.proxy.windows import CONNECTOR_CONFIGS

    reader = FixtureReader("winhttp-proxy.bin", "wininet-proxy.json",
                           {CONNECTOR_CONFIGS[0]: "connector-systemdefault.exe.config"},
                           user="wininet-proxy.json")  # fmt: skip
    reader.hives[r"HKU\S-1-5-18"] = "wininet-proxy.json"  # the updater (LocalSystem, .NET's defaults) too
    plan = plan_with(windows_proxy(reader))
    route = plan.route("login.microsoftonline.com", 443)
    assert route.proxy is not None and "system default" in route.source
    routes = judge_effective(observe_effective(plan)).evidence["routes"]
    assert set(routes["login.microsoftonline.com:443"]["by_source"].values()) == {"http://198.18.1.1:3128"}


def test_corrupt_settings_are_reported_not_raised() -> None:
    reader = FixtureReader("winhttp-truncated.bin", None, {})
    settings = windows_proxy(reader)
    inputs = settings.inputs
    assert inputs.winhttp is None and "WinHttpSettings" in inputs.problems[0]
    assert judge_effective(observe_effective(plan_with(settings))).code == "proxy.invalid_setting"


def test_machine_config_is_the_fallback() -> None:
    from preflight.proxy.windows import CONNECTOR_CONFIGS, MACHINE_CONFIG

    reader = FixtureReader(None, None, {CONNECTOR_CONFIGS[0]: "machine.config",
                                        MACHINE_CONFIG: "connector-disabled.exe.config"})  # fmt: skip
    settings = windows_proxy(reader)
    inputs = settings.inputs
    assert inputs.connector is not None and inputs.connector.source == MACHINE_CONFIG


def test_explicit_proxy_still_wins_over_the_connector_config() -> None:
    settings = windows_proxy(None, str(WINDOWS_FIXTURES / "connector-disabled.exe.config"))
    assert plan_with(settings).route("login.microsoftonline.com", 443).direct

    explicit = with_inputs(settings, explicit=parse_proxy_url("http://198.18.1.9:8080"))
    assert plan_with(explicit).route("login.microsoftonline.com", 443).source == "--proxy"


def test_fixture_files_are_committed() -> None:
    assert len(list(Path(WINDOWS_FIXTURES).iterdir())) >= 12


def test_bypassonlocal_uses_this_machines_primary_dns_domain() -> None:

    reader = FixtureReader(None, None, {"c.config": "connector-proxy.exe.config"}, domain="corp.contoso.com")
    settings = windows_proxy(reader, "c.config")
    inputs = settings.inputs
    assert inputs.local_domain == "corp.contoso.com"
    assert settings.route("files.corp.contoso.com", 443, tls=True).source.endswith("bypass 'bypassonlocal')")
    assert settings.route("login.microsoftonline.com", 443, tls=True).proxy is not None


@pytest.mark.parametrize(
    ("policy", "account", "hive", "why"),
    [
        (None, None, r"HKU\S-1-5-20", r"will run (the installer's account) as NT AUTHORITY\NetworkService"),
        (None, "", r"HKU\S-1-5-20", "will run (the installer's account)"),
        (None, r"NT AUTHORITY\NetworkService", r"HKU\S-1-5-20", r"runs as NT AUTHORITY\NetworkService"),
        (None, r"NT AUTHORITY\Network Service", r"HKU\S-1-5-20", "runs as"),
        (None, "LocalSystem", r"HKU\S-1-5-18", "runs as LocalSystem"),
        (None, r"nt authority\localservice", r"HKU\S-1-5-19", "runs as"),
        (1, r"NT AUTHORITY\NetworkService", r"HKU\S-1-5-20", "runs as"),  # 1: per user, as without the policy
        (0, r"NT AUTHORITY\NetworkService", "HKLM", "ProxySettingsPerUser=0"),
        (0, r"CONTOSO\svc-connector$", "HKLM", "per machine"),  # the policy covers every account
        (None, r"CONTOSO\svc-connector$", None, r"runs as CONTOSO\svc-connector$, whose settings cannot be read"),
        (None, 7, r"HKU\S-1-5-20", "the installer's account"),  # a value of the wrong type: as if not installed
    ],
)
def test_whose_wininet_settings_the_connector_reads(policy: object, account: object, hive: str | None,
                                                    why: str) -> None:  # fmt: skip
    scope = connector_wininet_scope(policy, account)
    assert scope.hive == hive
    assert why in scope.why


NETWORK_SERVICE_CONFIG = {CONNECTOR_CONFIGS[0]: "connector-systemdefault.exe.config"}


def test_the_connector_follows_network_services_settings_not_the_administrators() -> None:
    """The usual surprise: the proxy is set in the administrator's Internet Options, the browser works, and the
    connector (Network Service) goes direct."""
    reader = FixtureReader(None, None, NETWORK_SERVICE_CONFIG, user="wininet-proxy.json")
    settings = windows_proxy(reader)
    inputs = settings.inputs
    assert inputs.wininet is not None and inputs.wininet.origin == NO_RECORD  # what .NET reads: detect, no proxy
    assert inputs.wininet_user is not None and inputs.wininet_user.enabled
    assert inputs.wininet_scope is not None and inputs.wininet_scope.hive == r"HKU\S-1-5-20"
    plan = plan_with(settings)
    assert plan.route("login.microsoftonline.com", 443).direct
    finding = judge_effective(observe_effective(plan))
    assert finding.code == "proxy.divergent"
    assert finding.evidence["routes"]["login.microsoftonline.com:443"]["by_source"] == {
        "tested": "direct",
        "connector": "direct",
        "updater": "direct",
        "wininet": "direct",
        "wininet_user": "http://198.18.1.1:3128",
    }
    assert finding.evidence["wininet_scope"]["account"] == r"NT AUTHORITY\NetworkService"
    assert finding.evidence["wininet"]["from"] == NO_RECORD and finding.evidence["wininet_user"]["servers"] == {
        "*": "198.18.1.1:3128"}  # fmt: skip
    from preflight.proxy.automatic import plan_request

    # usesystemdefault="true" given explicitly is .NET's WebProxy(false): the system's address, not its detection.
    request = plan_request(settings.inputs, None)
    assert request.wpad_use is None and request.wpad_ignored.endswith(
        "usesystemdefault=true: the system's proxy address and bypass list, not its detection or script"
    )


def test_network_services_own_proxy_is_the_route_and_the_same_user_setting_is_not_repeated() -> None:
    reader = FixtureReader(None, "wininet-proxy.json", NETWORK_SERVICE_CONFIG, user="wininet-proxy.json")
    settings = windows_proxy(reader)
    inputs = settings.inputs
    assert inputs.wininet is not None and inputs.wininet_user is None  # the same settings: one source
    route = plan_with(settings).route("login.microsoftonline.com", 443)
    assert route.proxy is not None and route.proxy.display == "http://198.18.1.1:3128"
    assert route.source.startswith("connector → system default")


def test_group_policy_makes_the_settings_per_machine() -> None:
    reader = FixtureReader(None, "wininet-disabled.json", NETWORK_SERVICE_CONFIG,
                           values={rf"{INTERNET_SETTINGS_POLICY}\ProxySettingsPerUser": 0})  # fmt: skip
    reader.hives["HKLM"] = "wininet-proxy.json"
    reader.hives["HKCU"] = "wininet-disabled.json"  # ignored by WinINET itself under the policy
    settings = windows_proxy(reader)
    inputs = settings.inputs
    assert inputs.wininet_scope is not None and inputs.wininet_scope.hive == "HKLM"
    assert inputs.wininet_user is None
    assert plan_with(settings).route("login.microsoftonline.com", 443).proxy is not None


def test_settings_that_cannot_be_read_are_problems_not_silence() -> None:
    denied = FixtureReader(None, "access-denied", NETWORK_SERVICE_CONFIG, user="wininet-proxy.json")
    settings = windows_proxy(denied)
    inputs = settings.inputs
    assert inputs.wininet is None and inputs.wininet_user is not None
    assert any(r"NT AUTHORITY\NetworkService (HKU\S-1-5-20) cannot be read: Access is denied (run as an administrator)"
               in p for p in inputs.problems)  # fmt: skip
    assert judge_effective(observe_effective(plan_with(settings))).code == "proxy.invalid_setting"

    managed = FixtureReader(None, None, NETWORK_SERVICE_CONFIG,
                            values={rf"{CONNECTOR_SERVICE}\ObjectName": r"CONTOSO\svc-connector$"})  # fmt: skip
    problems = windows_proxy(managed).inputs.problems
    assert problems == (r"the connector's usesystemdefault reads the WinINET settings of CONTOSO\svc-connector$, "
                        "which cannot be read here: the route leaves them out",)  # fmt: skip
    managed.values[rf"{UPDATER_SERVICE}\ObjectName"] = r"CONTOSO\svc-updater$"  # .NET's defaults: usesystemdefault
    assert windows_proxy(managed).inputs.problems[1] == (
        r"the updater's usesystemdefault reads the WinINET settings of CONTOSO\svc-updater$, which cannot be read "
        "here: the route leaves them out")  # fmt: skip

    broken = FixtureReader(
        None,
        None,
        NETWORK_SERVICE_CONFIG,
        values={rf"{CONNECTOR_SERVICE}\ObjectName": PermissionError(13, "Access is denied")},
    )
    assert windows_proxy(broken).inputs.problems[0] == (
        "the services' accounts or the proxy policy cannot be read: Access is denied"
    )


def test_the_updater_reads_its_own_config_and_is_compared_with_the_tested_route() -> None:
    """Microsoft's proxy article has the same <defaultProxy> put in both files; one left out is the usual miss:
    the connector works through the proxy and the updater, going direct, never updates."""
    reader = FixtureReader(None, None, {CONNECTOR_CONFIGS[0]: "connector-proxy.exe.config"})
    settings = windows_proxy(reader)
    inputs = settings.inputs
    assert inputs.updater is not None and inputs.updater.source == NET_DEFAULTS  # its file has no <defaultProxy>
    finding = judge_effective(observe_effective(plan_with(settings)))
    assert finding.code == "proxy.divergent"  # .NET's defaults: LocalSystem's WinINET, which has no proxy
    assert finding.evidence["routes"]["login.microsoftonline.com:443"]["by_source"]["updater"] == "direct"
    assert finding.evidence["updater_config"]["source"] == NET_DEFAULTS
    assert finding.evidence["updater_config"]["net_proxy"].startswith("no proxy attribute: the system's settings")
    assert finding.evidence["connector_config"]["net_proxy"].startswith("the element's own attributes only")

    reader.configs[UPDATER_CONFIGS[0]] = "connector-disabled.exe.config"
    settings = windows_proxy(reader)
    inputs = settings.inputs
    assert inputs.updater is not None and inputs.updater.source == UPDATER_CONFIGS[0]
    finding = judge_effective(observe_effective(plan_with(settings)))
    assert finding.code == "proxy.divergent"
    assert finding.evidence["routes"]["login.microsoftonline.com:443"]["by_source"] == {
        "tested": "http://198.18.1.1:3128", "connector": "http://198.18.1.1:3128", "updater": "direct"}  # fmt: skip
    assert finding.evidence["updater_config"]["enabled"] is False

    reader.configs[UPDATER_CONFIGS[0]] = "connector-proxy.exe.config"  # the same <defaultProxy> in both: agreed
    assert judge_effective(observe_effective(plan_with(windows_proxy(reader)))).code == "proxy.configured"


def test_each_service_falls_back_to_machine_config_alone() -> None:
    """The updater's <defaultProxy> never stands in for the connector's: without its own, the connector reads
    machine.config."""
    reader = FixtureReader(None, None, {UPDATER_CONFIGS[0]: "connector-proxy.exe.config",
                                        MACHINE_CONFIG: "connector-disabled.exe.config"})  # fmt: skip
    settings = windows_proxy(reader)
    inputs = settings.inputs
    assert inputs.connector is not None and inputs.connector.source == MACHINE_CONFIG
    assert inputs.updater is not None and inputs.updater.source == UPDATER_CONFIGS[0]
    route = plan_with(settings).route("login.microsoftonline.com", 443)
    assert route.direct and "enabled=false" in route.source


def test_the_updater_under_usesystemdefault_reads_local_systems_settings() -> None:
    reader = FixtureReader(None, None, {CONNECTOR_CONFIGS[0]: "connector-systemdefault.exe.config",
                                        UPDATER_CONFIGS[0]: "connector-systemdefault.exe.config"})  # fmt: skip
    reader.hives[r"HKU\S-1-5-18"] = "wininet-proxy.json"  # LocalSystem has a proxy; Network Service none
    settings = windows_proxy(reader)
    inputs = settings.inputs
    assert inputs.wininet is not None and not inputs.wininet.enabled
    assert inputs.updater_wininet is not None and inputs.updater_wininet.enabled
    by_source = settings.source_routes("login.microsoftonline.com", 443, tls=True)
    assert by_source["connector"].direct  # Network Service has no record: no proxy
    assert by_source["updater"].source == f"updater → system default ({UPDATER_CONFIGS[0]})"


def test_legacy_values_alone_are_not_read_by_net_and_say_so() -> None:
    """A script that sets ProxyEnable/ProxyServer (reg add) without the record: Internet Options shows the proxy,
    .NET never sees it. A problem, so nobody believes the connector uses that proxy."""
    reader = FixtureReader(None, "wininet-legacy-only.json", NETWORK_SERVICE_CONFIG)
    settings = windows_proxy(reader)
    inputs = settings.inputs
    assert inputs.wininet is not None and not inputs.wininet.enabled and inputs.wininet.auto_detect
    assert inputs.problems == (r"WinINET settings of NT AUTHORITY\NetworkService: the ProxyEnable/ProxyServer "
                                 "values say proxy 198.18.1.1:3128, but .NET reads only DefaultConnectionSettings: "
                                 "no proxy",)  # fmt: skip
    assert plan_with(settings).route("login.microsoftonline.com", 443).direct
    assert judge_effective(observe_effective(plan_with(settings))).code == "proxy.invalid_setting"


def test_the_configs_the_routes_came_from_are_bundle_evidence(tmp_path: Path) -> None:
    from preflight.app import config_attachments

    connector = tmp_path / "MicrosoftEntraPrivateNetworkConnectorService.exe.config"
    connector.write_bytes("<configuration/>".encode("utf-16"))  # UTF-16 with its BOM, as Notepad may save it
    updater = tmp_path / "MicrosoftEntraPrivateNetworkConnectorUpdaterService.exe.config"
    updater.write_text("<configuration><system.net/></configuration>")
    reader = FixtureReader(None, None, {})
    settings = windows_proxy(reader)
    assert config_attachments(settings, None) == {}
    found = with_inputs(
        settings,
        connector=parse_dotnet_config(fixture_text("connector-proxy.exe.config"), str(connector)),
        updater=parse_dotnet_config(fixture_text("connector-proxy.exe.config"), str(updater)),
    )
    files = config_attachments(found, None)
    assert files == {"evidence/connector.config": "<configuration/>",
                     "evidence/updater.config": "<configuration><system.net/></configuration>"}  # fmt: skip
    updater.unlink()  # gone since it was read: left out, never an exception
    assert list(config_attachments(found, None)) == ["evidence/connector.config"]
    given = tmp_path / "draft.exe.config"
    given.write_text("<configuration/>")
    assert config_attachments(found, str(given))["evidence/connector.config"] == "<configuration/>"


def fixture_text(name: str) -> str:
    return (WINDOWS_FIXTURES / name).read_text()


BLOB_ROWS = [
    # (the blob's proxy, bypass, script URL, flags; the legacy values) → (enabled, servers, script, detect, note?)
    (("198.18.1.2:8080", "<local>", "", 1 | 2), {}, (True, {"*": "198.18.1.2:8080"}, None, False, False)),
    (("198.18.1.2:8080", "", "", 1), {}, (False, {"*": "198.18.1.2:8080"}, None, False, False)),  # kept, not on
    (("", "", "", 1 | 2), {}, (False, {}, None, False, False)),  # "use a proxy" with no address: none
    (
        ("", "", "http://pac.contoso.test/p.pac", 1 | 4 | 8),
        {},
        (False, {}, "http://pac.contoso.test/p.pac", True, False),
    ),
    (("", "", "http://pac.contoso.test/p.pac", 1), {}, (False, {}, None, False, False)),  # URL kept, box unticked
    (
        ("http=198.18.1.2:80;https=198.18.1.3:443", "", "", 3),
        {"ProxyEnable": 1, "ProxyServer": "http=198.18.1.2:80;https=198.18.1.3:443"},
        (True, {"http": "198.18.1.2:80", "https": "198.18.1.3:443"}, None, False, False),
    ),  # the mirror agrees: no note
    (("", "", "", 1), {"ProxyEnable": 1, "ProxyServer": "198.18.1.9:3128"}, (False, {}, None, False, True)),
]


@pytest.mark.parametrize(("blob", "legacy", "expected"), BLOB_ROWS)
def test_default_connection_settings_is_what_wininet_reads(blob: tuple[str, str, str, int], legacy: dict[str, object],
                                                         expected: tuple[object, ...]) -> None:  # fmt: skip
    proxy, bypass, script, flags = blob
    settings = parse_wininet({**legacy, "DefaultConnectionSettings": build_connection_settings(proxy, bypass, script,
                                                                                             flags=flags)})  # fmt: skip
    enabled, servers, url, detect, noted = expected
    assert (settings.enabled, settings.servers, settings.autoconfig_url, settings.auto_detect) == (
        enabled, servers, url, detect)  # fmt: skip
    assert settings.origin == "DefaultConnectionSettings"
    assert (settings.note is not None) == noted
    if noted:
        assert settings.note == ("the ProxyEnable/ProxyServer values say proxy 198.18.1.9:3128, but .NET reads only "
                                 "DefaultConnectionSettings: no proxy")  # fmt: skip


def test_a_service_account_with_only_the_blob_is_read_whole() -> None:
    """bitsadmin /util /setieproxy NETWORKSERVICE writes the connection blob alone: its proxy is the route."""
    reader = FixtureReader(None, None, NETWORK_SERVICE_CONFIG)
    blob = build_connection_settings("198.18.1.4:8080", "*.msappproxy.net")
    reader.wininet_values = lambda hive="HKCU": {"DefaultConnectionSettings": blob} if hive != "HKCU" else None
    settings = windows_proxy(reader)
    route = plan_with(settings).route("login.microsoftonline.com", 443)
    assert route.proxy is not None and route.proxy.display == "http://198.18.1.4:8080"
    assert plan_with(settings).route("a.msappproxy.net", 443).direct  # the blob's bypass list
    evidence = judge_effective(observe_effective(plan_with(settings))).evidence["wininet"]
    assert evidence["from"] == "DefaultConnectionSettings" and "note" not in evidence


def test_without_any_default_proxy_the_connector_uses_its_accounts_system_settings() -> None:
    """A fresh install: neither the .exe.config nor machine.config has a <defaultProxy>, so .NET's defaults apply
    (usesystemdefault): Network Service's record decides, and WPAD with it."""
    reader = FixtureReader(None, "wininet-proxy.json", {})
    settings = windows_proxy(reader)
    inputs = settings.inputs
    assert inputs.connector is not None and inputs.connector.source == NET_DEFAULTS
    route = plan_with(settings).route("login.microsoftonline.com", 443)
    assert route.proxy is not None and route.source == f"connector → system default ({NET_DEFAULTS})"
    from preflight.app import config_attachments

    assert config_attachments(settings, None) == {}  # .NET's defaults are no file
    fresh = windows_proxy(FixtureReader(None, None, {}))  # not even Internet Settings: detect, no proxy
    from preflight.proxy.automatic import plan_request

    assert (plan_request(fresh.inputs, None).wpad_use or "").startswith(f"the system's settings ({NET_DEFAULTS})")
    assert plan_with(fresh).route("login.microsoftonline.com", 443).direct
