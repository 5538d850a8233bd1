"""Hostile input, generated: every parser a user or a file can feed gives either a valid result or a one-line
error of its documented type, never a traceback. Each property runs CASES generated cases (10,000 in CI, 500
locally; PREFLIGHT_PROPERTY_CASES sets any count); the counts are printed at the end of the pytest run.
Bugs these found and fixed: a port written as "²" (str.isdigit accepts it, int() does not) and report files
whose fields had the wrong JSON type reaching the renderers."""

from __future__ import annotations

import contextlib
import json
import os
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from casecount import count
from helpers import GOLDEN
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from preflight import app as app_mod
from preflight import cli as cli_mod
from preflight import profile, proxy
from preflight.engine import plan
from preflight.engine.registry import load_reporters
from preflight.errors import UsageError
from preflight.proxy import pac
from preflight.proxy import windows as winproxy
from preflight.reporting.report import ReportError, from_json
from preflight.tenant.discovery import parse_tenant_option

# 10,000 cases each in CI (`CI` set, as .ci/run runs); 500 locally, so the unit lane stays quick.
CASES = int(os.environ.get("PREFLIGHT_PROPERTY_CASES", "10000" if os.environ.get("CI") else "500"))
# Deterministic in CI so a landing never depends on luck; PREFLIGHT_PROPERTY_RANDOM=1 explores new cases.
RANDOM = os.environ.get("PREFLIGHT_PROPERTY_RANDOM") == "1"
PROPERTY = settings(max_examples=CASES, deadline=None, database=None, derandomize=not RANDOM,
                    suppress_health_check=list(HealthCheck))  # fmt: skip
SAMPLE = json.loads((GOLDEN / "sample-report.json").read_text())


def one_line(message: str) -> None:
    assert message and "\n" not in message and "Traceback" not in message, message


def cases(name: str) -> Iterator[None]:
    count(name)
    yield


# --- profiles ------------------------------------------------------------------------------------------------

KEYS = ["name", "description", "endpoint", "host", "ports", "purpose", "source", "tls", "expected_roots", "clock",
        "ntp_servers", "warn_s", "fail_s", "optional", "x", "Name", "port", ""]  # fmt: skip
toml_scalar = st.one_of(
    st.integers(-(2**40), 2**40), st.floats(allow_nan=False), st.booleans(), st.text(max_size=30),
    st.sampled_from(["login.microsoftonline.com", "*.msappproxy.net", "{tenant_id}.x.net", "", "::1", "a..b"]),
)  # fmt: skip
toml_value = st.one_of(toml_scalar, st.lists(toml_scalar, max_size=4))


def toml_line(key: str, value: Any) -> str:
    return f"{json.dumps(key) if not key.isidentifier() else key} = {json.dumps(value)}"


@st.composite
def profile_text(draw: st.DrawFn) -> str:
    lines = [toml_line(k, draw(toml_value)) for k in draw(st.lists(st.sampled_from(KEYS), max_size=3))]
    for _ in range(draw(st.integers(0, 3))):
        lines.append(draw(st.sampled_from(["[[endpoint]]", "[tls]", "[clock]", "[endpoint]", "[[tls]]"])))
        for key in draw(st.lists(st.sampled_from(KEYS), max_size=5)):
            lines.append(toml_line(key, draw(toml_value)))
    if draw(st.booleans()):  # damage it
        text = "\n".join(lines)
        cut = draw(st.integers(0, len(text)))
        return text[:cut] + draw(st.text(max_size=5)) + text[cut:]
    return "\n".join(lines)


@PROPERTY
@given(st.one_of(profile_text(), st.text(max_size=200)))
def test_profile_loader(text: str) -> None:
    count("profile loader")
    try:
        loaded = profile.parse(text, origin="fuzz.toml", base_dir=Path("/nonexistent-profile-dir"))
    except UsageError as exc:
        one_line(str(exc))
        assert str(exc).startswith("fuzz.toml"), str(exc)
    else:
        assert loaded.endpoints and loaded.name.strip()


# --- CLI options ---------------------------------------------------------------------------------------------

OPTIONS = ["--profile", "--endpoint", "--tenant-id", "--only", "--skip", "--dns-server", "--timeout", "--deadline",
           "--concurrency", "--proxy", "--ntp-server", "--format", "--output", "--strict", "--quiet",
           "--proxy-credentials", "--public-roots", "--connector-config", "--nope", "-x"]  # fmt: skip
