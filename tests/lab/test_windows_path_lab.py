"""The paths the Windows connector really takes, in the namespace lab: a chain completed from its AIA URL (and
one that cannot be), an SNI filter on the router told from a dead port by a second handshake, and the Private
Access tunnel's HTTP/2, end to end and through an inspection box that downgrades it. The unmodified CLI, the
lab's default profile and one extra endpoint each."""

from __future__ import annotations

from typing import Any

import pytest
from lab.world import PROXY_URL, SERVICE, TENANT, ExtraService, LabSpec, SquidSpec, lab_world

pytestmark = pytest.mark.netns

BOOT = f"{TENANT}.bootstrap.msappproxy.net"
LEAF_ONLY, LEAF_ONLY_ADDR = "leafonly.servicebus.windows.net", "198.18.50.20"
AIA_URL = "http://cacerts.digicert.com/TestMicrosoftAzureRSATLSIssuingCA04.crt"
TUNNEL, TUNNEL_ADDR = "tunnel-lab.msappproxy.net", "198.18.50.22"


def status_code(run: Any, check: str, key: str) -> tuple[str, str]:
    result = run.result(check, key)
    return result["status"], result["code"]


def leaf_only_spec(**changes: Any) -> LabSpec:
    """A server that sends only its leaf, whose caIssuers URL names the lab's port-80 service."""
    return LabSpec(
        extra_services=[ExtraService(LEAF_ONLY_ADDR, [LEAF_ONLY], leaf_only=True, ca_issuers_url=AIA_URL)],
        dns_options=[f"--host-record={LEAF_ONLY},{LEAF_ONLY_ADDR}", f"--host-record=cacerts.digicert.com,{SERVICE}"],
        aia_certificate=True,
        **changes,
    )


def test_a_chain_sent_without_its_intermediate_is_completed_from_the_aia_url_as_windows_does() -> None:
    with lab_world(leaf_only_spec()) as lab:
        run = lab.preflight("--endpoint", f"{LEAF_ONLY}:443")
    result = run.result("tls.interception", f"{LEAF_ONLY}:443")
    assert (result["status"], result["code"]) == ("pass", "tls.chain_completed"), result["summary"]
    (fetch,) = result["evidence"]["addresses"][LEAF_ONLY_ADDR]["aia"]
    assert fetch["url"] == AIA_URL and fetch["outcome"] == "issuer", fetch
    assert status_code(run, "tls.interception", f"{BOOT}:443") == ("pass", "tls.clean")


def test_a_chain_whose_aia_host_is_blocked_fails_as_it_does_for_the_connector() -> None:
    spec = leaf_only_spec(router_rules=f"ip daddr {SERVICE} tcp dport 80 drop")
    with lab_world(spec) as lab:
        run = lab.preflight("--endpoint", f"{LEAF_ONLY}:443")
    result = run.result("tls.interception", f"{LEAF_ONLY}:443")
    assert (result["status"], result["code"]) == ("fail", "tls.incomplete_chain"), result["summary"]
    (fetch,) = result["evidence"]["addresses"][LEAF_ONLY_ADDR]["aia"]
    assert fetch["url"] == AIA_URL and fetch["outcome"] == "unreachable", fetch
    assert "Intermediate" in result["remediation"] and run.code == 1


def test_an_sni_filter_on_the_router_is_named_by_a_second_handshake() -> None:
    with lab_world(LabSpec(sni_blocked="login.microsoftonline.com")) as lab:
        run = lab.preflight()
    assert status_code(run, "tcp.connect", "login.microsoftonline.com:443") == ("pass", "tcp.open")
    result = run.result("tls.handshake", "login.microsoftonline.com:443")
    assert (result["status"], result["code"]) == ("fail", "tls.sni_filtered"), result["summary"]
    # every other name goes through the same filter untouched
    assert status_code(run, "tls.handshake", f"{BOOT}:443") == ("pass", "tls.ok")
    assert status_code(run, "tls.interception", f"{BOOT}:443") == ("pass", "tls.clean")
    assert run.code == 1


def test_a_proxy_that_filters_by_sni_is_named_by_a_second_handshake_through_a_new_tunnel() -> None:
    """squid peeks at each ClientHello inside its CONNECT tunnels and ends the tunnel for one name (ssl_bump
    terminate on ssl::server_name), splicing the rest: a real proxy's SNI filter."""
    with lab_world(LabSpec(squid=SquidSpec(terminate_sni=["login.microsoftonline.com"]))) as lab:
        run = lab.preflight("--proxy", PROXY_URL)
    result = run.result("tls.handshake", "login.microsoftonline.com:443")
    assert (result["status"], result["code"]) == ("fail", "tls.sni_filtered"), result["summary"]
    evidence = result["evidence"]["addresses"][f"via {PROXY_URL}"]
    assert evidence["second_sni"]["sni"] == "preflight-sni-check.invalid"
    assert "the same proxy path asked for" in result["summary"]
    assert status_code(run, "proxy.tunnel", "login.microsoftonline.com:443")[0] == "pass"  # CONNECT itself is fine
    assert status_code(run, "tls.handshake", f"{BOOT}:443") == ("pass", "tls.ok")


def tunnel_spec(**changes: Any) -> LabSpec:
    return LabSpec(
        extra_services=[ExtraService(TUNNEL_ADDR, [TUNNEL], h2=True)],
        dns_options=[f"--host-record={TUNNEL},{TUNNEL_ADDR}"],
        **changes,
    )


def test_the_tunnel_endpoint_speaks_http2_end_to_end() -> None:
    with lab_world(tunnel_spec()) as lab:
        run = lab.preflight("--endpoint", f"{TUNNEL}:443")
    result = run.result("tls.http2", f"{TUNNEL}:443")
    assert (result["status"], result["code"]) == ("pass", "http2.ok"), result["summary"]
    assert [p["path"] for p in result["evidence"]["paths"]] == [TUNNEL_ADDR]


def test_an_inspection_box_that_strips_http2_breaks_the_tunnel() -> None:
    """mitmproxy re-signs the tunnel endpoint with a CA the host trusts and offers only HTTP/1.1 (http2=false):
    TLS alone looks fine to the host, the gRPC tunnel cannot run."""
    spec = tunnel_spec(
        mitmproxy=True,
        mitmproxy_options=["--set", "http2=false"],
        host_trusts_mitmproxy=True,
        router_nat=f"ip daddr {TUNNEL_ADDR} tcp dport 443 redirect to :8080",
    )
    with lab_world(spec) as lab:
        run = lab.preflight("--endpoint", f"{TUNNEL}:443")
    assert status_code(run, "tls.handshake", f"{TUNNEL}:443") == ("pass", "tls.ok")
    result = run.result("tls.http2", f"{TUNNEL}:443")
    assert (result["status"], result["code"]) == ("fail", "http2.not_negotiated"), result["summary"]
    assert status_code(run, "tls.interception", f"{TUNNEL}:443")[1] == "tls.intercepted"
    assert status_code(run, "tls.http2", f"{TUNNEL}:443") == ("fail", "http2.not_negotiated")
