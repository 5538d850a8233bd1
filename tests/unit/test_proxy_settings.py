"""Proxy URL parsing with redaction, environment discovery and NO_PROXY decisions."""

from __future__ import annotations

import pytest
from proxysettings import proxy_settings

from preflight.errors import UsageError
from preflight.proxy import NoProxyRule, from_environment, parse_proxy_url, redact_url


@pytest.mark.parametrize(
    ("text", "host", "port", "user"),
    [
        ("http://proxy.lab:3128", "proxy.lab", 3128, None),
        ("proxy.lab:3128", "proxy.lab", 3128, None),
        ("http://proxy.lab", "proxy.lab", 8080, None),
        ("http://alice:s3cr%40t@proxy.lab:3128", "proxy.lab", 3128, "alice"),
        ("http://[2001:db8::3]:3128", "2001:db8::3", 3128, None),
        ("http://PROXY_01.Lab.:3128", "proxy_01.lab.", 3128, None),
        ("http://prøxy.lab:3128", "xn--prxy-hra.lab", 3128, None),  # an IDN host, as .NET's Uri sends it
    ],
)
def test_parse_proxy_url(text: str, host: str, port: int, user: str | None) -> None:
    proxy = parse_proxy_url(text)
    assert (proxy.host, proxy.port, proxy.username) == (host, port, user)
    assert "s3cr" not in proxy.display and "s3cr" not in repr(proxy)


def test_credentials_are_decoded_for_use_but_never_displayed() -> None:
    proxy = parse_proxy_url("http://alice:s3cr%40t@proxy.lab:3128")
    assert proxy.password == "s3cr@t"
    assert proxy.display == "http://proxy.lab:3128"  # no userinfo, not even masked: it names keys and labels
    assert proxy.has_credentials and "alice" not in proxy.display


@pytest.mark.parametrize(
    "text", ["https://proxy.lab:3128", "socks5://proxy.lab:1080", "http://proxy.lab:99999", "http://:3128",
             "http://proxy.lab:3128/path", "http://alice:secret@proxy.lab:notaport",
             "http://alice:secret@bad host:3128", "http://a..lab:3128", "http://-proxy.lab:3128",
             "http://proxy.lab;8080", "http://198.18.0.300:80"],
)  # fmt: skip
def test_bad_proxy_urls_are_one_line_errors_without_secrets(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_proxy_url(text)
    assert "secret" not in str(caught.value) and "\n" not in str(caught.value)


def test_redact_url() -> None:
    assert redact_url("http://u:p@h:1") == "http://h:1"
    assert redact_url("u:p@h:1") == "h:1"
    assert redact_url("http://h:1") == "http://h:1"
    assert redact_url("u:S3cr0000@://") == "://"  # found by the property test: no scheme before the userinfo
    assert redact_url("http://a:b@c@h:1/x") == "http://h:1/x"


@pytest.mark.parametrize(
    ("rule", "host", "matches"),
    [
        ("*", "login.microsoftonline.com", True),
        ("microsoftonline.com", "login.microsoftonline.com", True),
        ("microsoftonline.com", "microsoftonline.com", True),
        (".microsoftonline.com", "login.microsoftonline.com", True),
        (".microsoftonline.com", "microsoftonline.com", False),
        ("*.microsoftonline.com", "login.microsoftonline.com", True),
        ("online.com", "login.microsoftonline.com", False),
        ("198.18.50.10", "198.18.50.10", True),
        ("198.18.0.0/15", "198.18.50.10", True),
        ("198.18.0.0/15", "login.microsoftonline.com", False),
        ("localhost:8080", "localhost", True),
        ("", "anything", False),
    ],
)
def test_no_proxy_rules(rule: str, host: str, matches: bool) -> None:
    assert NoProxyRule(rule).matches(host) is matches


def test_environment_lower_case_wins_and_no_proxy_is_reported_per_target() -> None:
    env = from_environment({"HTTPS_PROXY": "http://upper:1", "https_proxy": "http://lower:2",
                            "HTTP_PROXY": "http://plain:3", "NO_PROXY": ".windows.net,crl3.digicert.com"})  # fmt: skip
    settings = proxy_settings(environment=env)
    route = settings.route("login.microsoftonline.com", 443, tls=True)
    assert route.proxy is not None and route.proxy.host == "lower" and route.source == "https_proxy"
    assert settings.route("crl4.digicert.com", 80, tls=False).proxy.host == "plain"  # type: ignore[union-attr]
    bypass = settings.route("login.windows.net", 443, tls=True)
    assert bypass.direct and bypass.source == "direct (NO_PROXY rule '.windows.net')"
    assert settings.route("crl3.digicert.com", 80, tls=False).direct


def test_explicit_beats_environment_and_none_disables() -> None:
    env = from_environment({"HTTPS_PROXY": "http://env:1"})
    explicit = proxy_settings(explicit=parse_proxy_url("http://cli:2"), environment=env)
    assert explicit.route("a.test", 443, tls=True).source == "--proxy"
    off = proxy_settings(explicit_none=True, environment=env)
    assert off.route("a.test", 443, tls=True).direct and not off.inputs.any()


def test_a_bad_environment_value_is_a_problem_not_a_crash() -> None:
    env = from_environment({"HTTPS_PROXY": "socks5://x:1"})
    assert env.https is None and "only http://" in env.problems[0]
