"""`host.connector`: on a host where the connector is already installed, is it healthy? Its services running and
starting automatically, its version, the client certificate it authenticates with (expired or missing stops the
connector), and the errors of its Admin event log in the last week. Facts come from the service manager
(`sc.exe`) and `wevtutil`, whose fixed output is parsed here, the registry's Uninstall entries, and the
connector's TrustSettings.xml and certificate (preflight/host/installed.py); the verdict is one pure function. Where no
connector is installed there is nothing to judge: a skip, never a pass.

Sources: Microsoft Learn, "Problem installing the Application Proxy Agent Connector" (TrustSettings.xml, the
certificate issued by connectorregistrationca.msappproxy.net, event 1000 when it expired), "Understand Microsoft
Entra application proxy connectors" (the connector and updater services), the connector release history
(1.5.3417.0 as the oldest supported build in the issue).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from checks.hostbase import SHARED, HostCheckBase
from preflight import CodeDoc, Codes, Finding, Status
from preflight.host import installed
from preflight.host.winhost import HostReader, RegistryTypeError

if TYPE_CHECKING:
    from preflight.context import Context
    from preflight.host.installed import ConnectorReader

SERVICES = {"WAPCSvc": "connector", "WAPCUpdaterSvc": "updater"}
# Applications and Services Logs > Microsoft > AadApplicationProxy > Connector > Admin
ADMIN_LOG = "Microsoft-AadApplicationProxy-Connector/Admin"
RECENT_ERRORS = dt.timedelta(days=7)
MAX_EVENTS = 5
MIN_VERSION = (1, 5, 3417, 0)
EXPIRY_WARNING = dt.timedelta(days=14)
REREGISTER = (
    "Re-register the connector: Import-Module AppProxyPSModule; Register-AppProxyConnector (or reinstall "
    "it); Microsoft Learn: 'Problem installing the Application Proxy Agent Connector'."
)

CODES: Final[dict[str, CodeDoc]] = {
    "host.connector_ok": CodeDoc(
        Status.PASS,
        "The installed connector's services run and start automatically, its version is supported, and its client "
        "certificate is valid for more than 14 days.",
        "sc.exe query/qc for WAPCSvc and WAPCUpdaterSvc, DisplayVersion of its Uninstall entry, and the certificate "
        "TrustSettings.xml names.",
        "Nothing to do.",
    ),
    "host.connector_absent": CodeDoc(
        Status.SKIP,
        "No connector is installed on this host (the usual case before installing): there is nothing to check.",
        "The connector service (WAPCSvc) does not exist.",
        "Nothing to do before installing; after installing, run again to check the connector itself.",
    ),
    "host.connector_stopped": CodeDoc(
        Status.FAIL,
        "A connector service (the connector, or its updater) is not running: the connector does not serve traffic, "
        "or does not get updates.",
        "sc.exe query reports a STATE other than RUNNING for WAPCSvc or WAPCUpdaterSvc.",
        "Start it (Start-Service WAPCSvc, WAPCUpdaterSvc) and read the connector's Admin event log for why it stopped.",
    ),
    "host.connector_cert_expired": CodeDoc(
        Status.FAIL,
        "The connector's client certificate has expired: the service cannot authenticate and stops (event 1000).",
        "The certificate TrustSettings.xml names has a notAfter in the past.",
        REREGISTER,
    ),
    "host.connector_cert_missing": CodeDoc(
        Status.FAIL,
        "The connector is installed, but the client certificate TrustSettings.xml names is missing or unreadable: "
        "it cannot authenticate.",
        "TrustSettings.xml, or the certificate it names (machine store or Network Service's store), could not be "
        "read; the problem is in the evidence.",
        REREGISTER,
    ),
    "host.connector_cert_expiring": CodeDoc(
        Status.WARN,
        "The connector's client certificate expires within 14 days. It renews itself every couple of months when "
        "it can reach the service; if it is this close, renewal has probably been failing.",
        "The certificate's notAfter is less than 14 days away.",
        "Check that the connector reaches the service (this run's other checks), and re-register it if the date "
        "does not move: " + REREGISTER,
    ),
    "host.connector_manual_start": CodeDoc(
        Status.WARN,
        "A connector service does not start automatically: after a restart the connector (or its updates) stays off.",
        "sc.exe qc reports a START_TYPE other than AUTO_START.",
        "Set-Service WAPCSvc -StartupType Automatic (and WAPCUpdaterSvc).",
    ),
    "host.connector_errors": CodeDoc(
        Status.WARN,
        "The connector logged errors in the last 7 days (its Admin event log): it is running, but something failed "
        "recently: the most recent ones are in the evidence.",
        f"wevtutil qe {ADMIN_LOG} /rd:true /f:text, errors and critical events of the last 7 days.",
        "Read the event ID and message in the evidence against Microsoft Learn's connector troubleshooting page "
        "(application-proxy-troubleshoot); certificate and connectivity errors usually match this run's other "
        "findings.",
    ),
    "host.connector_outdated": CodeDoc(
        Status.WARN,
        "The installed connector is older than 1.5.3417.0.",
        "DisplayVersion of the connector's Uninstall entry is below 1.5.3417.0.",
        "Let the updater service update it, or install the current connector from the Entra admin center.",
    ),
}


@dataclasses.dataclass(frozen=True)
class ServiceState:
    name: str
    exists: bool
    state: str | None = None  # RUNNING, STOPPED, START_PENDING, ...
    start_type: str | None = None  # AUTO_START, DEMAND_START, DISABLED, ...
    delayed: bool = False

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def parse_sc_query(name: str, query: str, config: str = "") -> ServiceState:
    """`sc.exe query NAME` (and `sc.exe qc NAME`) output. FAILED 1060 is a service that does not exist."""
    if "1060" in query and "FAILED" in query:
        return ServiceState(name, exists=False)
    state = re.search(r"^\s*STATE\s*:\s*\d+\s+(\w+)", query, re.M)
    start = re.search(r"^\s*START_TYPE\s*:\s*\d+\s+(\w+)(\s+\(DELAYED\))?", config, re.M)
    return ServiceState(
        name, True, state.group(1) if state else None, start.group(1) if start else None, bool(start and start.group(2))
    )


def parse_events(text: str) -> list[dict[str, Any]]:
    """`wevtutil qe ... /f:text` output: one dict per Event[n] block (date, id, level, the message's first line)."""
    events: list[dict[str, Any]] = []
    for block in re.split(r"^Event\[\d+\]:\s*$", text, flags=re.M)[1:]:
        fields = dict(re.findall(r"^\s{2}([A-Za-z ]+):[ \t]*(.*)$", block.split("Description:", 1)[0], re.M))
        message = block.split("Description:", 1)[1].strip().splitlines() if "Description:" in block else []
        events.append(
            {
                "date": fields.get("Date", "").strip(),
                "id": fields.get("Event ID", "").strip(),
                "level": fields.get("Level", "").strip(),
                "message": (message[0].strip() if message else "")[:300],
            }
        )
    return events


def parse_version(text: str | None) -> tuple[int, ...] | None:
    if not text or not re.fullmatch(r"\d+(\.\d+){1,3}", text.strip()):
        return None
    return tuple(int(part) for part in text.strip().split("."))


def judge(
    services: Mapping[str, ServiceState],
    version: str | None,
    certificate: Mapping[str, Any],
    now: dt.datetime,
    events: Sequence[Mapping[str, Any]] = (),
) -> Finding:
    """The verdict on an installed connector. `certificate`: preflight.host.installed's evidence, with `problem` when
    it could not be read. Pure."""
    evidence: dict[str, Any] = {
        "services": {n: s.to_json() for n, s in services.items()},
        "version": version,
        "certificate": dict(certificate),
    }
    connector = services.get("WAPCSvc")
    if connector is None or not connector.exists:
        return _finding("host.connector_absent", "no connector installed on this host", evidence)
    problems: list[tuple[str, str]] = []
    stopped = [s for s in services.values() if s.exists and s.state != "RUNNING"]
    for service in stopped:
        problems.append(
            (
                "host.connector_stopped",
                f"{SERVICES.get(service.name, service.name)} service "
                f"{service.name} is {service.state or 'in an unknown state'}",
            )
        )
    if certificate.get("problem"):
        problems.append(("host.connector_cert_missing", str(certificate["problem"])))
    elif certificate.get("not_after"):
        not_after = dt.datetime.fromisoformat(str(certificate["not_after"]))
        left = not_after - now
        evidence["certificate_days_left"] = round(left.total_seconds() / 86400, 1)
        if left <= dt.timedelta(0):
            problems.append(("host.connector_cert_expired", f"the client certificate expired on {not_after:%Y-%m-%d}"))
        elif left <= EXPIRY_WARNING:
            problems.append(
                (
                    "host.connector_cert_expiring",
                    f"the client certificate expires on {not_after:%Y-%m-%d} ({left.days} days)",
                )
            )
    manual = [s for s in services.values() if s.exists and s.start_type not in (None, "AUTO_START")]
    for service in manual:
        problems.append(("host.connector_manual_start", f"{service.name} starts {service.start_type}"))
    recent = [e for e in events if _within(e.get("date", ""), now - RECENT_ERRORS)]
    if recent:
        evidence["recent_errors"] = list(recent)
        latest = recent[0]
        problems.append(
            (
                "host.connector_errors",
                f"{len(recent)} connector error(s) in the last 7 days, latest "
                f"event {latest.get('id')}: {latest.get('message')}",
            )
        )
    parsed = parse_version(version)
    if parsed is not None and parsed < MIN_VERSION:
        problems.append(("host.connector_outdated", f"connector {version} is older than 1.5.3417.0"))
    if not problems:
        return _finding(
            "host.connector_ok",
            f"connector {version or '(version unknown)'}: services running, "
            f"certificate valid until {certificate.get('not_after', '?')[:10]}",
            evidence,
        )
    worst = max(problems, key=lambda p: CODES[p[0]].status.severity)
    evidence["problems"] = [{"code": code, "detail": detail} for code, detail in problems]
    return _finding(worst[0], "; ".join(detail for _code, detail in problems), evidence)


def _within(date: str, since: dt.datetime) -> bool:
    """Whether an event's date (wevtutil's local ISO time, taken as UTC when it names no zone) is after `since`."""
    try:
        moment = dt.datetime.fromisoformat(date.strip())
    except ValueError:
        return False
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)) >= since


