"""Reason codes are an interface: every code a check can emit is documented, explained and in docs/reason-codes.md."""

from __future__ import annotations

import re

import pytest
from helpers import ROOT

from preflight.engine.registry import all_codes, load_checks

CODE_LITERAL = re.compile(
    r"""["']((?:dns|tcp|tls|crl|clock|proxy|run|target|plugin|check|cause|watch|idle)\.[a-z_]+)["']"""
)


def emitted_codes() -> set[str]:
    """Every code-shaped string literal in the engine and the built-in checks."""
    found: set[str] = set()
    for folder in ("checks", "preflight"):
        for path in (ROOT / folder).rglob("*.py"):
            found |= set(CODE_LITERAL.findall(path.read_text()))
    check_ids = {c.id for c in load_checks().checks}
    return found - check_ids - {"dns.resolve", "tcp.connect", "watch.stability", "watch.idle"}


def test_every_emitted_code_is_documented() -> None:
    documented = set(all_codes(load_checks().checks))
    missing = emitted_codes() - documented
    assert not missing, f"codes used in the source but not documented: {sorted(missing)}"


def test_the_reason_code_reference_is_the_explain_commands_output() -> None:
    """docs/reason-codes.md is `preflight explain --markdown` after its header: every code, its status and its
    whole documentation, never out of step. UPDATE_DOCS=1 rewrites it."""
    import os

    from preflight.reporting import explain

    path = ROOT / "docs" / "reason-codes.md"
    text = path.read_text(encoding="utf-8")
    header, _, _table = text.partition("\n## ")
    generated = explain.markdown(all_codes(load_checks().checks))
    if os.environ.get("UPDATE_DOCS") == "1":
        path.write_text(header + "\n" + generated, encoding="utf-8")
        text = path.read_text(encoding="utf-8")
    assert text == header + "\n" + generated, "docs/reason-codes.md is out of step: UPDATE_DOCS=1 rewrites it"
    listed = set(re.findall(r"^\| `([a-z0-9_]+\.[a-z0-9_]+)` \|", text, re.MULTILINE))
    assert listed == set(all_codes(load_checks().checks))


def test_explain_markdown_is_the_reference() -> None:
    from click.testing import CliRunner

    from preflight.cli import cli

    run = CliRunner().invoke(cli, ["explain", "--markdown"])
    assert run.exit_code == 0 and "| `tcp.filtered` | fail |" in run.output
    assert CliRunner().invoke(cli, ["explain", "--markdown", "tcp.filtered"]).exit_code == 2


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
