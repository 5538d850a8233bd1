from __future__ import annotations

import pytest

from preflight import profile as profile_mod
from preflight.engine import plan as plan_mod
from preflight.errors import UsageError
from preflight.tenant.discovery import parse_tenant_option

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


@pytest.mark.parametrize(
    ("text", "host", "ports"),
    [
        ("a.test:443", "a.test", (443,)),
        ("A.Test:443,8398", "a.test", (443, 8398)),
        ("198.18.0.5:80", "198.18.0.5", (80,)),
        ("[2001:db8::5]:443,80", "2001:db8::5", (443, 80)),
        ("a.test:443,443", "a.test", (443,)),
        ("a.test", "a.test", (443,)),  # a host alone: HTTPS, as the connector's endpoints are
        ("[2001:db8::5]", "2001:db8::5", (443,)),
        ("https://app.contoso.com", "app.contoso.com", (443,)),  # a URL pasted from a browser
        ("http://crl.contoso.com/pki/x.crl", "crl.contoso.com", (80,)),
        ("https://app.contoso.com:8443/path?q=1", "app.contoso.com", (8443,)),
        ("https://[2001:db8::5]/", "2001:db8::5", (443,)),
    ],
)
def test_endpoint_option_parses(text: str, host: str, ports: tuple[int, ...]) -> None:
    endpoint = plan_mod.parse_endpoint_option(text)
    assert (endpoint.host, endpoint.ports) == (host, ports)
    assert endpoint.source == "--endpoint"


@pytest.mark.parametrize(
    "text", ["a.test:", ":443", "ftp://a.test", "https://:443", "https://a.test:99999", "https:///x", "a.test:0",
             "a.test:70000", "a.test:x", "2001:db8::5:443", "[::1]443",
             "bad host:443", "[zz]:443"],
)  # fmt: skip
def test_endpoint_option_refuses_garbage_in_one_line(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        plan_mod.parse_endpoint_option(text)
    assert str(caught.value).startswith("--endpoint ")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.0.0.1", ("127.0.0.1", 53)), ("127.0.0.1:5353", ("127.0.0.1", 5353)), ("::1", ("::1", 53)),
     ("[::1]:5353", ("::1", 5353))],
)  # fmt: skip
def test_server_option(text: str, expected: tuple[str, int]) -> None:
    assert plan_mod.parse_server_option(text, option="--dns-server", default_port=53) == expected


@pytest.mark.parametrize("text", ["dns.example", "127.0.0.1:x", "127.0.0.1:0", "[::1", "[::1]x"])
def test_server_option_refuses_garbage(text: str) -> None:
    with pytest.raises(UsageError, match="--dns-server"):
        plan_mod.parse_server_option(text, option="--dns-server", default_port=53)


def test_tenant_placeholder_is_filled_or_reported_missing() -> None:
    profile = profile_mod.load("entra-private-access")
    without = plan_mod.build(profile)
    boot = [t for t in without.host_targets() if t.template]
    assert boot and all(t.missing == ("tenant_id",) for t in boot)

    filled = plan_mod.build(profile, tenant_id=parse_tenant_option(TENANT.upper()).guid)
    hosts = {t.host for t in filled.host_targets()}
    assert f"{TENANT}.bootstrap.msappproxy.net" in hosts
    assert not any(t.missing for t in filled.host_targets())


def test_service_rows_are_the_profile_rows_marked_service() -> None:
    rows = plan_mod.service_rows(plan_mod.build(profile_mod.load("entra-private-access")))
    assert ("{tenant_id}.bootstrap.msappproxy.net", 8398) in rows and ("*.servicebus.windows.net", 443) in rows
    assert all(host.endswith(("msappproxy.net", "servicebus.windows.net")) for host, _port in rows)
    filled = plan_mod.service_rows(plan_mod.build(profile_mod.load("entra-private-access"), tenant_id=TENANT))
    assert (f"{TENANT}.bootstrap.msappproxy.net", 443) in filled


def test_targets_merge_rows_sharing_a_host_and_port() -> None:
    profile = profile_mod.load("entra-private-access")
    plan = plan_mod.build(
        profile, extra_endpoints=(plan_mod.parse_endpoint_option("login.microsoftonline.com:443,444"),)
    )
    ports = [t for t in plan.port_targets() if t.host == "login.microsoftonline.com"]
    assert [t.port for t in ports] == [443, 444]
    assert "--endpoint" in ports[0].sources and len(ports[0].sources) == 2
    assert len([t for t in plan.host_targets() if t.host == "login.microsoftonline.com"]) == 1


HOST_PORT = [
    # (text, names allowed, expected (host, port) or the error's words)
    ("198.18.0.53", False, ("198.18.0.53", 53)),
    ("198.18.0.53:5353", False, ("198.18.0.53", 5353)),
    ("[2001:db8::1]:5353", False, ("2001:db8::1", 5353)),
    ("[2001:DB8::1]", False, ("2001:db8::1", 53)),
    ("2001:db8::1", False, ("2001:db8::1", 53)),  # a bare IPv6 address: no port to split off
    ("ntp.test", True, ("ntp.test", 53)),
    ("ntp.test:123", True, ("ntp.test", 123)),
    ("ntp.test", False, "is not an IP address"),
    ("198.18.0.53:x", False, "'x' is not a port"),
    ("198.18.0.53:²", False, "is not a port"),  # str.isdigit says yes, int() says no
    ("198.18.0.53:0", False, "port 0 is out of range"),
    ("[2001:db8::1", False, "missing ']'"),
    ("[ntp.test]:123", True, "is not an IPv6 address"),
    ("[2001:db8::1]123", False, "expected [IPV6]:PORT"),
    ("bad name:1", True, "expected HOST[:PORT] or [IPV6]:PORT"),
]


@pytest.mark.parametrize(("text", "names", "expected"), HOST_PORT)
def test_split_host_port(text: str, names: bool, expected: object) -> None:
    from preflight.errors import UsageError
    from preflight.netutil import split_host_port
    from preflight.profile import is_valid_host

    valid = is_valid_host if names else None
    if isinstance(expected, tuple):
        assert split_host_port(text, option="--x", default_port=53, valid_name=valid) == expected
    else:
        with pytest.raises(UsageError) as caught:
            split_host_port(text, option="--x", default_port=53, valid_name=valid)
        assert str(caught.value).startswith(f"--x {text!r}: ") and str(expected) in str(caught.value)


def test_bracketed() -> None:
    from preflight.netutil import bracketed

    assert [bracketed(h) for h in ("2001:db8::1", "[2001:db8::1]", "198.18.0.1", "a.test")] == [
        "[2001:db8::1]", "[2001:db8::1]", "198.18.0.1", "a.test"]  # fmt: skip