def _finding(code: str, summary: str, evidence: dict[str, Any]) -> Finding:
    """A finding from this check's codes or the codes every host check shares."""
    return Codes({**SHARED, **CODES}).finding(code, summary, evidence)


UNINSTALL = "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall"
PRODUCT_NAMES = ("application proxy connector", "private network connector")


def observe_installed(
    reader: HostReader, connector_reader: ConnectorReader | None
) -> tuple[dict[str, ServiceState], str | None, dict[str, Any]]:
    """Services (sc.exe query and qc), the version (the Uninstall entry) and the client certificate."""
    services = {
        name: parse_sc_query(name, reader.command("sc.exe", "query", name), reader.command("sc.exe", "qc", name))
        for name in SERVICES
    }
    version = None
    for sub in reader.subkeys(UNINSTALL):
        try:
            display = reader.string(f"{UNINSTALL}\\{sub}", "DisplayName") or ""
            if any(name in display.lower() for name in PRODUCT_NAMES) and "updater" not in display.lower():
                version = reader.string(f"{UNINSTALL}\\{sub}", "DisplayVersion")
                break
        except (PermissionError, RegistryTypeError):
            continue
    found = installed.read_host_tenant(connector_reader)
    certificate = dict(found.evidence)
    if found.outcome == "unreadable":
        certificate["problem"] = found.problem
    elif found.outcome == "absent":
        certificate["problem"] = "no TrustSettings.xml: the connector has no registered certificate"
    return services, version, certificate


