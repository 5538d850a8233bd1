"""What this host's SCHANNEL would refuse of an OpenSSL handshake: registry readings shaped as Windows keeps them
(REG_SZ policy list, REG_MULTI_SZ local list, DWORDs), judged by the pure `refusals` and shown by tls.handshake."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pki import FakePki, leaf

from checks.tls import TlsHandshakeCheck
from checks.tls import judge as judge_handshake
from preflight import Status
from preflight.host.schannel import (
    AES_KEYS,
    ECDH_KEY,
    IANA_NAMES,
    LOCAL_SUITES,
    POLICY_SUITES,
    PROTOCOLS,
    WINDOWS_KEY,
    read_policy,
    refusals,
)
from preflight.host.winhost import RegistryTypeError
from preflight.probes.tls import Handshake

HOST = "login.microsoftonline.com"
TLS12 = PROTOCOLS + "TLS 1.2\\Client"
TLS13 = PROTOCOLS + "TLS 1.3\\Client"
GCM = "ECDHE-RSA-AES256-GCM-SHA384"


class FakeRegistry:
    """HKLM values by (key, name), typed as winreg returns them; an exception is raised as winreg would."""

    def __init__(self, values: dict[tuple[str, str], Any]) -> None:
        self.values = {(WINDOWS_KEY, "CurrentBuildNumber"): "20348", **values}

    def _get(self, key: str, name: str, kind: type) -> Any:
        value = self.values.get((key, name))
        if isinstance(value, BaseException):
            raise value
        if value is not None and not isinstance(value, kind):
            raise RegistryTypeError(f"HKLM\\{key}\\{name} has registry type 1, not 7")
        return value

    def dword(self, path: str, name: str) -> int | None:
        return self._get(path, name, int)  # type: ignore[no-any-return]

    def string(self, path: str, name: str) -> str | None:
        return self._get(path, name, str)  # type: ignore[no-any-return]

    def multi_string(self, path: str, name: str) -> list[str] | None:
        return self._get(path, name, list)  # type: ignore[no-any-return]


REFUSAL_CASES = [
    ("nothing configured", {}, "TLSv1.2", GCM, []),
    ("TLS 1.2 client disabled", {(TLS12, "Enabled"): 0}, "TLSv1.2", GCM, ["TLSv1.2 is disabled for clients"]),
    ("TLS 1.2 not by default", {(TLS12, "DisabledByDefault"): 1}, "TLSv1.2", GCM, ["not used by default"]),
    ("TLS 1.2 enabled explicitly", {(TLS12, "Enabled"): 1, (TLS12, "DisabledByDefault"): 0}, "TLSv1.2", GCM, []),
    ("TLS 1.3 disabled", {(TLS13, "Enabled"): 0}, "TLSv1.3", "TLS_AES_256_GCM_SHA384", ["TLSv1.3 is disabled"]),
    ("TLS 1.3 on Server 2019", {(WINDOWS_KEY, "CurrentBuildNumber"): "17763"}, "TLSv1.3", "TLS_AES_256_GCM_SHA384",
     ["build 17763) has no TLS 1.3"]),
    ("policy list without the suite", {(POLICY_SUITES, "Functions"): "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,"
                                       "TLS_RSA_WITH_AES_256_GCM_SHA384"}, "TLSv1.2", GCM,
     ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 is not in the list at HKLM\\SOFTWARE\\Policies"]),
    ("policy list with the suite", {(POLICY_SUITES, "Functions"): "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"}, "TLSv1.2",
     GCM, []),
    ("local list without the suite", {(LOCAL_SUITES, "Functions"): ["TLS_RSA_WITH_AES_128_CBC_SHA"]}, "TLSv1.2", GCM,
     ["not in the list at HKLM\\SYSTEM\\CurrentControlSet\\Control\\Cryptography"]),
    ("the policy wins over the local list", {(POLICY_SUITES, "Functions"): "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                                             (LOCAL_SUITES, "Functions"): ["TLS_RSA_WITH_AES_128_CBC_SHA"]},
     "TLSv1.2", GCM, []),
    ("TLS 1.3 suite checked against the list", {(POLICY_SUITES, "Functions"): "TLS_AES_128_GCM_SHA256"}, "TLSv1.3",
     "TLS_AES_256_GCM_SHA384", ["TLS_AES_256_GCM_SHA384 is not in the list"]),
    ("ECDH disabled", {(ECDH_KEY, "Enabled"): 0}, "TLSv1.2", GCM, ["ECDH key exchange is disabled"]),
    ("ECDH disabled, RSA key exchange", {(ECDH_KEY, "Enabled"): 0}, "TLSv1.2", "AES256-GCM-SHA384", []),
    ("AES 256 disabled", {(AES_KEYS["256"], "Enabled"): 0}, "TLSv1.2", GCM, ["AES 256-bit is disabled"]),
    ("AES 128 disabled, 256 negotiated", {(AES_KEYS["128"], "Enabled"): 0}, "TLSv1.2", GCM, []),
    ("unknown cipher name is not judged against the list",
     {(POLICY_SUITES, "Functions"): "TLS_RSA_WITH_AES_128_CBC_SHA"}, "TLSv1.2", "SOMETHING-NEW", []),
    ("two reasons", {(TLS12, "Enabled"): 0, (ECDH_KEY, "Enabled"): 0}, "TLSv1.2", GCM,
     ["TLSv1.2 is disabled", "ECDH key exchange is disabled"]),
]  # fmt: skip


@pytest.mark.parametrize(("values", "version", "cipher", "expected"), [c[1:] for c in REFUSAL_CASES],
                         ids=[c[0] for c in REFUSAL_CASES])  # fmt: skip
def test_refusals(values: dict[tuple[str, str], Any], version: str, cipher: str, expected: list[str]) -> None:
    reasons = refusals(version, cipher, read_policy(FakeRegistry(values)))
    assert len(reasons) == len(expected), reasons
    for reason, words in zip(reasons, expected, strict=True):
        assert words in reason


def test_unreadable_values_refuse_nothing_and_are_kept_as_evidence() -> None:
    policy = read_policy(FakeRegistry({(TLS12, "Enabled"): PermissionError(13, "Access is denied"),
                                       (LOCAL_SUITES, "Functions"): "a REG_SZ, not a REG_MULTI_SZ"}))  # fmt: skip
    assert refusals("TLSv1.2", GCM, policy) == []
    shown = policy.to_json()
    assert "access denied" in shown["protocols"]["TLSv1.2"][0]["problem"]
    assert shown["cipher_suites"] is None


def test_every_openssl_suite_this_python_offers_has_its_iana_name() -> None:
    import ssl

    offered = [c["name"] for c in ssl.create_default_context().get_ciphers() if c["protocol"] == "TLSv1.2"]
    assert offered
    # PSK and SRP suites authenticate with a pre-shared secret, not a certificate: no server of the connector's
    # offers them, SCHANNEL's lists do not name them, and only some OpenSSL builds' defaults (Debian's) include them.
    certificate_suites = [name for name in offered if "PSK" not in name and "SRP" not in name]
    assert [name for name in certificate_suites if name not in IANA_NAMES] == []


@pytest.fixture(scope="module")
def pki() -> FakePki:
    return FakePki.build()


def handshake(p: FakePki, address: str, cipher: str = GCM) -> Handshake:
    served = leaf([HOST], p.issuing)
    return Handshake(address, 443, HOST, "ok", version="TLSv1.2", cipher=cipher, chain=(served.der, p.issuing.der))


def test_handshake_summary_and_evidence_name_the_refusal(pki: FakePki) -> None:
    import datetime as dt

    policy = read_policy(FakeRegistry({(POLICY_SUITES, "Functions"): "TLS_RSA_WITH_AES_128_GCM_SHA256"}))
    found = judge_handshake(HOST, 443, [handshake(pki, "192.0.2.1")], dt.datetime.now(dt.UTC), policy)
    assert found.status == Status.PASS  # the endpoint is fine; host.tls judges the host
    refusal = "this host's SCHANNEL would refuse it: the cipher suite TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
    assert refusal in found.summary
    assert found.evidence["addresses"]["192.0.2.1"]["schannel_would_refuse"]
    assert found.evidence["schannel"]["cipher_suites"] == ["TLS_RSA_WITH_AES_128_GCM_SHA256"]

    allowed = read_policy(FakeRegistry({}))
    quiet = judge_handshake(HOST, 443, [handshake(pki, "192.0.2.1")], dt.datetime.now(dt.UTC), allowed)
    assert "SCHANNEL" not in quiet.summary
    assert "schannel_would_refuse" not in quiet.evidence["addresses"]["192.0.2.1"]

    off_windows = judge_handshake(HOST, 443, [handshake(pki, "192.0.2.1")], dt.datetime.now(dt.UTC))
    assert "schannel" not in off_windows.evidence


def test_check_reads_the_policy_once_per_run_and_not_off_windows() -> None:
    class Counting(FakeRegistry):
        reads = 0

        def dword(self, path: str, name: str) -> int | None:
            Counting.reads += 1
            return super().dword(path, name)

    class Ctx:
        def __init__(self) -> None:
            self.memos: dict[Any, Any] = {}

        async def memo(self, key: Any, factory: Any) -> Any:
            if key not in self.memos:
                self.memos[key] = await factory()
            return self.memos[key]

    check = TlsHandshakeCheck()
    check.reader = Counting({})
    ctx: Any = Ctx()

    async def twice() -> None:
        first = await check.schannel(ctx)
        second = await check.schannel(ctx)
        assert first is second and first is not None

    asyncio.run(twice())
    assert Counting.reads == 7  # TLS 1.2 and 1.3 (two values each), ECDH, two AES keys: read once
    assert asyncio.run(TlsHandshakeCheck().schannel(Ctx())) is None  # type: ignore[arg-type]  # Linux: no registry