VALUES = st.one_of(
    st.text(alphabet=st.characters(blacklist_characters="/\\\x00", blacklist_categories=("Cs",)), max_size=25),
    st.sampled_from(["1", "0", "-1", "1e9", "nan", "443", "json", "json=", "table=x.txt", "none",
                     "http://u:pw@proxy.test:8080", "http://proxy.test", "socks5://p:1", "[::1]:53", "127.0.0.1:53",
                     "ok.test:443,80", "[2001:db8::1]:443", "00000000-0000-0000-0000-000000000000", "dns.*",
                     "contoso.onmicrosoft.com", "{72f988bf-86f1-41af-91ab-2d7cd011db47}",
                     "profile.toml", "entra-private-access", "-"]),
)  # fmt: skip


@pytest.fixture
def offline_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """The real option parsing and run setup, with the network part replaced: nothing is probed."""

    async def no_network(self: Any, *_args: Any, **_kwargs: Any) -> None:
        return None  # nothing looked up, nothing run: the plan as set up

    monkeypatch.setattr(app_mod._Stages, "run", no_network)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "profile.toml").write_text('name = "p"\n[[endpoint]]\nhost = "ok.test"\nports = [443]\n'
                                           'purpose = "t"\nsource = "t"\n')  # fmt: skip
    from click.testing import CliRunner

    return CliRunner()


@PROPERTY
@given(args=st.lists(st.one_of(st.sampled_from(OPTIONS), VALUES), max_size=8))
def test_cli_option_parsing(offline_cli: Any, args: list[str]) -> None:
    count("CLI options (run)")
    if "--pac" in args:
        return
    argv = ["run", "--profile", "profile.toml", *args]
    result = offline_cli.invoke(cli_mod.cli, argv, catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code in (0, 1, 2, 3), (argv, result.exit_code, result.output)
    if result.exit_code == 2:
        errors = [line for line in result.stderr.splitlines() if line.startswith("preflight: error:")]
        assert len(errors) == 1 or "Usage:" in result.output, (argv, result.stderr)


@PROPERTY
@given(st.one_of(st.text(max_size=40), VALUES))
def test_endpoint_server_tenant_and_ntp_options(value: str) -> None:
    count("CLI option values")
    for parse in (plan.parse_endpoint_option, parse_tenant_option, app_mod._ntp_server,
                  lambda v: plan.parse_server_option(v, option="--dns-server", default_port=53)):  # fmt: skip
        try:
            parse(value)
        except UsageError as exc:
            one_line(str(exc))


# --- proxy URLs and NO_PROXY ---------------------------------------------------------------------------------


@st.composite
def proxy_url(draw: st.DrawFn) -> tuple[str, str]:
    secret = "S3cr" + draw(st.text(alphabet=string.ascii_letters + string.digits, min_size=4, max_size=8))
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "socks5", "", "http:", "ftp"]))
    user = draw(st.sampled_from(["", "u:" + secret + "@", "u%3A:" + secret + "@", ":" + secret + "@"]))
    host = draw(st.one_of(st.sampled_from(["proxy.test", "[::1]", "127.0.0.1", "", "a b", "[", "x:y"]),
                          st.text(max_size=10)))  # fmt: skip
    port = draw(st.sampled_from(["", ":8080", ":0", ":99999", ":x", ":"]))
    tail = draw(st.sampled_from(["", "/", "/path", "?q", "#f"]))
    return f"{scheme}://{user}{host}{port}{tail}" if scheme else f"{user}{host}{port}{tail}", secret


@PROPERTY
@given(proxy_url(), st.text(max_size=60))
def test_proxy_url_and_no_proxy(url_and_secret: tuple[str, str], no_proxy: str) -> None:
    count("proxy URL / NO_PROXY")
    url, secret = url_and_secret
    try:
        config = proxy.parse_proxy_url(url)
    except UsageError as exc:
        one_line(str(exc))
        assert secret not in str(exc), "an error message showed the proxy password"
    else:
        assert secret not in config.display
    rules = proxy.parse_no_proxy(no_proxy)
    for rule in rules:
        rule.matches("login.microsoftonline.com") if hasattr(rule, "matches") else None
    env = proxy.from_environment({"HTTPS_PROXY": url, "NO_PROXY": no_proxy, "http_proxy": no_proxy})
    for problem in env.problems:
        one_line(problem)
        assert secret not in problem


# --- PAC -----------------------------------------------------------------------------------------------------
# The script itself runs in the JavaScript engine's worker (tests/integration/test_pac_engine.py fuzzes that); what
# the tool parses on its own is the script's answer.


