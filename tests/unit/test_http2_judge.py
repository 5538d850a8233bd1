"""Table-driven tests of tls.http2's verdict and of the first-frame rule (RFC 9113 3.4)."""

from __future__ import annotations

import pytest

from checks.http2 import CODES, Http2Observed, judge
from preflight.probes.http2 import Http2Exchange, _first_frame_problem


def ex(outcome: str, path: str = "198.18.50.10", **fields: object) -> Http2Exchange:
    return Http2Exchange(path, 443, "t.msappproxy.net", outcome, **fields)  # type: ignore[arg-type]


CASES = [
    ("h2 everywhere", [ex("ok", alpn="h2", settings={"MAX_CONCURRENT_STREAMS": 100})], "pass", "http2.ok"),
    ("downgraded by the proxy", [ex("no_h2", "via http://198.18.1.1:3128", alpn="http/1.1")], "fail",
     "http2.not_negotiated"),
    ("no ALPN at all", [ex("no_h2")], "fail", "http2.not_negotiated"),
    ("frames mangled", [ex("garbage", alpn="h2", error="the first frame is not SETTINGS")], "fail", "http2.broken"),
    ("GOAWAY", [ex("goaway", alpn="h2", goaway_error="ENHANCE_YOUR_CALM")], "fail", "http2.broken"),
    ("silence", [ex("silent", alpn="h2")], "fail", "http2.broken"),
    ("one address of two breaks", [ex("ok", alpn="h2"), ex("silent", "198.18.50.11", alpn="h2")], "fail",
     "http2.broken"),
    ("TLS failed: left to tls.handshake", [ex("tls_failed", error="reset")], "skip", "run.upstream"),
    ("TLS failed on one, h2 on the other", [ex("tls_failed"), ex("ok", "198.18.50.11", alpn="h2")], "pass",
     "http2.ok"),
    ("no path", [], "skip", "run.upstream"),
]  # fmt: skip


@pytest.mark.parametrize(("label", "exchanges", "status", "code"), CASES, ids=[c[0] for c in CASES])
def test_verdict(label: str, exchanges: list[Http2Exchange], status: str, code: str) -> None:
    finding = judge(Http2Observed("t.msappproxy.net", 443, tuple(exchanges), "tls.handshake/t.msappproxy.net:443"))
    assert (finding.status.value, finding.code) == (status, code), finding.summary
    if code != "run.upstream":
        assert code in CODES
    else:
        assert finding.caused_by == "tls.handshake/t.msappproxy.net:443"


SETTINGS = bytes.fromhex("000000040000000000")
GOAWAY = bytes.fromhex("000008070000000000") + bytes.fromhex("000000000000000b")


@pytest.mark.parametrize(
    ("data", "outcome"),
    [
        (SETTINGS, None),
        (GOAWAY, "goaway"),
        (b"HTTP/1.1 400 Bad Request\r\n", "garbage"),
        (bytes.fromhex("000000040000000001"), "garbage"),  # SETTINGS on a stream: not a connection preface
        (bytes.fromhex("000004010400000001") + b"abcd", "garbage"),  # HEADERS first
    ],
)
def test_the_first_frame_a_server_sends_is_its_settings(data: bytes, outcome: str | None) -> None:
    problem = _first_frame_problem(data[:9], data)
    assert (problem[0] if problem else None) == outcome
    if outcome == "goaway":
        assert problem is not None and problem[1]["goaway_error"] == "ENHANCE_YOUR_CALM"


def test_the_tunnel_hosts_are_the_profiles_less_its_exclusions() -> None:
    """The embedded Private Access profile: *.msappproxy.net on both of its ports, never the bootstrap endpoint."""
    from checks.http2 import Http2Check
    from preflight import profile
    from preflight.engine import plan

    loaded = profile.load("entra-private-access")
    tenant = "00000000-0000-0000-0000-000000000001"
    built = plan.build(loaded, tenant_id=tenant, check_settings={"tls.http2": loaded.checks["tls.http2"]})
    keys = sorted(t.key for t in Http2Check().targets(built))
    assert keys == ["*.msappproxy.net:443", "*.msappproxy.net:8398"], keys
