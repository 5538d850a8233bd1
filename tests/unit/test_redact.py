"""The redactor and the pseudonymizer as pure functions: table-driven, one row per kind of secret or name."""

from __future__ import annotations

import base64
import re

import pytest

from preflight.bundle.pseudonym import Pseudonymizer
from preflight.redact import REDACTED, Redactor, compile_user_pattern

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
BASIC = base64.b64encode(b"svc-proxy:Winter2026!").decode()

SECRETS = [
    # text, the secret that must be gone, what must survive
    ("proxy http://alice:pa55word@proxy.corp:3128", "pa55word", "proxy.corp:3128"),
    ("https://bob:p%40ss%3Aword@10.1.1.1/", "p%40ss%3Aword", "/"),
    ("Proxy-Authorization: Basic " + BASIC, BASIC, "Proxy-Authorization"),
    ('"Authorization": "Bearer abcdefghijklmnopqrstuvwx"', "abcdefghijklmnopqrstuvwx", "Authorization"),
    ("Cookie: session=0123456789abcdef", "0123456789abcdef", "Cookie"),
    ("token " + JWT, JWT, "token"),
    ("key AKIAIOSFODNN7EXAMPLE used", "AKIAIOSFODNN7EXAMPLE", "used"),
    ("ghp_0123456789abcdefghijklmnopqrstuvwxyzAB in a log", "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB", "log"),
    ("xoxb-1234567890-abcdefghij", "xoxb-1234567890-abcdefghij", ""),
    ("password=hunter22&user=x", "hunter22", "user=x"),
    ("client_secret: 'Zm9vYmFyYmF6'", "Zm9vYmFyYmF6", "client_secret"),
    (
        "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=c2VjcmV0a2V5MTIz==;",
        "c2VjcmV0a2V5MTIz==",
        "AccountName=x",
    ),
    ("https://s.blob.core.windows.net/c?sv=2020&sig=AbCdEf123%2B%3D&se=1", "AbCdEf123%2B%3D", "sv=2020"),
    ('<add key="ClientSecret" value="v4lue-of-secret" />', "v4lue-of-secret", "<add"),
    ("<password>xml-secret-9</password>", "xml-secret-9", "<password>"),
    ("Authorization: Negotiate YIIGhgYGKwYBBQUCoIIGejCCBnagMDAu", "YIIGhgYGKwYBBQUCoIIGejCCBnagMDAu", "Negotiate"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----", "MIIEow", ""),
    ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN\n(cut short)", "MIIEvQIBADAN", ""),
]


@pytest.mark.parametrize(("text", "secret", "kept"), SECRETS)
def test_each_kind_of_secret_is_removed_and_the_context_kept(text: str, secret: str, kept: str) -> None:
    redactor = Redactor()
    out = redactor.text(text)
    assert secret not in out
    assert REDACTED in out
    assert kept in out
    assert secret in redactor.remembered or any(secret in v for v in redactor.remembered)


PROSE = [
    "basic connectivity to the proxy works",
    "the bearer tokens are short-lived",
    "signature_algorithm: sha256WithRSAEncryption",
    "send_credentials: false",
    "Tokens: 3",
    "subject: CN=login.microsoftonline.com",
    "sct_count: 2",
]


@pytest.mark.parametrize("text", PROSE)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert Redactor().text(text) == text


def test_a_secret_found_once_is_removed_everywhere_it_appears_alone() -> None:
    redactor = Redactor()
    first = redactor.text("HTTPS_PROXY=http://svc:Xy7-secret-Q@proxy:8080")
    later = redactor.text("the password Xy7-secret-Q was also typed here")
    assert "Xy7-secret-Q" not in first + later


def test_decoded_basic_credentials_are_remembered() -> None:
    redactor = Redactor()
    redactor.text("Proxy-Authorization: Basic " + BASIC)
    assert "Winter2026!" in redactor.remembered
    assert "Winter2026!" not in redactor.text("typed Winter2026! again")


def test_json_walk_redacts_secret_named_keys_but_keeps_booleans_and_numbers() -> None:
    redactor = Redactor()
    out = redactor.walk({"proxy_password": "abc123xyz", "use_credentials": True, "token_count": 3,
                         "nested": [{"api_key": "k-123456"}, "Authorization: Bearer 0123456789abcdefXYZ"]})  # fmt: skip
    assert out["proxy_password"] == REDACTED
    assert out["use_credentials"] is True and out["token_count"] == 3
    assert out["nested"][0]["api_key"] == REDACTED
    assert "0123456789abcdefXYZ" not in out["nested"][1]


def test_user_patterns() -> None:
    redactor = Redactor([compile_user_pattern(r"Project-Falcon-\d+")])
    assert redactor.text("codename Project-Falcon-42 ok") == f"codename {REDACTED} ok"


@pytest.mark.parametrize(("pattern", "words"), [("([", "not a regular expression"), ("x*", "empty string")])
def test_bad_user_patterns_are_one_line_errors(pattern: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        compile_user_pattern(pattern)


def test_pseudonyms_are_stable_and_consistent() -> None:
    p = Pseudonymizer(key=b"k" * 32)
    p.add("host", ["proxy.corp.example", "corp.example"])
    a = p.text("via proxy.corp.example and PROXY.CORP.EXAMPLE at 192.168.7.9, fd12:3456:789a::1 and 8.8.4.4")
    b = p.text("192.168.7.9 proxy.corp.example")
    assert "proxy.corp.example" not in a.lower() and "192.168.7.9" not in a and "fd12:3456:789a::1" not in a
    assert "8.8.4.4" in a  # public addresses stay: support needs them
    host = p.pseudonym("host", "proxy.corp.example")
    ip = p.pseudonym("ip4", "192.168.7.9")
    assert a.count(host) == 2 and host in b and ip in a and ip in b
    assert p.reverse[host] == "proxy.corp.example"
    assert Pseudonymizer(key=b"k" * 32).pseudonym("host", "proxy.corp.example") == host
    assert Pseudonymizer(key=b"j" * 32).pseudonym("host", "proxy.corp.example") != host


def test_pseudonyms_respect_word_boundaries_and_learn_users_from_paths() -> None:
    p = Pseudonymizer()
    p.add("host", ["web"])
    p.learn(r"C:\Users\alice.smith\AppData and /home/bob/.config")
    out = p.text(r"web webpage my-web web.corp C:\Users\alice.smith\x /home/bob/y")
    assert "webpage" in out and "my-web" in out
    assert not re.search(r"(?<![\w-])web(?![\w-])", out)
    assert "alice.smith" not in out and "/home/bob/" not in out


def test_a_proxy_url_urllib_refuses_is_reported_without_its_password() -> None:
    """urllib's NFKC check quotes the netloc, userinfo and all (found by the property test in CI)."""
    import pytest

    from preflight.errors import UsageError
    from preflight.proxy.url import parse_proxy_url

    with pytest.raises(UsageError) as refused:
        parse_proxy_url("http://u:S3cr0000@\uff1f")
    assert "S3cr0000" not in str(refused.value) and "invalid characters under NFKC" in str(refused.value)
