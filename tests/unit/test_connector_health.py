"""host.connector: the installed connector's services, version and client certificate, from sc.exe output shaped
like the real tool's, a fake registry and the connector's fixture files."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from fakecontext import FakeContext
from helpers import FIXTURES

from checks import connector_health as health
from preflight.host import installed
from preflight.model import Status, Target

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
RUNNING = """
SERVICE_NAME: WAPCSvc
        TYPE               : 10  WIN32_OWN_PROCESS
        STATE              : 4  RUNNING
                                (STOPPABLE, NOT_PAUSABLE, ACCEPTS_SHUTDOWN)
        WIN32_EXIT_CODE    : 0  (0x0)
        SERVICE_EXIT_CODE  : 0  (0x0)
        CHECKPOINT         : 0x0
        WAIT_HINT          : 0x0
"""
STOPPED = RUNNING.replace("4  RUNNING", "1  STOPPED")
AUTO = """[SC] QueryServiceConfig SUCCESS

SERVICE_NAME: WAPCSvc
        TYPE               : 10  WIN32_OWN_PROCESS
        START_TYPE         : 2   AUTO_START
        ERROR_CONTROL      : 1   NORMAL
        BINARY_PATH_NAME   : "C:\\Program Files\\Microsoft Entra private network connector\\MicrosoftEntraPrivateNetworkConnectorService.exe"
        SERVICE_START_NAME : NT AUTHORITY\\NetworkService
"""  # noqa: E501
DELAYED = AUTO.replace("2   AUTO_START", "2   AUTO_START  (DELAYED)")
MANUAL = AUTO.replace("2   AUTO_START", "3   DEMAND_START")
MISSING = """[SC] EnumQueryServicesStatus:OpenService FAILED 1060:

The specified service does not exist as an installed service.
"""


def test_sc_output_is_parsed() -> None:
    assert health.parse_sc_query("WAPCSvc", RUNNING, AUTO) == health.ServiceState("WAPCSvc", True, "RUNNING",
                                                                                  "AUTO_START")  # fmt: skip
    assert health.parse_sc_query("WAPCSvc", STOPPED, DELAYED).delayed
    assert health.parse_sc_query("WAPCSvc", RUNNING, MANUAL).start_type == "DEMAND_START"
    assert not health.parse_sc_query("WAPCSvc", MISSING, MISSING).exists


def services(connector: tuple[str, str] = (RUNNING, AUTO), updater: tuple[str, str] = (RUNNING, AUTO)) -> Any:
    return {"WAPCSvc": health.parse_sc_query("WAPCSvc", *connector),
            "WAPCUpdaterSvc": health.parse_sc_query("WAPCUpdaterSvc", *updater)}  # fmt: skip


def cert(days: float | None = 90.0, problem: str | None = None) -> dict[str, Any]:
    if problem:
        return {"trust_settings": "C:\\ProgramData\\...\\TrustSettings.xml", "problem": problem}
    assert days is not None
    return {"thumbprint": "CC45A1CC0AA7143BD320C09E21523980AAAA9705",
            "not_after": (NOW + dt.timedelta(days=days)).isoformat()}  # fmt: skip


@pytest.mark.parametrize(
    ("observed", "status", "code", "words"),
    [
        ((services(), "1.5.4522.0", cert()), Status.PASS, "host.connector_ok", "services running"),
        ((services((MISSING, MISSING), (MISSING, MISSING)), None, cert(problem="no TrustSettings.xml")),
         Status.SKIP, "host.connector_absent", "no connector"),
        ((services((STOPPED, AUTO)), "1.5.4522.0", cert()), Status.FAIL, "host.connector_stopped",
         "WAPCSvc is STOPPED"),
        ((services(updater=(STOPPED, AUTO)), "1.5.4522.0", cert()), Status.FAIL, "host.connector_stopped",
         "updater service WAPCUpdaterSvc"),
        ((services(), "1.5.4522.0", cert(-3)), Status.FAIL, "host.connector_cert_expired", "expired on 2026-11-28"),
        ((services(), "1.5.4522.0", cert(10)), Status.WARN, "host.connector_cert_expiring", "(10 days)"),
        ((services(), "1.5.4522.0", cert(problem="the certificate X named in T is not in HKLM\\...")), Status.FAIL,
         "host.connector_cert_missing", "is not in HKLM"),
        ((services((RUNNING, MANUAL)), "1.5.4522.0", cert()), Status.WARN, "host.connector_manual_start",
         "DEMAND_START"),
        ((services(), "1.5.3000.0", cert()), Status.WARN, "host.connector_outdated", "older than 1.5.3417.0"),
        # the worst decides, every problem is listed
        ((services((STOPPED, MANUAL)), "1.5.3000.0", cert(10)), Status.FAIL, "host.connector_stopped", "DEMAND_START"),
    ],
)  # fmt: skip
def test_judge(observed: tuple[Any, str | None, dict[str, Any]], status: Status, code: str, words: str) -> None:
    finding = health.judge(*observed, NOW)
    assert (finding.status, finding.code) == (status, code), finding.summary
    assert words in finding.summary
    assert (finding.remediation == "") == (status in (Status.PASS,))


class FakeHost:
    def __init__(self, outputs: dict[tuple[str, ...], str], uninstall: dict[str, dict[str, str]]) -> None:
        self.outputs, self.uninstall = outputs, uninstall

    def command(self, *args: str) -> str:
        return self.outputs.get(args, "")

    def subkeys(self, path: str) -> list[str]:
        return list(self.uninstall) if path == health.UNINSTALL else []

    def string(self, path: str, name: str) -> str | None:
        return self.uninstall.get(path.rsplit("\\", 1)[-1], {}).get(name)

    def dword(self, path: str, name: str) -> int | None:
        return None

    def cpu_count(self) -> int | None:
        return 4

    def memory_bytes(self) -> int | None:
        return 8 * 1024**3


class FakeFiles:
    """The connector's TrustSettings.xml and certificate, as on a registered connector (fixture files)."""

    def __init__(self, present: bool = True) -> None:
        self.present = present

    def read_file(self, path: str) -> bytes | None:
        if self.present and path == "C:\\ProgramData\\" + installed.TRUST_SETTINGS[0]:
            return (FIXTURES / "windows" / "connector" / "TrustSettings.xml").read_bytes()
        return None

    def program_data(self) -> str | None:
        return "C:\\ProgramData"

    def windows_dir(self) -> str | None:
        return "C:\\Windows"

    def machine_certificate_blob(self, thumbprint: str) -> bytes | None:
        return (FIXTURES / "windows" / "connector" / "connector-cert.blob").read_bytes()


