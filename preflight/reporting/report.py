"""The report: every result of a run plus the facts a reader needs to trust it. Reporters render this."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import os
import platform
import socket
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from preflight.errors import UsageError
from preflight.model import CheckResult, Status

if TYPE_CHECKING:
    from preflight.reporting.diagnosis import Cause
from preflight.reporting import policy

SCHEMA_VERSION = "1.0"
MAX_REPORT_BYTES = 256 * 1024 * 1024  # a 100,000-endpoint run writes about 150 MB
MAX_DEPTH = 64  # a report's evidence nests about 8 deep


class ReportError(UsageError):
    pass


@dataclasses.dataclass(frozen=True)
class Report:
    tool_version: str
    profile: dict[str, Any]
    host: dict[str, Any]
    options: dict[str, Any]
    started_at: float
    duration_ms: int
    results: list[CheckResult]
    ended_by: str | None = None
    strict: bool = False
    watch: dict[str, Any] | None = None  # a watch's rounds, summarised (preflight/watch/series.py)

    @property
    def counts(self) -> dict[str, int]:
        return policy.counts(self.results)

    @property
    def service_rows(self) -> list[tuple[str, int]]:
        """The profile rows (host, port) that carry the connector's service traffic: recorded by the run, or (in a
        report without that record) read from the results' roles."""
        recorded = self.profile.get("service_rows")
        if isinstance(recorded, list):
            return [(str(r["host"]), int(r["port"])) for r in recorded if isinstance(r, dict)]
        rows = [(r.target.host, r.target.port) for r in self.results if "service" in r.target.roles]
        return [(host, port) for host, port in dict.fromkeys(rows) if port is not None]

    @property
    def untested(self) -> list[policy.Untested]:
        return policy.untested_service(self.service_rows, self.results)

    @functools.cached_property
    def diagnosis(self) -> list[Cause]:
        """The whole-host causes the results show (preflight/reporting/diagnosis.py), computed once."""
        from preflight.reporting.diagnosis import diagnose

        return diagnose(self.results)

    @property
    def headline(self) -> str | None:
        """The line every format puts first when the connector's service path went untested."""
        tenant_option = self.options.get("tenant")
        given = tenant_option.get("given") if isinstance(tenant_option, dict) else self.options.get("tenant_id")
        tenant = next((r for r in self.results if r.check == "tenant.resolve" and r.status.evaluated), None)
        return policy.describe_untested(
            self.untested,
            tenant_given=given if isinstance(given, str) else None,
            tenant_result=tenant,
            diagnosed=bool(self.diagnosis),
        )

    @property
    def verdict(self) -> str:
        return policy.verdict(self.results, self.ended_by, self.untested)

    @property
    def exit_code(self) -> int:
        return policy.exit_code(self.results, self.ended_by, strict=self.strict, untested=self.untested)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "connector-preflight", "version": self.tool_version},
            "profile": self.profile,
            "host": self.host,
            "options": self.options,
            "started_at": dt.datetime.fromtimestamp(self.started_at, dt.UTC).isoformat(timespec="milliseconds"),
            "duration_ms": self.duration_ms,
            "ended_by": self.ended_by,
            "summary": {
                "counts": self.counts,
                "verdict": self.verdict,
                "exit_code": self.exit_code,
                "untested_service": [dataclasses.asdict(u) for u in self.untested],
            },
            "diagnosis": [cause.to_json() for cause in self.diagnosis],
            "results": [r.to_json() for r in self.results],
        } | ({"watch": self.watch} if self.watch is not None else {})


def redacted(report: Report) -> Report:
    """The report every output is rendered from: each of its strings passed through one Redactor (twice, so a
    secret recognised late is also removed where it appeared earlier without context). A proxy password in a PAC
    answer, a SAS token in a URL or a password in NO_PROXY reaches no format; a lone surrogate (a saved report
    may hold one as a JSON escape) becomes U+FFFD instead of failing every writer."""
    from preflight.redact import Redactor

    redactor = Redactor()
    data = redactor.walk(report.to_json())
    if redactor.remembered:  # a value found late may stand, without context, where the first pass went by
        data = redactor.walk(data)
    if redactor.count == 0 and redactor.repaired == 0:
        return report
    cleaned = from_json(data, "report")
    return dataclasses.replace(cleaned, strict=report.strict)


