"""What this Windows host's SCHANNEL would refuse of what the tool's own (OpenSSL) handshake negotiated.

The tool's TLS probe is OpenSSL; the connector's is SCHANNEL. When the registry switches a protocol off, restricts
the cipher suite list (Group Policy's "SSL Cipher Suite Order", or the local list), or disables ECDH key exchange
or an AES key size, a handshake that passed here can fail for the connector. Reading is one function over a
HostReader; deciding is pure and tested on Windows-shaped readings.

Sources (Microsoft Learn): "Transport Layer Security (TLS) registry settings" (Protocols\\<version>\\Client
Enabled / DisabledByDefault, KeyExchangeAlgorithms\\ECDH, Ciphers\\AES 128/128 and AES 256/256 Enabled) and
"Manage Transport Layer Security (TLS)" / "Prioritizing Schannel Cipher Suites" (the Group Policy value
SOFTWARE\\Policies\\Microsoft\\Cryptography\\Configuration\\SSL\\00010002 Functions, a comma-separated REG_SZ,
which overrides the local REG_MULTI_SZ list under SYSTEM\\CurrentControlSet\\Control\\Cryptography\\Configuration\\
Local\\SSL\\00010002); "TLS 1.3 support" (SCHANNEL speaks TLS 1.3 from Windows Server 2022, build 20348).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from preflight.host.winhost import HostReader, Reading, read_dword, read_multi_string, read_string

PROTOCOLS = "SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\"
ECDH_KEY = "SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\KeyExchangeAlgorithms\\ECDH"
AES_KEYS = {
    bits: f"SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Ciphers\\AES {bits}/{bits}"
    for bits in ("128", "256")
}
POLICY_SUITES = "SOFTWARE\\Policies\\Microsoft\\Cryptography\\Configuration\\SSL\\00010002"
LOCAL_SUITES = "SYSTEM\\CurrentControlSet\\Control\\Cryptography\\Configuration\\Local\\SSL\\00010002"
WINDOWS_KEY = "SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion"
TLS13_FIRST_BUILD = 20348  # Windows Server 2022
REGISTRY_NAMES = {"TLSv1.2": "TLS 1.2", "TLSv1.3": "TLS 1.3"}

# OpenSSL's names for the TLS 1.2 certificate-authenticated suites, by their IANA names (which SCHANNEL's lists
# use): those of Python's own default list and of OpenSSL's (which Debian's Python takes). TLS 1.3 suite names are
# the IANA names in both. A suite missing here only skips the comparison with SCHANNEL's list.
IANA_NAMES = {
    "ECDHE-ECDSA-AES256-GCM-SHA384": "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384": "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "ECDHE-ECDSA-AES128-GCM-SHA256": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "ECDHE-ECDSA-CHACHA20-POLY1305": "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "ECDHE-RSA-CHACHA20-POLY1305": "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "ECDHE-ECDSA-AES256-SHA384": "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
    "ECDHE-RSA-AES256-SHA384": "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    "ECDHE-ECDSA-AES128-SHA256": "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "ECDHE-RSA-AES128-SHA256": "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "ECDHE-ECDSA-AES256-SHA": "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "ECDHE-RSA-AES256-SHA": "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "ECDHE-ECDSA-AES128-SHA": "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "ECDHE-RSA-AES128-SHA": "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "DHE-RSA-AES256-GCM-SHA384": "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    "DHE-RSA-AES128-GCM-SHA256": "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    "DHE-RSA-AES256-SHA256": "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
    "DHE-RSA-AES128-SHA256": "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
    "DHE-RSA-CHACHA20-POLY1305": "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "DHE-RSA-AES256-SHA": "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
    "DHE-RSA-AES128-SHA": "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
    "AES256-GCM-SHA384": "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "AES128-GCM-SHA256": "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "AES256-SHA256": "TLS_RSA_WITH_AES_256_CBC_SHA256",
    "AES128-SHA256": "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "AES256-SHA": "TLS_RSA_WITH_AES_256_CBC_SHA",
    "AES128-SHA": "TLS_RSA_WITH_AES_128_CBC_SHA",
}


@dataclasses.dataclass(frozen=True)
class SchannelPolicy:
    """The SCHANNEL settings that decide what the connector's handshakes may negotiate, as read."""

    protocols: dict[str, tuple[Reading, Reading]]  # "TLSv1.2" → (Client Enabled, Client DisabledByDefault)
    suites: tuple[str, ...] | None  # None: Windows' default list
    suites_source: str | None
    ecdh: Reading
    aes: dict[str, Reading]  # "128"/"256" → Ciphers\\AES n/n Enabled
    build: Reading

    def to_json(self) -> dict[str, Any]:
        return {
            "protocols": {v: [r.to_json() for r in pair] for v, pair in self.protocols.items()},
            "cipher_suites": list(self.suites) if self.suites is not None else None,
            "cipher_suites_source": self.suites_source,
            "ecdh": self.ecdh.to_json(),
            "aes": {bits: r.to_json() for bits, r in self.aes.items()},
            "build": self.build.to_json(),
        }