def test_observe_and_judge_an_installed_connector() -> None:
    outputs = {("sc.exe", "query", "WAPCSvc"): RUNNING, ("sc.exe", "qc", "WAPCSvc"): AUTO,
               ("sc.exe", "query", "WAPCUpdaterSvc"): RUNNING.replace("WAPCSvc", "WAPCUpdaterSvc"),
               ("sc.exe", "qc", "WAPCUpdaterSvc"): DELAYED}  # fmt: skip
    uninstall = {
        "{1A2B}": {"DisplayName": "Microsoft Entra private network connector Updater", "DisplayVersion": "1.5.1000.0"},
        "{3C4D}": {"DisplayName": "Microsoft Entra private network connector", "DisplayVersion": "1.5.4522.0"},
    }
    check = health.HostConnectorCheck()
    check.reader, check.connector_reader = FakeHost(outputs, uninstall), FakeFiles()  # type: ignore[assignment]
    ctx = FakeContext(clock=NOW)
    seen = asyncio.run(check.observe(Target("this host"), ctx))
    assert seen is not None and seen.now == NOW and seen.version == "1.5.4522.0"
    assert [s.state for s in seen.services.values()] == ["RUNNING", "RUNNING"]
    finding = check.judge(seen)
    assert (finding.status, finding.code) == (Status.PASS, "host.connector_ok"), finding.summary
    assert finding.evidence["version"] == "1.5.4522.0"  # the connector's entry, not the updater's
    assert finding.evidence["certificate_days_left"] > 14
    check.connector_reader = FakeFiles(present=False)  # type: ignore[assignment]
    missing = asyncio.run(check.run(Target("this host"), ctx))
    assert missing.code == "host.connector_cert_missing"


EVENTS = """Event[0]:
  Log Name: Microsoft-AadApplicationProxy-Connector/Admin
  Source: Microsoft-AadApplicationProxy-Connector
  Date: 2026-11-29T08:15:02.1230000Z
  Event ID: 12020
  Task: N/A
  Level: Error
  Opcode: Info
  Keyword: N/A
  User: S-1-5-20
  User Name: NT AUTHORITY\\NETWORK SERVICE
  Computer: connector-01.contoso.com
  Description:
The Connector was unable to establish a connection with the service due to an invalid certificate.
More details follow on the next line.

Event[1]:
  Log Name: Microsoft-AadApplicationProxy-Connector/Admin
  Source: Microsoft-AadApplicationProxy-Connector
  Date: 2026-10-02T11:00:00.0000000Z
  Event ID: 1000
  Task: N/A
  Level: Error
  Opcode: Info
  Keyword: N/A
  User: S-1-5-20
  User Name: NT AUTHORITY\\NETWORK SERVICE
  Computer: connector-01.contoso.com
  Description:
Connector re-registration failed: The Connector trust certificate expired.
"""


def test_wevtutil_text_is_parsed() -> None:
    events = health.parse_events(EVENTS)
    assert [(e["id"], e["level"]) for e in events] == [("12020", "Error"), ("1000", "Error")]
    assert events[0]["message"].startswith("The Connector was unable to establish a connection")
    assert events[0]["date"].startswith("2026-11-29T08:15:02")
    assert health.parse_events("") == [] and health.parse_events("No events were found.") == []


def test_recent_errors_are_a_warning_old_ones_are_not() -> None:
    events = health.parse_events(EVENTS)
    finding = health.judge(services(), "1.5.4522.0", cert(), NOW, events)
    assert (finding.status, finding.code) == (Status.WARN, "host.connector_errors"), finding.summary
    assert "latest event 12020" in finding.summary and len(finding.evidence["recent_errors"]) == 1
    quiet = health.judge(services(), "1.5.4522.0", cert(), NOW, events[1:])  # only the October one
    assert quiet.code == "host.connector_ok"
    worse = health.judge(services((STOPPED, AUTO)), "1.5.4522.0", cert(), NOW, events)
    assert worse.code == "host.connector_stopped" and "12020" in worse.summary  # listed, not the headline


def test_events_are_asked_of_the_connector_admin_log() -> None:
    asked: list[tuple[str, ...]] = []

    class Host(FakeHost):
        def command(self, *args: str) -> str:
            asked.append(args)
            return EVENTS if args[0] == "wevtutil" else ""

    events = health.observe_events(Host({}, {}))
    assert len(events) == 2
    assert (
        asked[0][:3] == ("wevtutil", "qe", "Microsoft-AadApplicationProxy-Connector/Admin") and "/rd:true" in asked[0]
    )