def fold_by_cause(results: Iterable[CheckResult]) -> tuple[list[CheckResult], dict[str, list[CheckResult]]]:
    """Results to show, and the skips folded under the result that caused them (by its id): what the table and
    the HTML page both show as "not run because of this"."""
    listed = list(results)
    ids = {r.id for r in listed}
    shown: list[CheckResult] = []
    folded: dict[str, list[CheckResult]] = {}
    for result in listed:
        if result.status == Status.SKIP and result.caused_by in ids:
            folded.setdefault(result.caused_by, []).append(result)
        else:
            shown.append(result)
    return shown, folded


def from_json(data: Any, origin: str) -> Report:
    """A saved report, read back for show/diff/merge. Anything malformed is one ReportError naming the field."""
    import datetime as _dt

    if not isinstance(data, dict):
        raise ReportError(f"{origin}: not a connector-preflight report (top level is not an object)")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ReportError(
            f"{origin}: unsupported schema_version {str(data.get('schema_version'))[:40]!r} "
            f"(this tool reads {SCHEMA_VERSION})"
        )
    field = _Fields(origin)
    tool = field.get(data, "tool", dict)
    options = field.get(data, "options", dict, optional=True) or {}
    ended_by = field.get(data, "ended_by", str, optional=True)
    if ended_by is not None and ended_by not in ("deadline", *policy.EXIT_SIGNAL):
        raise ReportError(f"{origin}: ended_by: unknown value {ended_by[:40]!r}")
    started_text = field.get(data, "started_at", str)
    try:
        started = _dt.datetime.fromisoformat(started_text).timestamp()
    except (ValueError, OverflowError, OSError):
        raise ReportError(f"{origin}: started_at: not an ISO 8601 time ({started_text[:40]!r})") from None
    results = field.get(data, "results", list)
    profile = field.get(data, "profile", dict)
    service_rows = profile.get("service_rows")
    if service_rows is not None and not (
        isinstance(service_rows, list)
        and all(
            isinstance(r, dict) and isinstance(r.get("host"), str) and type(r.get("port")) is int for r in service_rows
        )
    ):
        raise ReportError(f"{origin}: profile.service_rows: expected a list of {{host, port}} objects")
    return Report(
        tool_version=field.get(tool, "version", str, where="tool."),
        profile=profile,
        host=field.get(data, "host", dict),
        options=options,
        started_at=started,
        duration_ms=field.get(data, "duration_ms", int),
        results=[_result(item, f"results[{i}]", field) for i, item in enumerate(results)],
        ended_by=ended_by,
        strict=options.get("strict") is True,
        watch=_watch(data, origin),
    )


def _watch(data: dict[str, Any], origin: str) -> dict[str, Any] | None:
    """A watch report's summary, checked (one ReportError naming the field) so renderers can trust its shape."""
    if data.get("watch") is None:
        return None
    from preflight.watch.shape import check_watch

    problem = check_watch(data["watch"])
    if problem is not None:
        raise ReportError(f"{origin}: watch.{problem}")
    return dict(data["watch"])


class _Fields:
    """Typed access to a parsed JSON object, raising ReportError with the field's path."""

    def __init__(self, origin: str) -> None:
        self.origin = origin

    def get(self, obj: Any, key: str, kind: type, *, optional: bool = False, where: str = "") -> Any:
        if not isinstance(obj, dict):
            raise ReportError(f"{self.origin}: {where.rstrip('.') or 'report'}: expected an object")
        value = obj.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            got = "missing" if key not in obj else f"a {type(value).__name__}"
            raise ReportError(f"{self.origin}: {where}{key}: expected {kind.__name__}, got {got}")
        return value


