"""What the CLI's adapters call: where each format goes, a broken reporter among good ones, the progress line,
`explain` for an unknown code, and the bundle's target. Pure or on tmp_path; no sockets."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from helpers import GOLDEN

from preflight.bundle.write import bundle_target, user_patterns
from preflight.engine.registry import all_codes, load_checks
from preflight.errors import UsageError
from preflight.model import CheckResult, Status, Target
from preflight.reporting import emit, explain
from preflight.reporting.progress import ProgressLine
from preflight.reporting.report import load as load_report

KNOWN = {"table", "json", "html"}


@pytest.mark.parametrize(
    ("formats", "output", "expected"),
    [
        (["table"], "-", [("table", "-")]),
        (["json=out.json", "table"], "-", [("json", "out.json"), ("table", "-")]),
        (["json", "html"], "report", [("json", "report"), ("html", "report")]),
        ([" json =r.json"], "-", [("json", "r.json")]),  # the name is trimmed
    ],
)
def test_destinations(formats: list[str], output: str, expected: list[tuple[str, str]], tmp_path: Path,
                      monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    assert emit.parse_destinations(formats, output, KNOWN) == expected


@pytest.mark.parametrize(
    ("formats", "output", "message"),
    [
        (["xml"], "-", "--format 'xml': unknown format (available: html, json, table)"),
        (["json="], "-", "--format 'json=': missing path after '='"),
        (["json", "table"], "-", "--format: only one format can go to stdout, got json, table"),
        (["json=missing/dir/r.json"], "-", "--output 'missing/dir/r.json': directory 'missing/dir' does not exist"),
    ],
)
def test_bad_destinations_are_one_line(formats: list[str], output: str, message: str, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError) as caught:
        emit.parse_destinations(formats, output, KNOWN)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("destinations", "quiet", "expected"),
    [
        ([("json", "r.json")], False, [("json", "r.json"), ("table", "-")]),  # the person still sees the verdict
        ([("json", "r.json")], True, [("json", "r.json")]),
        ([("json", "-")], False, [("json", "-")]),  # stdout is taken
        ([("json", "r.json"), ("table", "t.txt")], False, [("json", "r.json"), ("table", "t.txt"), ("table", "-")]),
    ],
)
def test_console_table_when_every_report_goes_to_a_file(destinations: list[tuple[str, str]], quiet: bool,
                                                        expected: list[tuple[str, str]]) -> None:  # fmt: skip
    assert emit.with_console_table(destinations, quiet, KNOWN) == expected
    assert emit.with_console_table(destinations, quiet, {"json"}) == destinations  # no table reporter loaded


def test_a_directory_that_cannot_be_written_is_found_before_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:  # root writes through directory modes: refuse as a share would
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("tempfile.mkstemp", refuse)
    target = tmp_path / "r.json"
    with pytest.raises(UsageError) as caught:
        emit.check_writable([("table", "-"), ("json", str(target))])
    assert str(caught.value) == f"--format json={target}: cannot create files in {tmp_path}: Permission denied"
    emit.check_writable([("table", "-"), ("json", "/dev/null")])  # a device is written in place, never probed


class _Broken:
    def render(self, report: Any) -> str:
        raise RuntimeError("template missing")


class _Text:
    def __init__(self, text: str) -> None:
        self.text = text

    def render(self, report: Any) -> str:
        print("a stray print")  # must not reach stdout, which carries a report
        return self.text


def test_a_broken_reporter_is_one_line_and_the_others_still_come_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = load_report(str(GOLDEN / "sample-report.json"))
    said: list[str] = []
    reporters = {"broken": _Broken(), "text": _Text("to a file\n"), "table": _Text("to stdout\n")}
    destinations = [("broken", str(tmp_path / "b.out")), ("text", str(tmp_path / "t.out")), ("table", "-")]
    assert emit.emit(report, destinations, reporters, said.append) is False
    assert said == ["preflight: error: reporter 'broken' failed: RuntimeError: template missing"]
    assert (tmp_path / "t.out").read_text() == "to a file\n"
    assert not (tmp_path / "b.out").exists()
    out = capsys.readouterr()
    assert out.out == "to stdout\n"
    assert out.err.count("a stray print") == 2


def test_an_unwritable_destination_names_it(tmp_path: Path) -> None:
    report = load_report(str(GOLDEN / "sample-report.json"))
    said: list[str] = []
    target = tmp_path / "gone" / "r.txt"  # its directory vanished after the options were checked
    assert emit.emit(report, [("text", str(target))], {"text": _Text("x")}, said.append) is False
    assert len(said) == 1 and said[0].startswith(f"preflight: error: cannot write text report to {target}: ")


def _result(check: str, status: Status) -> CheckResult:
    return CheckResult(check=check, target=Target(host="login.contoso.test", port=443), status=status,
                       code="check.ok", summary="", evidence={})  # fmt: skip


def test_progress_line_rewrites_itself_and_clears() -> None:
    stream = io.StringIO()
    line = ProgressLine(stream, enabled=True)
    line.update(_result("tcp.connect", Status.PASS), 1, 3)
    line.update(_result("dns", Status.FAIL), 2, 3)
    line.clear()
    first = "[1/3] tcp.connect login.contoso.test:443: pass"
    second = "[2/3] dns login.contoso.test:443: fail"
    assert stream.getvalue() == ("\r" + first) + ("\r" + second.ljust(len(first))) + ("\r" + " " * len(second) + "\r")
    silent = io.StringIO()
    off = ProgressLine(silent, enabled=False)
    off.update(_result("dns", Status.PASS), 1, 1)
    off.clear()
    assert silent.getvalue() == ""


def test_explain_an_unknown_code_names_its_family() -> None:
    codes = all_codes(load_checks().checks)
    with pytest.raises(UsageError, match=r"^unknown reason code 'tls\.nope'; codes in that family: .*tls\.intercepted"):
        explain.describe("tls.nope", codes)
    with pytest.raises(UsageError, match=r"'preflight explain' lists all$"):
        explain.describe("zzz", codes)
    text = explain.describe("tls.intercepted", codes)
    assert text.startswith("tls.intercepted  (from tls.interception; status fail)\n\nWhat it means:\n  ")
    lines = explain.index(codes).splitlines()
    assert len(lines) == len(codes) and lines == sorted(lines)


def test_bundle_target_and_patterns_are_checked_before_the_run(tmp_path: Path) -> None:
    assert bundle_target(str(tmp_path / "b.zip")) == tmp_path / "b.zip"
    with pytest.raises(UsageError, match="not a file in an existing directory"):
        bundle_target(str(tmp_path))
    with pytest.raises(UsageError, match="not a file in an existing directory"):
        bundle_target(str(tmp_path / "missing" / "b.zip"))
    assert [p.pattern for p in user_patterns(["Fabrikam-\\d+"])] == ["Fabrikam-\\d+"]
    with pytest.raises(UsageError, match=r"^--redact '\(': not a regular expression"):
        user_patterns(["("])
