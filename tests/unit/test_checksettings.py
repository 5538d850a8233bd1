"""Check settings: declared defaults, a profile's [checks."id"] table, --set ID.KEY=VALUE, and the one-line errors
for a typo or a wrong type."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from preflight.engine import checksettings
from preflight.errors import ProfileError, UsageError
from preflight.profile import parse


class Ports:
    id = "example.port_list"
    settings = {"allowed_ports": [80, 443], "strict": False, "limit_s": 2.5, "label": "x"}  # noqa: RUF012


class Plain:
    id = "plain.check"


SET_OPTIONS = [
    ("example.port_list.allowed_ports=[443, 8398]", ("example.port_list", "allowed_ports", [443, 8398])),
    ("a.b.strict=true", ("a.b", "strict", True)),
    ("a.b.limit_s=3", ("a.b", "limit_s", 3)),
    ('a.b.label="two words"', ("a.b", "label", "two words")),
    ("a.b.label=plain text", ("a.b", "label", "plain text")),  # not TOML: taken as the string it is
    ("a.b.label=", ("a.b", "label", "")),
]


@pytest.mark.parametrize(("text", "expected"), SET_OPTIONS)
def test_parse_set_option(text: str, expected: tuple[str, str, Any]) -> None:
    assert checksettings.parse_set_option(text) == expected


@pytest.mark.parametrize("text", ["allowed_ports=[1]", "example=1", ".key=1", "example.port_list.allowed_ports"])
def test_malformed_set_options_say_the_shape(text: str) -> None:
    with pytest.raises(UsageError, match=r"expected ID\.KEY=VALUE"):
        checksettings.parse_set_option(text)


def test_defaults_then_the_profile_then_set() -> None:
    resolved = checksettings.resolve(
        [Ports(), Plain()], {"example.port_list": {"allowed_ports": [443], "limit_s": 1}}, "p.toml",
        [("example.port_list", "strict", True)],
    )  # fmt: skip
    assert resolved == {
        "example.port_list": {"allowed_ports": [443], "strict": True, "limit_s": 1.0, "label": "x"},
        "plain.check": {},
    }


ERRORS = [
    (
        {"example.port_list": {"allowed_port": [1]}},
        [],
        'p.toml: [checks."example.port_list"] allowed_port: '
        "example.port_list has no setting 'allowed_port' (its settings: allowed_ports, label, limit_s, strict)",
    ),
    (
        {},
        [("example.port_list", "allowed_ports", 443)],
        "--set example.port_list.allowed_ports: 443 is not a list of integers, the type of its default [80, 443]",
    ),
    ({}, [("example.port_list", "allowed_ports", ["443"])], "is not a list of integers"),
    ({}, [("example.port_list", "strict", 1)], "1 is not true or false"),
    ({}, [("example.port_list", "limit_s", "fast")], "'fast' is not a number"),
    ({}, [("example.port_list", "label", 5)], "5 is not a string"),
    ({}, [("plain.check", "anything", 1)], "plain.check has no setting 'anything' (its settings: none)"),
    ({}, [("nobody.installed", "x", 1)], "no installed check has the id 'nobody.installed'"),
]


@pytest.mark.parametrize(("tables", "overrides", "message"), ERRORS)
def test_errors_are_one_line_and_name_where(tables: dict[str, Any], overrides: list[Any], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        checksettings.resolve([Ports(), Plain()], tables, "p.toml", overrides, ["other.installed"])
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_settings_of_checks_not_loaded() -> None:
    """Installed but not selected: ignored. A profile's table for a plugin this host lacks: kept, not an error."""
    resolved = checksettings.resolve([Plain()], {"example.port_list": {"allowed_ports": [1]}}, "p.toml",
                                     [("example.port_list", "allowed_ports", [1])], ["example.port_list"])  # fmt: skip
    assert resolved == {"plain.check": {}}


PROFILE = 'name = "x"\n[[endpoint]]\nhost = "a.test"\nports = [443]\npurpose = "p"\nsource = "s"\n'


def test_profile_checks_tables(tmp_path: Path) -> None:
    profile = parse(PROFILE + '[checks."example.port_list"]\nallowed_ports = [443]\n', origin="p.toml",
                    base_dir=tmp_path)  # fmt: skip
    assert profile.checks == {"example.port_list": {"allowed_ports": [443]}}
    with pytest.raises(ProfileError, match=r'p\.toml:8: .*must be a table of settings \(\[checks\."x"\]\)'):
        parse(PROFILE + "[checks]\nx = 1\n", origin="p.toml", base_dir=tmp_path)


def test_plan_gives_a_check_its_settings_or_its_defaults() -> None:
    from preflight import profile
    from preflight.engine import plan

    loaded = profile.load("entra-private-access")
    assert plan.build(loaded).settings_for(Ports())["allowed_ports"] == [80, 443]
    built = plan.build(loaded, check_settings={"example.port_list": {"allowed_ports": [1]}})
    assert built.settings_for(Ports()) == {"allowed_ports": [1]}
    assert built.settings_for(Plain()) == {}
