"""Output injection: names, certificate subjects, page titles and errors carry attacker text, and every report
format must carry it as text. A saved run is filled with hostile strings in every field a peer can influence,
rendered through emit (as a run writes its reports) and each output is read back by a real parser of its format."""

from __future__ import annotations

import copy
import csv
import html.parser
import io
import json
import re
from typing import Any
from xml.etree import ElementTree

import pytest
from helpers import ROOT
from markdown_it import MarkdownIt

from preflight.engine.registry import load_reporters
from preflight.reporting import emit
from preflight.reporting.report import from_json
from reports import escape

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(2)>",
    "[click](javascript:alert(3))",
    "![pixel](https://evil.example/p.png)",
    "<javascript:alert(4)>",
    "**bold** _it_ `code` ~~gone~~ | a | b |",
    '=HYPERLINK("https://evil.example","x")',
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
    "\x1b[2J\x1b]0;owned\x07\x1b[31mred",
    "bell\x07 backspace\x08 nul\x00 vt\x0b ff\x0c del\x7f c1\x9b",
    "bidi \u202eevil\u202c zero\u200bwidth \u2066iso\u2069",
    "lone surrogate \ud800 and \udfff",
    "]]> <!-- --> &amp; &#x3c; \ufffe\uffff",
    "line\nbreak\r\nand\ttab",
]
ATTACK = " ".join(HOSTILE)
CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200b]")


def hostile_report() -> Any:
    data = json.loads((ROOT / "tests" / "golden" / "sample-report.json").read_text())
    data["host"]["hostname"] = f"vm{HOSTILE[0]}{HOSTILE[10]}"
    data["profile"]["name"] = f"p{HOSTILE[2]}"
    extra = []
    for index, result in enumerate(data["results"]):
        result["summary"] = f"{result['summary']} {HOSTILE[index % len(HOSTILE)]} {ATTACK}"
        result["remediation"] = f"fix {HOSTILE[(index + 3) % len(HOSTILE)]}"
        result["evidence"]["page_title"] = ATTACK
        if result["status"] in ("fail", "warn"):
            twin = copy.deepcopy(result)
            twin["target"]["host"] = f"evil{index}.test{HOSTILE[(index + 6) % len(HOSTILE)]}"
            twin["target"]["sources"] = ["javascript:alert(5)", "https://evil.example/a b)(c", "=cmd|x"]
            twin["target"]["purposes"] = [HOSTILE[6], HOSTILE[3]]
            twin["id"] = f"{twin['id']}-twin"
            extra.append(twin)
    data["results"] += extra
    return from_json(data, "hostile.json")


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("inject")
    reporters = load_reporters().reporters
    names = ("json", "html", "markdown", "junit", "firewall", "firewall-md", "table")
    destinations = [(name, str(folder / f"out.{name}")) for name in names]
    said: list[str] = []
    assert emit.emit(hostile_report(), destinations, reporters, said.append), said
    return {name: (folder / f"out.{name}").read_text(encoding="utf-8") for name in names}


def test_the_table_sends_no_control_sequence_to_the_terminal(outputs: dict[str, str]) -> None:
    table = outputs["table"]
    assert not CONTROLS.search(table), repr(CONTROLS.search(table))
    assert "\\x1b[2J" in table and "\\u202e" in table  # shown, so the reader sees what was there


def _markdown_html(text: str) -> str:
    return MarkdownIt("commonmark").enable("table").enable("strikethrough").render(text)


@pytest.mark.parametrize("name", ["markdown", "firewall-md"])
def test_markdown_carries_attacker_text_as_text(outputs: dict[str, str], name: str) -> None:
    rendered = _markdown_html(outputs[name])
    tags = {m.group(1).lower() for m in re.finditer(r"<([a-zA-Z][\w-]*)", rendered)}
    allowed = {
        "h1",
        "h2",
        "p",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "code",
        "strong",
        "a",
        "em",
        "ol",
        "li",
        "br",
    }
    assert tags <= allowed, tags
    assert "<script" not in rendered and "<img" not in rendered and "onerror" not in rendered.replace("onerror=", "")
    hrefs = re.findall(r'href="([^"]*)"', rendered)
    assert all(h.startswith("https://") and " " not in h for h in hrefs), hrefs
    assert "<s>" not in rendered and "<del>" not in rendered
    assert not CONTROLS.search(outputs[name])
    # every table row has as many cells as its header: a '|' in attacker text did not open a column
    for table in re.findall(r"<table>.*?</table>", rendered, re.S):
        header = len(re.findall(r"<th>", table.split("</thead>")[0]))
        for row in re.findall(r"<tr>(.*?)</tr>", table.split("</thead>")[1], re.S):
            assert len(re.findall(r"<td>", row)) == header


