"""A ready lab: topology + dnsmasq as the host's resolver + the fake service on the internet side.

Every concrete name of the default profile (with TENANT filled in) resolves through dnsmasq to one service
address pair, listening on 443, 8398 and 80 over IPv4 and IPv6. A scenario changes one thing (a dnsmasq
option, an nftables rule) and runs the unmodified CLI in the host namespace.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from helpers import ROOT, CliRun, cli_env, run_cli
from pki import FakePki, crl, ocsp_good, write_bundle

from lab.topology import HOST_ADDR, HOST_ADDR6, LAB_NETWORKS, ROUTER_HOST_SIDE, Topology, clean_leftovers
from preflight.profile import DEFAULT_PROFILE, embedded_text

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
TENANT_DOMAIN = "contoso.onmicrosoft.com"
GOV_TENANT = "0d3f0a52-6f4c-4b8e-9d7f-2a5a8c3e9b11"
# What the lab's sign-in service knows: domain or GUID → the tenant's discovery facts.
LAB_TENANTS: dict[str, dict[str, str]] = {
    TENANT_DOMAIN: {"guid": TENANT, "region": "NA"},
    TENANT: {"guid": TENANT, "region": "NA"},
    "contoso-gov.onmicrosoft.us": {
        "guid": GOV_TENANT,
        "region": "USGov",
        "cloud": "microsoftonline.us",
        "issuer_host": "login.microsoftonline.us",
    },
}
SERVICE, SERVICE6 = "198.18.50.10", "2001:db8:50::10"
BLACKHOLE_RESOLVER = "198.18.100.53"  # the router drops everything to 198.18.100.0/24
SERVICE_PORTS = (443, 8398, 80)
TLS_PORTS = (443, 8398)
MITM_PORT = 8080
CRL_URL = "http://crl3.digicert.com/TestMicrosoftAzureRSATLSIssuingCA04.crl"
OCSP_URL = "http://ocsp.digicert.com/"
BLOCK_PORT = 8081
PROXY_PORT = 3128
MITM_EXPLICIT_PORT = 8082
SNI_FILTER_PORT = 8443
PROXY_URL = f"http://{ROUTER_HOST_SIDE}:{PROXY_PORT}"
MITM_PROXY_URL = f"http://{ROUTER_HOST_SIDE}:{MITM_EXPLICIT_PORT}"
PROXY_USER, PROXY_PASSWORD = "labuser", "Lab-Proxy-Secret-42"
LAB_DNS_SUFFIX = "corp.contoso.test"  # the host's domain; wpad.<it> names the router when a scenario serves WPAD
NTP_SERVICE = "198.18.53.10"  # time.windows.com in the lab: chrony, under faketime when the lab's time is off
SERVERS = ROOT / "tests" / "support" / "lab" / "servers.py"


@functools.cache
def lab_pki() -> tuple[FakePki, Path]:
    """One fake PKI per test session, its files in a private folder: the service chain and the lab profile."""
    pki = FakePki.build()
    folder = Path(tempfile.mkdtemp(prefix="preflight-lab-pki-"))
    names = default_profile_names()
    chain, key = pki.server_files(folder, names, crl_url=CRL_URL, ocsp_url=OCSP_URL)
    (folder / "issuing.crl").write_bytes(crl(pki.issuing))
    (folder / "issuing.der").write_bytes(pki.issuing.cert.public_bytes(serialization.Encoding.DER))
    served_leaf = x509.load_pem_x509_certificate(chain.read_bytes())  # the first certificate of the chain
    (folder / "ocsp-good.der").write_bytes(ocsp_good(served_leaf, pki.issuing))
    (folder / "service-chain.pem").write_bytes(chain.read_bytes())
    (folder / "service-key.pem").write_bytes(key.read_bytes())
    write_bundle(folder / "expected-roots.pem", pki.root, pki.ms_root)
    # The fake PKI stands for Microsoft's anchors; the real cross-certificate stays offered (it chains to none of
    # them, so it changes no verdict here, and the lab loads the profile as shipped).
    shipped = Path(str(resources.files("preflight") / "profiles" / "microsoft-intermediates.pem"))
    profile_text = (
        embedded_text(DEFAULT_PROFILE)
        .replace('expected_roots = "microsoft-roots.pem"', f'expected_roots = "{folder / "expected-roots.pem"}"')
        .replace('known_intermediates = "microsoft-intermediates.pem"', f'known_intermediates = "{shipped}"')
    )
    (folder / "lab-profile.toml").write_text(profile_text)
    return pki, folder


@functools.cache
def mitmproxy_confdir() -> Path:
    """mitmproxy's configuration folder with its CA, made once per session so every scenario shares one CA."""
    folder = Path(tempfile.mkdtemp(prefix="preflight-lab-mitm-"))
    # mitmdump writes its CA when it starts: start it briefly on loopback.
    command = [mitmdump(), "--listen-host", "127.0.0.1", "--listen-port", "0", "--set", f"confdir={folder}", "-q"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not (folder / "mitmproxy-ca-cert.pem").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(10)
    if not (folder / "mitmproxy-ca-cert.pem").exists():
        raise RuntimeError("mitmproxy did not create its CA")
    return folder


def default_profile_names() -> list[str]:
    from preflight import profile
    from preflight.engine import plan

    built = plan.build(profile.load(profile.DEFAULT_PROFILE), tenant_id=TENANT)
    return [t.host for t in built.host_targets() if not t.wildcard]


@dataclasses.dataclass
class ExtraService:
    """Another TLS endpoint on the internet side, e.g. a captive portal or an outdated server."""

    address: str
    names: Sequence[str]  # what its certificate says
    legacy: bool = False  # TLS 1.0/1.1 only
    ports: Sequence[int] = (443,)
    h2: bool = False  # ALPN h2 and an HTTP/2 SETTINGS answer (the Private Access tunnel's front end)
    leaf_only: bool = False  # serve the leaf without its intermediate
    ca_issuers_url: str | None = None  # the leaf's AIA caIssuers URL


@dataclasses.dataclass
class SquidSpec:
    """squid-openssl as the corporate proxy on the router."""

    connect_ports: Sequence[int] = (443, 8398, 80)  # CONNECT allowed to these ports only
    require_auth: bool = False  # 407 unless the client sends the lab user's credentials
    ssl_bump: bool = False  # re-sign TLS with the lab's bump CA
    direct_blocked: bool = True  # the router drops this host's direct traffic: the proxy is mandatory
    terminate_sni: Sequence[str] = ()  # peek at each ClientHello and end the tunnel when its SNI is one of these


def mitmdump() -> str:
    """The distribution's mitmdump (Debian 12), or the one tests/prepare.py put in .venv/mitmproxy (Debian 13 has
    no package)."""
    found = shutil.which("mitmdump")
    return found or str(Path(__file__).resolve().parents[3] / ".venv" / "mitmproxy" / "bin" / "mitmdump")


@dataclasses.dataclass
class LabSpec:
    """What a scenario changes from the all-clear lab."""

    dns_options: Sequence[str] = ()  # extra dnsmasq options
    unrecorded: Sequence[str] = ()  # names that get no host-record (so other options decide them)
    router_rules: str = ""  # nftables rules for the router's forward chain
    host_rules: str = ""  # nftables rules for the host's own output chain
    # nftables rules for the host's input chain: a drop there is silent to the sender (one in output makes the
    # sending socket fail with EPERM), so loopback traffic to the host's resolver can be lost as on a network
    host_input_rules: str = ""
    service_ports: Sequence[int] = SERVICE_PORTS
    extra_services: Sequence[ExtraService] = ()
    router_nat: str = ""  # nftables rules for the router's nat prerouting chain (e.g. redirect to mitmproxy)
    mitmproxy: bool = False  # a transparent mitmproxy on the router, port MITM_PORT
    host_trusts_mitmproxy: bool = False  # its CA in the host's OS trust store
    host_trusts_bump_ca: bool = False  # squid's ssl-bump CA in the host's OS trust store
    mitmproxy_explicit: bool = False  # mitmproxy as an explicit proxy on the router at MITM_PROXY_URL
    block_page: bool = False  # a web filter on the router answering every port-80 request with an HTML page
    portal: str | None = None  # with block_page: redirect every request to this URL instead (a captive portal)
    ocsp_unauthorized: bool = False  # the service's OCSP responder answers 'unauthorized' instead of 'good'
    clock_offset_s: float = 0.0  # how far real time (the lab's NTP and HTTPS Date) is ahead of this host's clock
    squid: SquidSpec | None = None  # an explicit proxy on the router at PROXY_URL
    hosts_lines: Sequence[str] = ()  # lines for the host's hosts file (after 127.0.0.1 localhost)
    resolver: str = "127.0.0.1"  # the host's resolv.conf nameserver (BLACKHOLE_RESOLVER: no DNS at all)
    resolv_options: str = "timeout:1 attempts:1"  # the host's resolv.conf options (glibc's per-query wait)
    host_trusts_lab_root: bool = False  # the fake public root in the host's OS store (as the real one is on Windows)
    proxy_dns_options: Sequence[str] = ()  # extra options for the router's own dnsmasq (what the proxy resolves)
    wpad_script: str | None = None  # served as http://wpad.LAB_DNS_SUFFIX/wpad.dat from the router (the LAN side)
    dns_search: Sequence[str] = ()  # the host's resolv.conf search list (where WPAD discovery looks)
    mitmproxy_options: Sequence[str] = ()  # extra mitmdump options for the transparent mitmproxy
    aia_certificate: bool = False  # the service's port 80 answers any *.crt path with the issuing CA (DER)
    sni_blocked: str | None = None  # a transparent SNI filter on the router resets ClientHellos naming this


class LabWorld:
    def __init__(self, topo: Topology) -> None:
        self.topo = topo

    def run(self, *args: str, timeout: float = 60, env: dict[str, str] | None = None) -> CliRun:
        full = cli_env(PREFLIGHT_GUARD_ALLOW=LAB_NETWORKS, PREFLIGHT_GUARD_ALLOW_NAMES="1", **(env or {}))
        return run_cli(*args, env=full, prefix=self.topo.prefix(self.topo.host), timeout=timeout)

    def preflight(self, *extra: str, env: dict[str, str] | None = None) -> CliRun:
        """The README's main job on the default profile's endpoints, with the lab's anchors (the fake PKI's
        roots stand in for Microsoft's), the tenant, and a lab-sized timeout."""
        profile = lab_pki()[1] / "lab-profile.toml"
        return self.run("run", "--profile", str(profile), "--tenant-id", TENANT, "--format", "json",
                        "--timeout", "1.5", *extra, env=env)  # fmt: skip


@contextmanager
def lab_world(spec: LabSpec | None = None, *, clean: bool = True) -> Iterator[LabWorld]:
    """One lab. `clean=False` keeps other labs alive (several at once, e.g. a fleet of candidate hosts)."""
    spec = spec or LabSpec()
    if clean:
        clean_leftovers()
    with Topology() as topo:
        topo.add_service_address(SERVICE)
        topo.add_service_address(SERVICE6)
        topo.router_route("blackhole", "198.18.100.0/24")
        router_nat = spec.router_nat
        if spec.sni_blocked is not None:
            router_nat += f"\nip saddr {HOST_ADDR} tcp dport 443 redirect to :{SNI_FILTER_PORT}"
            router_nat += f"\nip6 saddr {HOST_ADDR6} tcp dport 443 redirect to :{SNI_FILTER_PORT}"
            topo.start(topo.router, ["python3", str(SERVERS), "sni-filter", str(SNI_FILTER_PORT), spec.sni_blocked],
                       ready_line="READY")  # fmt: skip
        if router_nat.strip():
            body = "\n".join(f"    {line.strip()}" for line in router_nat.strip().splitlines())
            topo.firewall(topo.router, "table inet labnat {\n  chain prerouting {\n"
                          f"    type nat hook prerouting priority -100;\n{body}\n  }}\n}}\n")  # fmt: skip
        if spec.mitmproxy:
            topo.start(topo.router, [mitmdump(), "--mode", "transparent", "--listen-port", str(MITM_PORT), "--set",
                                     f"confdir={mitmproxy_confdir()}", "--ssl-insecure", "-q",
                                     *spec.mitmproxy_options])  # fmt: skip
            topo.wait_tcp(topo.router, "127.0.0.1", MITM_PORT)
        if spec.block_page:
            portal = [f"--portal={spec.portal}"] if spec.portal else []
            topo.start(topo.router, ["python3", str(SERVERS), "http", "--block-page", *portal, "-",
                                     f"0.0.0.0:{BLOCK_PORT}", f"[::]:{BLOCK_PORT}"], ready_line="READY")  # fmt: skip
        if spec.mitmproxy_explicit:
            topo.start(topo.router, [mitmdump(), "--listen-host", ROUTER_HOST_SIDE, "--listen-port",
                                     str(MITM_EXPLICIT_PORT), "--set", f"confdir={mitmproxy_confdir()}",
                                     "--ssl-insecure", "-q"])  # fmt: skip
            topo.wait_tcp(topo.router, ROUTER_HOST_SIDE, MITM_EXPLICIT_PORT)
        if spec.host_trusts_bump_ca:
            topo.host_trust_store(bump_ca()[1])
        if spec.host_trusts_mitmproxy:
            topo.host_trust_store((mitmproxy_confdir() / "mitmproxy-ca-cert.pem").read_bytes())
        if spec.host_trusts_lab_root:
            topo.host_trust_store(lab_pki()[0].root.pem)
        router_rules = spec.router_rules
        if spec.squid is not None and spec.squid.direct_blocked:
            router_rules += f"\nip saddr {HOST_ADDR} tcp dport {{ 80, 443, 8398 }} drop"
            router_rules += "\nmeta nfproto ipv6 tcp dport { 80, 443, 8398 } drop"
        if router_rules.strip():
            topo.firewall(topo.router, _table("inet", "lab", "forward", router_rules))
        if spec.host_rules:
            topo.firewall(topo.host, _table("inet", "lab", "output", spec.host_rules))
        if spec.host_input_rules:
            topo.firewall(topo.host, _table("inet", "labin", "input", spec.host_input_rules))
        hosts = "127.0.0.1 localhost\n" + "".join(f"{line}\n" for line in spec.hosts_lines)
        search = f"search {' '.join(spec.dns_search)}\n" if spec.dns_search else ""
        resolv_conf = f"nameserver {spec.resolver}\n{search}options {spec.resolv_options}\n"
        topo.host_etc(resolv_conf=resolv_conf, hosts=hosts)
        if spec.wpad_script is not None:
            script = write_text(Path(tempfile.mkdtemp(prefix="preflight-lab-wpad-")) / "wpad.dat", spec.wpad_script)
            topo.start(topo.router, ["python3", str(SERVERS), "http", f"--wpad={script}", "-",
                                     f"{ROUTER_HOST_SIDE}:80"], ready_line="READY")  # fmt: skip
        _start_dnsmasq(topo, spec)
        _start_chrony(topo, spec.clock_offset_s)
        if spec.squid is not None or spec.mitmproxy_explicit:
            _start_dnsmasq(topo, spec, namespace=topo.router)  # what an explicit proxy resolves names with
        if spec.squid is not None:
            _start_squid(topo, spec)
        addresses = (SERVICE, f"[{SERVICE6}]")
        plain = [f"{a}:{p}" for a in addresses for p in spec.service_ports if p not in TLS_PORTS]
        tls = [f"{a}:{p}" for a in addresses for p in spec.service_ports if p in TLS_PORTS]
        folder = lab_pki()[1]
        if plain:
            ocsp = [] if spec.ocsp_unauthorized else [f"--ocsp={folder / 'ocsp-good.der'}"]
            if spec.aia_certificate:
                ocsp.append(f"--aia={folder / 'issuing.der'}")
            topo.start(topo.internet, ["python3", str(SERVERS), "http", *ocsp, str(folder / "issuing.crl"), *plain],
                       ready_line="READY")  # fmt: skip
        if tls:
            tenants = write_text(folder / "tenants.json", json.dumps(LAB_TENANTS))
            topo.start(topo.internet, ["python3", str(SERVERS), "tls", f"--date-offset={spec.clock_offset_s}",
                                       f"--tenants={tenants}", str(folder / "service-chain.pem"),
                                       str(folder / "service-key.pem"), *tls], ready_line="READY")  # fmt: skip
        for extra in spec.extra_services:
            _start_extra_service(topo, extra)
        yield LabWorld(topo)


def _start_chrony(topo: Topology, offset_s: float) -> None:
    """An NTP server for the lab, `offset_s` ahead of this host's clock (chronyd -x never touches the clock)."""
    topo.add_service_address(NTP_SERVICE)
    folder = Path(tempfile.mkdtemp(prefix="preflight-lab-chrony-"))
    conf = folder / "chrony.conf"
    conf.write_text(f"local stratum 1\nallow all\nport 123\ncmdport 0\nbindaddress {NTP_SERVICE}\n"
                    f"pidfile {folder}/chronyd.pid\ndriftfile {folder}/drift\n")  # fmt: skip
    command = ["chronyd", "-x", "-d", "-f", str(conf)]
    if offset_s:
        command = ["faketime", "-f", f"{offset_s:+.0f}s", *command]
    topo.start(topo.internet, command)
    probe = (
        "import asyncio, sys; sys.path.insert(0, sys.argv[1]); from preflight.probes.ntp import query; "
        f"r = asyncio.run(query('lab', '{NTP_SERVICE}', 123, 0.3, samples=1)); sys.exit(r.outcome != 'ok')"
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        # asked from its own namespace: a scenario's router rules may block NTP on purpose
        if topo.ns_exec(topo.internet, sys.executable, "-c", probe, str(ROOT), check=False).returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError("the lab's chrony did not answer SNTP")


def _start_extra_service(topo: Topology, extra: ExtraService) -> None:
    pki, folder = lab_pki()
    topo.add_service_address(extra.address)
    options: dict[str, Any] = {"ca_issuers_url": extra.ca_issuers_url} if extra.ca_issuers_url else {}
    chain, key = pki.server_files(folder, list(extra.names), served=[] if extra.leaf_only else None, **options)
    listen = [f"{extra.address}:{port}" for port in extra.ports]
    mode = (["--legacy"] if extra.legacy else []) + (["--h2"] if extra.h2 else [])
    topo.start(topo.internet, ["python3", str(SERVERS), "tls", *mode, str(chain), str(key), *listen],
               ready_line="READY")  # fmt: skip


def _table(family: str, name: str, hook: str, rules: str) -> str:
    body = "\n".join(f"    {line.strip()}" for line in rules.strip().splitlines())
    return f"table {family} {name} {{\n  chain {hook} {{\n    type filter hook {hook} priority 0;\n{body}\n  }}\n}}\n"


@functools.cache
def bump_ca() -> tuple[Path, bytes]:
    """The squid ssl-bump CA (certificate + key in one PEM, as squid wants it), once per session."""
    from pki import ca

    issued = ca("Squid Lab Bump CA", org="Lab Squid ssl-bump")
    folder = Path(tempfile.mkdtemp(prefix="preflight-lab-bump-"))
    path = folder / "bump.pem"
    path.write_bytes(issued.pem + issued.key_pem)
    return path, issued.pem


def _start_squid(topo: Topology, spec: LabSpec) -> None:
    assert spec.squid is not None
    squid = spec.squid
    folder = Path(tempfile.mkdtemp(prefix="preflight-lab-squid-"))
    folder.chmod(0o777)
    ports = " ".join(str(p) for p in squid.connect_ports)
    lines = [
        f"pid_filename {folder}/squid.pid", f"cache_log {folder}/cache.log", "access_log none", "cache deny all",
        f"coredump_dir {folder}", "shutdown_lifetime 0 seconds", "pinger_enable off", "dns_nameservers 127.0.0.1",
        "visible_hostname lab-proxy",
        "dns_v4_first on", f"acl connect_ports port {ports}", "acl CONNECT method CONNECT",
        "http_access deny CONNECT !connect_ports",
    ]  # fmt: skip
    if squid.require_auth:
        crypted = subprocess.run(["openssl", "passwd", "-apr1", PROXY_PASSWORD], capture_output=True, text=True,
                                 check=True).stdout.strip()  # fmt: skip
        (folder / "passwd").write_text(f"{PROXY_USER}:{crypted}\n")
        lines += [
            f"auth_param basic program /usr/lib/squid/basic_ncsa_auth {folder}/passwd",
            "auth_param basic realm lab-proxy",
            "acl authed proxy_auth REQUIRED",
            "http_access deny !authed",
        ]
    lines.append("http_access allow all")
    if squid.ssl_bump or squid.terminate_sni:
        cert, _pem = bump_ca()
        subprocess.run(["/usr/lib/squid/security_file_certgen", "-c", "-s", f"{folder}/ssl_db", "-M", "4MB"],
                       check=True, capture_output=True)  # fmt: skip
        subprocess.run(["chown", "-R", "proxy", str(folder)], check=True)
        lines += [f"http_port {ROUTER_HOST_SIDE}:{PROXY_PORT} ssl-bump cert={cert} generate-host-certificates=on "
                  "dynamic_cert_mem_cache_size=4MB",
                  f"sslcrtd_program /usr/lib/squid/security_file_certgen -s {folder}/ssl_db -M 4MB",
                  "acl step1 at_step SslBump1", "ssl_bump peek step1"]  # fmt: skip
        if squid.terminate_sni:  # an SNI filter: the ClientHello is peeked at, a listed name ends the tunnel
            lines += [f"acl blocked_sni ssl::server_name {' '.join(squid.terminate_sni)}",
                      "ssl_bump terminate blocked_sni", "ssl_bump splice all"]  # fmt: skip
        else:
            lines += ["ssl_bump bump all", "tls_outgoing_options flags=DONT_VERIFY_PEER"]
        Path(cert).parent.chmod(0o755)
        Path(cert).chmod(0o644)
    else:
        lines.append(f"http_port {ROUTER_HOST_SIDE}:{PROXY_PORT}")
    (folder / "squid.conf").write_text("\n".join(lines) + "\n")
    topo.start(topo.router, ["squid", "-N", "-f", str(folder / "squid.conf")])
    try:
        topo.wait_tcp(topo.router, ROUTER_HOST_SIDE, PROXY_PORT, timeout=20)
    except RuntimeError:
        log = (folder / "cache.log").read_text() if (folder / "cache.log").exists() else ""
        raise RuntimeError(f"squid did not start: {log[-1500:]}") from None


def _start_dnsmasq(topo: Topology, spec: LabSpec, namespace: str | None = None) -> None:
    records = [
        f"--host-record={name},{SERVICE},{SERVICE6}" for name in default_profile_names() if name not in spec.unrecorded
    ]
    records.append(f"--host-record=time.windows.com,{NTP_SERVICE}")
    if spec.wpad_script is not None:
        records.append(f"--host-record=wpad.{LAB_DNS_SUFFIX},{ROUTER_HOST_SIDE}")
    options = spec.dns_options if namespace is None else spec.proxy_dns_options
    if namespace is not None:  # the proxy's resolver knows every name, whatever the host's does
        records = [f"--host-record={name},{SERVICE},{SERVICE6}" for name in default_profile_names()]
        records.append(f"--host-record=time.windows.com,{NTP_SERVICE}")
    args = [
        "dnsmasq", "-k", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--no-poll",
        "--listen-address=127.0.0.1", "--bind-interfaces", "--port=53", "--pid-file=", "--user=root",
        "--log-facility=-", "--cache-size=0", *records, *options,
    ]  # fmt: skip
    topo.start(namespace or topo.host, args, ready_line="started, version", ready_on_stderr=True)
    time.sleep(0.05)


def result_map(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in report["results"]}


def write_text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
