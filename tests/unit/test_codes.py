"""Reason codes are an interface: every code a check can emit is documented, explained and in the README."""

from __future__ import annotations

import re

import pytest
from helpers import ROOT

from preflight.engine.registry import all_codes, load_checks

CODE_LITERAL = re.compile(r"""["']((?:dns|tcp|tls|crl|clock|proxy|run|target|plugin|check|cause)\.[a-z_]+)["']""")


def emitted_codes() -> set[str]:
    """Every code-shaped string literal in the engine and the built-in checks."""
    found: set[str] = set()
    for folder in ("checks", "preflight"):
        for path in (ROOT / folder).rglob("*.py"):
            found |= set(CODE_LITERAL.findall(path.read_text()))
    check_ids = {c.id for c in load_checks().checks}
    return found - check_ids - {"dns.resolve", "tcp.connect"}


def test_every_emitted_code_is_documented() -> None:
    documented = set(all_codes(load_checks().checks))
    missing = emitted_codes() - documented
    assert not missing, f"codes used in the source but not documented: {sorted(missing)}"


def test_every_documented_code_is_in_the_readme_table() -> None:
    readme = (ROOT / "README.md").read_text().split("\n## Reason codes", 1)[1].split("\n## ", 1)[0]
    table = {m.group(1) for m in re.finditer(r"^\| `([a-z0-9_]+\.[a-z0-9_]+)` \|", readme, re.MULTILINE)}
    documented = set(all_codes(load_checks().checks))
    assert documented - table == set(), "missing from README's code table"
    assert table - documented == set(), "README documents codes that no longer exist"


@pytest.mark.parametrize("code", sorted(all_codes(load_checks().checks)))
def test_explain_prints_meaning_detection_and_fix(code: str) -> None:
    """In process (click's runner): one subprocess per code cost the suite half a minute; the CLI's own start-up
    and output paths are tested in tests/integration."""
    from click.testing import CliRunner

    from preflight.cli import cli

    run = CliRunner().invoke(cli, ["explain", code])
    assert run.exit_code == 0, run.output
    for heading in ("What it means:", "How it is detected:", "How to fix it:"):
        assert heading in run.output


def test_check_descriptions_are_whole_sentences() -> None:
    """A description split over two lines without parentheses is two statements: the second part is lost."""
    for check in load_checks().checks:
        for text in (check.title, check.requires):
            assert text.strip() and not text.rstrip().endswith((",", ";", "(")), (check.id, text)
    effective = next(c for c in load_checks().checks if c.id == "proxy.effective")
    assert effective.requires.endswith("the connector's .exe.config)")


def test_codes_finding_takes_status_and_fix_from_the_documentation() -> None:
    from preflight import CodeDoc, Codes, Status

    codes = Codes({"x.ok": CodeDoc(Status.PASS, "m", "d", "Nothing to do."),
                   "x.bad": CodeDoc(Status.FAIL, "m", "d", "Open the port.")})  # fmt: skip
    ok = codes.finding("x.ok", "fine", {"n": 1})
    assert (ok.status, ok.code, ok.summary, ok.evidence, ok.remediation) == (Status.PASS, "x.ok", "fine", {"n": 1}, "")
    bad = codes.finding("x.bad", "closed")
    assert (bad.status, bad.remediation, bad.evidence) == (Status.FAIL, "Open the port.", {})
    assert codes.finding("x.bad", "closed", remediation="Open 8398 too.").remediation == "Open 8398 too."
    with pytest.raises(KeyError):
        codes.finding("x.undocumented", "?")