def _result(item: Any, where: str, field: _Fields) -> CheckResult:
    if not isinstance(item, dict):
        raise ReportError(f"{field.origin}: {where}: expected an object")
    target = field.get(item, "target", dict, where=f"{where}.")
    port = field.get(target, "port", int, optional=True, where=f"{where}.target.")
    if port is not None and not 0 <= port <= 65535:
        raise ReportError(f"{field.origin}: {where}.target.port: {port} is not a port")
    for name in ("purposes", "sources", "roles"):
        values = field.get(target, name, list, optional=True, where=f"{where}.target.") or []
        if not all(isinstance(v, str) for v in values):
            raise ReportError(f"{field.origin}: {where}.target.{name}: expected a list of strings")
    status = field.get(item, "status", str, where=f"{where}.")
    if status not in {s.value for s in Status}:
        raise ReportError(f"{field.origin}: {where}.status: unknown status {status[:20]!r}")
    duration = field.get(item, "duration_ms", int, optional=True, where=f"{where}.")
    if duration is not None and duration < 0:
        raise ReportError(f"{field.origin}: {where}.duration_ms: negative")
    checked = {
        "check": field.get(item, "check", str, where=f"{where}."),
        "target": {
            "host": field.get(target, "host", str, where=f"{where}.target."),
            "port": port,
            "address": field.get(target, "address", str, optional=True, where=f"{where}.target."),
            "template": field.get(target, "template", str, optional=True, where=f"{where}.target."),
            "purposes": target.get("purposes") or [],
            "sources": target.get("sources") or [],
            "roles": target.get("roles") or [],
        },
        "status": status,
        "code": field.get(item, "code", str, where=f"{where}."),
        "summary": field.get(item, "summary", str, where=f"{where}."),
        "evidence": field.get(item, "evidence", dict, optional=True, where=f"{where}.") or {},
        "remediation": field.get(item, "remediation", str, optional=True, where=f"{where}.") or "",
        "caused_by": field.get(item, "caused_by", str, optional=True, where=f"{where}."),
        "duration_ms": duration or 0,
        "error": field.get(item, "error", str, optional=True, where=f"{where}."),
    }
    return CheckResult.from_json(checked)


def load(path: str) -> Report:
    """A saved JSON report, or the report inside a support bundle (checked against its manifest first)."""

    from preflight.bundle import archive

    if archive.is_bundle(path):
        files = archive.read(path)
        if "report.json" not in files:
            raise ReportError(f"{path}: the bundle has no report.json")
        try:
            data = _bounded_json(files["report.json"].decode("utf-8"), f"{path}!report.json")
        except UnicodeDecodeError:
            raise ReportError(f"{path}!report.json: not UTF-8 text") from None
        return redacted(from_json(data, f"{path}!report.json"))

    try:
        with open(path, "rb") as handle:
            # refused by its size before a byte is read where the file system knows it; a pipe is read up to it
            too_large = os.fstat(handle.fileno()).st_size > MAX_REPORT_BYTES
            raw = b"" if too_large else handle.read(MAX_REPORT_BYTES + 1)
    except OSError as exc:
        raise ReportError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if too_large or len(raw) > MAX_REPORT_BYTES:
        raise ReportError(
            f"{path}: larger than {MAX_REPORT_BYTES // (1024 * 1024)} MiB: too large to be read as a report"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ReportError(f"{path}: not UTF-8 text") from None
    del raw
    return redacted(from_json(_bounded_json(text, path), path))  # diff and merge render what they read: from elsewhere


def _bounded_json(text: str, origin: str) -> Any:
    """JSON text as a report may hold it: strict (no NaN or Infinity), and nested at most MAX_DEPTH deep (the
    parser's recursion ends a document 100,000 deep; the renderers' would end one 900 deep)."""
    import json

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    try:
        data = json.loads(text, parse_constant=refuse)
    except json.JSONDecodeError as exc:
        raise ReportError(f"{origin}:{exc.lineno}: not JSON ({exc.msg})") from None
    except RecursionError:
        raise ReportError(f"{origin}: nested thousands of levels deep: not a report") from None
    except ValueError as exc:
        raise ReportError(f"{origin}: not JSON ({exc})") from None
    depth = deepest_nesting(data)
    if depth > MAX_DEPTH:
        raise ReportError(f"{origin}: nested {depth} levels deep (a report nests at most {MAX_DEPTH}): not a report")
    return data


def deepest_nesting(value: Any) -> int:
    """How deep the lists and dicts of a parsed JSON document nest, found without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = item.values()
        elif not isinstance(item, list):
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in item if isinstance(child, dict | list))
    return deepest


def host_facts() -> dict[str, Any]:
    return {
        "hostname": socket.gethostname(),
        "os": platform.system(),
        "os_release": platform.release(),
        "os_version": platform.version(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": sys.platform,
    }