@PROPERTY
@given(st.text(max_size=200))
def test_pac_result_parsing(result: str) -> None:
    count("PAC result parsing")
    for decision in pac.parse_result(result):
        assert decision.raw and ";" not in decision.raw
        assert decision.kind == decision.raw.split()[0].upper()


# --- Windows settings ----------------------------------------------------------------------------------------


@st.composite
def winhttp_blob(draw: st.DrawFn) -> bytes:
    if draw(st.booleans()):
        return draw(st.binary(max_size=80))
    blob = winproxy.build_winhttp_settings(draw(st.text(max_size=20)).encode("latin-1", "replace").decode("latin-1"),
                                           draw(st.sampled_from(["", "<local>", "*.test;<local>"])),
                                           flags=draw(st.integers(0, 2**32 - 1)))  # fmt: skip
    cut = draw(st.integers(0, len(blob)))
    return blob[:cut] if draw(st.booleans()) else blob


XML_PIECES = ["<configuration>", "</configuration>", "<system.net>", "</system.net>", "<defaultProxy>",
              "</defaultProxy>", '<defaultProxy enabled="false" useDefaultCredentials="x">', "<proxy/>",
              '<proxy proxyaddress="http://p:8080" bypassonlocal="True" usesystemdefault="false"/>',
              "<bypasslist>", "</bypasslist>", '<add address="contoso\\.com"/>', '<add address="[("/>',
              "<!DOCTYPE x>", "&amp;", "<", ">", "text"]  # fmt: skip


@PROPERTY
@given(winhttp_blob(), st.text(max_size=40), st.lists(st.sampled_from(XML_PIECES), max_size=10),
       st.dictionaries(st.sampled_from(["ProxyEnable", "ProxyServer", "ProxyOverride", "AutoConfigURL"]),
                       st.one_of(st.integers(), st.text(max_size=20), st.binary(max_size=8), st.none())))  # fmt: skip
def test_windows_settings_parsers(blob: bytes, text: str, xml: list[str], values: dict[str, Any]) -> None:
    count("Windows settings parsers")
    try:
        settings_ = winproxy.parse_winhttp_settings(blob)
        assert settings_.proxy is not None
    except winproxy.WindowsSettingsError as exc:
        one_line(str(exc))
    winproxy.parse_proxy_server(text)
    winproxy.BypassList.parse(text).matches("login.test")
    try:
        winproxy.parse_wininet(values)
    except winproxy.WindowsSettingsError as exc:
        one_line(str(exc))
    try:
        winproxy.parse_dotnet_config("".join(xml) + text, "fuzz.config")
    except winproxy.WindowsSettingsError as exc:
        one_line(str(exc))


# --- report readers (show / diff / merge) --------------------------------------------------------------------

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=12))
json_value = st.recursive(json_leaf, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                               st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                          max_leaves=6)  # fmt: skip
PATHS = [("schema_version",), ("tool",), ("tool", "version"), ("profile",), ("host",), ("options",),
         ("started_at",), ("duration_ms",), ("ended_by",), ("results",), ("results", 0), ("results", 0, "status"),
         ("results", 0, "target"), ("results", 0, "target", "host"), ("results", 0, "target", "port"),
         ("results", 0, "evidence"), ("results", 0, "code"), ("results", 0, "caused_by"), ("results", 3, "summary"),
         ("results", 5, "duration_ms"), ("results", 7, "target", "purposes"), ("options", "strict")]  # fmt: skip
REPORTERS = load_reporters().reporters


@st.composite
def damaged_report(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(json_value)
    data = json.loads(json.dumps(SAMPLE))
    for path in draw(st.lists(st.sampled_from(PATHS), min_size=1, max_size=3)):
        node = data
        with contextlib.suppress(KeyError, IndexError, TypeError):
            for key in path[:-1]:
                node = node[key]
            if draw(st.booleans()):
                node[path[-1]] = draw(json_value)
            elif isinstance(node, dict):
                node.pop(path[-1], None)
    return data


@PROPERTY
@given(damaged_report())
def test_report_reader_and_every_renderer(data: Any) -> None:
    count("report readers + renderers")
    try:
        report = from_json(data, "fuzz.json")
    except ReportError as exc:
        one_line(str(exc))
        return
    for name in ("table", "json", "markdown", "junit", "firewall"):
        REPORTERS[name].render(report)  # anything the reader accepts, every format can show
