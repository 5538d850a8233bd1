"""Golden files: every built-in format rendered from one saved report (a real loopback run with passes, warnings,
failures and collapsed skips). A change in any output shows up as a diff here; after checking it is intended,
regenerate with `UPDATE_GOLDEN=1 python3 -m pytest tests/test_golden.py`."""

from __future__ import annotations

import json
import os
from xml.etree import ElementTree

import pytest
from helpers import FIXTURES, GOLDEN

from preflight.engine.registry import load_reporters
from preflight.reporting.report import load

SAMPLE = GOLDEN / "sample-report.json"
FORMATS = {"table": "txt", "json": "json", "junit": "xml", "markdown": "md", "html": "html", "firewall": "csv",
           "firewall-md": "firewall.md"}  # fmt: skip


@pytest.fixture(autouse=True)
def _fixed_width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "120")  # the table wraps to the terminal: pin it


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_format_matches_its_golden_file(name: str) -> None:
    rendered = load_reporters().reporters[name].render(load(str(SAMPLE)))
    text = rendered.decode("utf-8") if isinstance(rendered, bytes) else rendered
    golden = GOLDEN / f"sample.{FORMATS[name]}"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden.name}: run with UPDATE_GOLDEN=1 once and review it"
    assert text == golden.read_text(encoding="utf-8"), f"{name} output changed: diff against {golden.name}"


def test_every_built_in_format_has_a_golden_file() -> None:
    built_in = {n for n, r in load_reporters().reporters.items() if type(r).__module__.startswith("reports.")}
    assert built_in == set(FORMATS)


def test_json_round_trips_through_the_reader() -> None:
    original = json.loads(SAMPLE.read_text())
    again = json.loads(load_reporters().reporters["json"].render(load(str(SAMPLE))))
    assert again["results"] == original["results"] and again["summary"] == original["summary"]


def test_junit_is_valid_against_the_common_junit_schema() -> None:
    """tests/fixtures/junit.xsd states the constraints of the Jenkins xUnit junit-10 schema that CI servers
    read (no `skipped` attribute on <testsuites>, numeric `time`, required suite counts)."""
    import xmlschema

    schema = xmlschema.XMLSchema(str(FIXTURES / "junit.xsd"))
    xml = (GOLDEN / "sample.xml").read_text(encoding="utf-8")
    schema.validate(xml)
    root = ElementTree.fromstring(xml)
    cases = root.findall(".//testcase")
    assert len(cases) == len(json.loads(SAMPLE.read_text())["results"])
    assert {"failure", "skipped"} <= {child.tag for case in cases for child in case}