def test_markdown_emphasis_in_attacker_text_stays_literal(outputs: dict[str, str]) -> None:
    rendered = _markdown_html(outputs["markdown"])
    assert "**bold**" in rendered and "_it_" in rendered  # shown as typed
    assert "<em>it</em>" not in rendered and "<strong>bold</strong>" not in rendered


def test_the_firewall_csv_has_no_formula(outputs: dict[str, str]) -> None:
    rows = list(csv.reader(io.StringIO(outputs["firewall"])))
    assert len(rows) > 1
    cells = [cell for row in rows for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], "a cell a spreadsheet would evaluate"
    assert any(cell.startswith("'=cmd") or "'=HYPERLINK" in cell or cell.startswith("'=") for cell in cells)
    assert not CONTROLS.search(outputs["firewall"])


def test_junit_is_well_formed_xml_that_validates(outputs: dict[str, str]) -> None:
    import xmlschema

    root = ElementTree.fromstring(outputs["junit"].encode("utf-8"))
    assert root.tag == "testsuites"
    xmlschema.XMLSchema(str(ROOT / "tests" / "fixtures" / "junit.xsd")).validate(outputs["junit"])
    messages = [e.get("message", "") for e in root.iter() if e.get("message")]
    assert any("<script>" in m for m in messages)  # the text survives, as text


def test_html_carries_attacker_text_as_text(outputs: dict[str, str]) -> None:
    tags: list[str] = []

    class Collector(html.parser.HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            tags.append(tag)
            assert not any(name.startswith("on") for name, _ in attrs)
            assert not any("javascript:" in (value or "") for _, value in attrs)

    Collector().feed(outputs["html"])
    assert "script" not in tags and "img" not in tags


def test_json_is_strict_and_keeps_the_text(outputs: dict[str, str]) -> None:
    def refuse(name: str) -> None:
        raise AssertionError(f"not strict JSON: {name}")

    data = json.loads(outputs["json"], parse_constant=refuse)
    assert any("<script>alert(1)</script>" in r["summary"] for r in data["results"])
    outputs["json"].encode("utf-8")


@pytest.mark.parametrize("text", HOSTILE)
def test_each_escape_is_total(text: str) -> None:
    """Whatever the text, each format's escape gives something its parser reads back as plain text."""
    assert not CONTROLS.search(escape.visible(text))
    assert not CONTROLS.search(escape.terminal(text).replace("\n", ""))
    assert not escape.csv_cell(text).startswith(("=", "+", "-", "@"))
    element = ElementTree.Element("a", {"b": escape.xml_text(text)})
    element.text = escape.xml_text(text)
    ElementTree.fromstring(ElementTree.tostring(element, encoding="unicode").encode("utf-8", "surrogatepass"))
    for fragment in (escape.markdown(text), escape.markdown_code(text)):
        rendered = _markdown_html(fragment)
        assert "<script" not in rendered and "<img" not in rendered and "href" not in rendered, rendered
    assert escape.markdown_link("javascript:alert(1)") == "javascript:alert(1)"
    assert escape.markdown_link("https://learn.microsoft.com/a") == "[link](https://learn.microsoft.com/a)"


def test_the_escapes_leave_ordinary_text_as_it_is() -> None:
    plain = "login.microsoftonline.com:443 (20.190.1.2) via proxy.corp:3128; TLSv1.3"
    assert escape.visible(plain) == plain and escape.terminal(plain) == plain and escape.csv_cell(plain) == plain
    assert escape.markdown(plain) == plain and escape.xml_text(plain) == plain