def observe_events(reader: HostReader) -> list[dict[str, Any]]:
    """The most recent critical and error events of the connector's Admin log (newest first)."""
    return parse_events(
        reader.command(
            "wevtutil", "qe", ADMIN_LOG, f"/c:{MAX_EVENTS}", "/rd:true", "/f:text", "/q:*[System[(Level=1 or Level=2)]]"
        )
    )


@dataclasses.dataclass(frozen=True)
class ConnectorObserved:
    """The installed connector as this host shows it: its services (sc.exe), its version (the Uninstall entry),
    its client certificate (TrustSettings.xml, with `problem` when unreadable), its recent Admin-log errors, and
    the time they are judged at."""

    services: Mapping[str, ServiceState]
    version: str | None
    certificate: Mapping[str, Any]
    events: tuple[Mapping[str, Any], ...]
    now: dt.datetime


def judge_observed(seen: ConnectorObserved) -> Finding:
    return judge(seen.services, seen.version, seen.certificate, seen.now, seen.events)


class HostConnectorCheck(HostCheckBase[ConnectorObserved]):
    id = "host.connector"
    title = "The installed connector: services, version, client certificate, recent errors in its event log"
    requires = "Windows with the connector installed (sc.exe, wevtutil, the registry, TrustSettings.xml); an admin"
    codes = CODES | SHARED
    connector_reader: ConnectorReader | None = None

    async def read(self, reader: HostReader, ctx: Context) -> ConnectorObserved:
        import asyncio

        files = self.connector_reader if self.connector_reader is not None else installed.default_reader()
        services, version, certificate = await asyncio.to_thread(observe_installed, reader, files)  # sc.exe: slow
        events = await asyncio.to_thread(observe_events, reader)
        return ConnectorObserved(services, version, certificate, tuple(events), ctx.now())

    judge_windows = staticmethod(judge_observed)