def read_policy(reader: HostReader) -> SchannelPolicy:
    protocols = {
        version: (
            read_dword(reader, f"{PROTOCOLS}{name}\\Client", "Enabled"),
            read_dword(reader, f"{PROTOCOLS}{name}\\Client", "DisabledByDefault"),
        )
        for version, name in REGISTRY_NAMES.items()
    }
    suites: tuple[str, ...] | None = None
    source = None
    policy = read_string(reader, POLICY_SUITES, "Functions")
    if isinstance(policy.value, str) and policy.value.strip():
        suites, source = tuple(s.strip() for s in policy.value.split(",") if s.strip()), policy.where
    else:
        local = read_multi_string(reader, LOCAL_SUITES, "Functions")
        if isinstance(local.value, str) and local.value.strip():
            suites, source = tuple(s.strip() for s in local.value.split("\n") if s.strip()), local.where
    return SchannelPolicy(
        protocols=protocols,
        suites=suites,
        suites_source=source,
        ecdh=read_dword(reader, ECDH_KEY, "Enabled"),
        aes={bits: read_dword(reader, key, "Enabled") for bits, key in AES_KEYS.items()},
        build=read_string(reader, WINDOWS_KEY, "CurrentBuildNumber"),
    )


def refusals(version: str | None, cipher: str | None, policy: SchannelPolicy) -> list[str]:
    """Why this host's SCHANNEL would not negotiate `version` with `cipher` (OpenSSL's names), [] if nothing
    in the registry says so. Pure."""
    reasons: list[str] = []
    if version in policy.protocols:
        enabled, disabled_by_default = policy.protocols[version]
        if enabled.value == 0:
            reasons.append(f"{version} is disabled for clients ({enabled.where}=0)")
        elif disabled_by_default.value == 1:
            reasons.append(f"{version} is not used by default for clients ({disabled_by_default.where}=1)")
    build = int(str(policy.build.value)) if str(policy.build.value or "").isdigit() else None
    if version == "TLSv1.3" and build is not None and build < TLS13_FIRST_BUILD:
        reasons.append(
            f"this Windows (build {build}) has no TLS 1.3; SCHANNEL would offer TLS 1.2, whose suites "
            "this probe did not negotiate"
        )
    if not cipher:
        return reasons
    iana = cipher if cipher.startswith("TLS_") else IANA_NAMES.get(cipher)
    if policy.suites is not None and iana is not None and iana not in policy.suites:
        reasons.append(f"the cipher suite {iana} is not in the list at {policy.suites_source}")
    if policy.ecdh.value == 0 and ("ECDHE" in cipher or version == "TLSv1.3"):
        reasons.append(f"ECDH key exchange is disabled ({policy.ecdh.where}=0)")
    for bits, reading in policy.aes.items():
        if reading.value == 0 and f"AES_{bits}_" in (iana or ""):
            reasons.append(f"the cipher AES {bits}-bit is disabled ({reading.where}=0)")
    return reasons
