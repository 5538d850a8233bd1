"""Hostile peers: every case is a real server on loopback that misbehaves in one way, and each asserts the verdict
(never `pass` for something not verified) and a bound on wall time. Reads are bounded too: the limits are in the
docs/limits.md."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from dnsserver import Behaviour, DnsServer
from helpers import cli_env, run_cli
from hostile import FullBacklog, HostileServer
from pki import DAY, NOW, FakePki, Issued, ca, leaf, write_bundle
from tlsserver import TlsServer

from preflight.probes import http

TIMEOUT = 1.0
START_UP = 1.5  # interpreter start, imports and report writing in the CLI subprocess


@pytest.fixture(scope="module")
def pki() -> FakePki:
    return FakePki.build()


def run_profile(tmp: Path, rows: dict[str, int], zone: dict[str, Behaviour], *extra: str,
                roots: Path | None = None) -> tuple[Any, float]:  # fmt: skip
    text = 'name = "hostile"\n[clock]\nntp_servers = []\n'
    if roots is not None:
        text += f'[tls]\nexpected_roots = "{roots}"\n'
    for host, port in rows.items():
        text += f'[[endpoint]]\nhost = "{host}"\nports = [{port}]\npurpose = "t"\nsource = "t"\ntls = true\n'
    (tmp / "p.toml").write_text(text)
    with DnsServer(zone) as dns:
        start = time.monotonic()
        run = run_cli("run", "--profile", str(tmp / "p.toml"), "--dns-server", dns.address, "--timeout",
                      str(TIMEOUT), "--format", "json", *extra, env=cli_env())  # fmt: skip
        return run, time.monotonic() - start


def verdict(run: Any, check: str, key: str) -> tuple[str, str]:
    result = run.result(check, key)
    return result["status"], result["code"]


# --- DNS ---------------------------------------------------------------------------------------------------

DNS_CASES = [
    # name, behaviour(s), expected dns.resolve (status, code)
    ("truncated.test", {"truncated.test": Behaviour(a=("127.0.0.1",), truncate=True, tcp_silent=True)},
     ("fail", "dns.timeout")),
    ("wrongid.test", {"wrongid.test": Behaviour(a=("127.0.0.1",), hostile="wrong_id")},
     ("fail", "dns.bad_response")),
    ("wrongq.test", {"wrongq.test": Behaviour(a=("127.0.0.1",), hostile="wrong_question")},
     ("fail", "dns.bad_response")),
    ("wrongport.test", {"wrongport.test": Behaviour(a=("127.0.0.1",), hostile="wrong_port")},
     ("fail", "dns.bad_response")),
    ("flood.test", {"flood.test": Behaviour(a=("127.0.0.1",), hostile="flood")}, ("pass", "dns.ok")),
    ("loop-a.test", {"loop-a.test": Behaviour(cname="loop-b.test"), "loop-b.test": Behaviour(cname="loop-a.test")},
     ("fail", "dns.bad_response")),
    ("hop0.test", {f"hop{i}.test": Behaviour(cname=f"hop{i + 1}.test") for i in range(100)}
     | {"hop100.test": Behaviour(a=("127.0.0.1",))}, ("fail", "dns.bad_response")),
]  # fmt: skip


@pytest.mark.parametrize(("name", "zone", "expected"), DNS_CASES, ids=[c[0] for c in DNS_CASES])
def test_hostile_dns(tmp_path: Path, name: str, zone: dict[str, Behaviour], expected: tuple[str, str]) -> None:
    run, elapsed = run_profile(tmp_path, {name: 443}, zone, "--only", "dns.resolve")
    assert verdict(run, "dns.resolve", name) == expected, run.result("dns.resolve", name)
    assert elapsed < 3 * TIMEOUT + START_UP, elapsed


# --- TCP and TLS -------------------------------------------------------------------------------------------


def cert_files(folder: Path, chain: list[Issued], key_of: Issued) -> tuple[Path, Path]:
    folder.mkdir(exist_ok=True)
    pem = folder / "chain.pem"
    pem.write_bytes(b"".join(c.pem for c in chain))
    key = folder / "key.pem"
    key.write_bytes(key_of.key_pem)
    return pem, key


def custom_leaf(issuer: Issued, subject: x509.Name, extensions: list[x509.ExtensionType], names: list[str],
                critical: list[x509.ExtensionType] | None = None) -> Issued:  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer.cert.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(NOW - DAY).not_valid_after(NOW + 90 * DAY))  # fmt: skip
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
    builder = (builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
               .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]), False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), False)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False))  # fmt: skip
    for extension in extensions:
        builder = builder.add_extension(extension, False)
    for extension in critical or []:
        builder = builder.add_extension(extension, True)
    return Issued(builder.sign(issuer.key, hashes.SHA256()), key)


def patched_date(issued: Issued) -> Issued:
    """The leaf with its notAfter bytes turned into a month that does not exist (the signature breaks too)."""
    der = bytearray(issued.der)
    stamp = issued.cert.not_valid_after_utc.strftime("%y%m%d%H%M%SZ").encode()
    at = der.find(stamp)
    der[at + 2 : at + 4] = b"13"
    return _RawIssued(bytes(der), issued.key)


class _RawIssued(Issued):
    def __init__(self, der: bytes, key: ec.EllipticCurvePrivateKey) -> None:
        self._der, self.key = der, key

    @property
    def der(self) -> bytes:
        return self._der

    @property
    def pem(self) -> bytes:
        import base64
        import textwrap

        body = "\n".join(textwrap.wrap(base64.b64encode(self._der).decode(), 64))
        return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n".encode()


TlsFactory = Callable[[FakePki, Path], Any]


def served(chain_of: Callable[[FakePki], tuple[list[Issued], Issued]]) -> TlsFactory:
    def make(pki: FakePki, folder: Path) -> Any:
        chain, key_of = chain_of(pki)
        return TlsServer("ok", *cert_files(folder, chain, key_of))

    return make


def huge_san(pki: FakePki) -> tuple[list[Issued], Issued]:
    names = ["huge-san.test"] + [f"n{i}.{'x' * 20}.test" for i in range(40000)]  # about 1.2 MB of names
    issued = leaf(names, pki.issuing)
    return [issued, pki.issuing], issued


def deep_chain(pki: FakePki) -> tuple[list[Issued], Issued]:
    parent = pki.issuing
    chain = []
    for depth in range(49):
        parent = ca(f"Test Deep CA {depth}", parent=parent, org="Deep")
        chain.append(parent)
    issued = leaf(["deep.test"], parent)
    return [issued, *reversed(chain)], issued


def unicode_names(pki: FakePki) -> tuple[list[Issued], Issued]:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Ünïcødé 证书 🙂"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Société Générale d'Essai")])  # fmt: skip
    issued = custom_leaf(pki.issuing, subject, [], ["unicode.test"])
    return [issued, pki.issuing], issued


def critical_unknown_extension(pki: FakePki) -> tuple[list[Issued], Issued]:
    """A critical extension no client understands: RFC 5280 says such a certificate must be rejected. (A
    malformed SAN cannot be tested live: OpenSSL refuses to serve it.)"""
    strange = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x04\x03abc")
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "critext.test")])
    issued = custom_leaf(pki.issuing, subject, [], ["critext.test"], critical=[strange])
    return [issued, pki.issuing], issued


def bad_date(pki: FakePki) -> tuple[list[Issued], Issued]:
    issued = patched_date(leaf(["baddate.test"], pki.issuing))
    return [issued, pki.issuing], issued


TLS_CASES: list[tuple[str, Any, tuple[str, str], tuple[str, str] | None]] = [
    # name, server factory, tls.handshake (status, code), tls.interception (status, code) or None
    ("silent.test", lambda _p, _f: HostileServer("silent"), ("fail", "tls.timeout"), None),
    ("drip.test", lambda _p, _f: HostileServer("drip_tls"), ("fail", "tls.timeout"), None),
    ("garbage.test", lambda _p, _f: HostileServer("garbage"), ("fail", "tls.not_tls"), None),
    ("huge-san.test", served(huge_san), ("fail", "tls.error"), None),
    ("deep.test", served(deep_chain), ("pass", "tls.ok"), ("fail", "tls.chain_too_long")),
    ("unicode.test", served(unicode_names), ("pass", "tls.ok"), ("pass", "tls.clean")),
    ("critext.test", served(critical_unknown_extension), ("pass", "tls.ok"), ("fail", "tls.bad_extension")),
    ("baddate.test", served(bad_date), ("fail", "tls.no_certificate"), None),
]


@pytest.mark.parametrize(("name", "factory", "handshake", "interception"), TLS_CASES,
                         ids=[c[0] for c in TLS_CASES])  # fmt: skip
def test_hostile_tls(pki: FakePki, tmp_path: Path, name: str, factory: TlsFactory, handshake: tuple[str, str],
                     interception: tuple[str, str] | None) -> None:  # fmt: skip
    roots = write_bundle(tmp_path / "roots.pem", pki.root, pki.ms_root)
    with factory(pki, tmp_path / "certs") as server:
        run, elapsed = run_profile(tmp_path, {name: server.port}, {name: Behaviour(a=("127.0.0.1",))},
                                   "--only", "dns.*", "--only", "tcp.*", "--only", "tls.*", roots=roots)  # fmt: skip
    key = f"{name}:{server.port}"
    assert verdict(run, "tcp.connect", key) == ("pass", "tcp.open")
    assert verdict(run, "tls.handshake", key) == handshake, run.result("tls.handshake", key)
    if interception is not None:
        assert verdict(run, "tls.interception", key) == interception, run.result("tls.interception", key)
    else:
        assert run.result("tls.interception", key)["status"] == "skip"
    assert elapsed < 4 * TIMEOUT + START_UP, elapsed
    for fmt in ("table", "html", "markdown", "junit"):  # whatever the peer sent, every format renders it
        saved = tmp_path / "r.json"
        saved.write_text(run.stdout)
        shown = run_cli("show", str(saved), "--format", fmt)
        assert shown.code == 0, shown.stderr


def test_full_backlog_is_filtered_within_the_timeout(tmp_path: Path) -> None:
    with FullBacklog() as backlog:
        zone = {"backlog.test": Behaviour(a=("127.0.0.1",))}
        run, elapsed = run_profile(tmp_path, {"backlog.test": backlog.port}, zone, "--only", "dns.*", "--only", "tcp.*")
    assert verdict(run, "tcp.connect", f"backlog.test:{backlog.port}") == ("fail", "tcp.filtered")
    assert elapsed < 2 * TIMEOUT + START_UP, elapsed


# --- HTTP: CRL bodies, headers, proxies --------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "outcome"), [("endless_headers", "timeout"), ("endless_body", "timeout"),
                                               ("huge_body", "response"), ("silent", "timeout")])  # fmt: skip
def test_hostile_http_peers_are_bounded_in_time_and_bytes(mode: str, outcome: str) -> None:
    # 64 MiB: loopback's socket buffers alone can hold 10 MiB (seen once in CI: all of it "sent" before the client
    # had read its limit), so only a body far larger than they are shows that the client stopped reading
    huge = 64 * 1024 * 1024
    with HostileServer(mode, body_bytes=huge) as server:
        start = time.monotonic()
        fetched = asyncio.run(http.fetch(f"http://crl.test:{server.port}/x.crl", "127.0.0.1", TIMEOUT))
        elapsed = time.monotonic() - start
    assert fetched.outcome == outcome, fetched
    assert len(fetched.body) <= http.MAX_BODY
    if mode == "huge_body":
        assert fetched.truncated and server.sent < huge  # it stopped reading, it did not drain the body
    assert elapsed < http.EXCHANGE_TIMEOUTS * TIMEOUT + 0.5, elapsed


def test_huge_crl_is_judged_not_passed(tmp_path: Path) -> None:
    from checks.crl import judge_fetch  # the verdict for one fetched revocation URL

    with HostileServer("huge_body") as server:
        fetched = asyncio.run(http.fetch(f"http://crl.test:{server.port}/x.crl", "127.0.0.1", TIMEOUT))
    code = judge_fetch(fetched, "crl")
    assert code != "crl.ok" and code.startswith("crl."), code


@pytest.mark.parametrize(("mode", "tunnel", "handshake"), [
    ("connect_then_http", ("pass", "proxy.ok"), ("fail", "tls.block_page")),
    ("connect_then_drip", ("pass", "proxy.ok"), ("fail", "tls.timeout")),
])  # fmt: skip
def test_proxy_that_says_yes_then_misbehaves(tmp_path: Path, mode: str, tunnel: tuple[str, str],
                                             handshake: tuple[str, str]) -> None:  # fmt: skip
    with HostileServer(mode) as proxy:
        run, elapsed = run_profile(tmp_path, {"behind.test": 443}, {"behind.test": Behaviour(a=("127.0.0.1",))},
                                   "--proxy", f"http://127.0.0.1:{proxy.port}")  # fmt: skip
    assert verdict(run, "proxy.tunnel", "behind.test:443") == tunnel, run.result("proxy.tunnel", "behind.test:443")
    assert verdict(run, "tls.handshake", "behind.test:443") == handshake, run.result("tls.handshake", "behind.test:443")
    assert elapsed < 6 * TIMEOUT + START_UP, elapsed
