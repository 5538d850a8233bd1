"""Table-driven tests of the DNS verdict: observation in, status and code out."""

from __future__ import annotations

import pytest

from checks.dns import CODES, judge
from preflight.host import hostsfile
from preflight.model import Status
from preflight.probes.dns import Resolution, ServerAnswer, SystemLookup, classify_gai_error

S1, S2 = "127.0.0.1:5301", "127.0.0.1:5302"


def answer(server: str, qtype: str, outcome: str, *addresses: str) -> ServerAnswer:
    return ServerAnswer(server=server, qtype=qtype, outcome=outcome, addresses=tuple(addresses))


def via_servers(host: str, *answers: ServerAnswer) -> Resolution:
    addresses = tuple(dict.fromkeys(a for ans in answers for a in ans.addresses))
    return Resolution(host, "dns-server", addresses, None, answers, tuple(sorted({a.server for a in answers})))


def via_system(host: str, system: SystemLookup, *answers: ServerAnswer) -> Resolution:
    return Resolution(host, "system", system.addresses, system, answers, (S1,))


CASES = [
    ("ok", via_servers("a.test", answer(S1, "A", "answer", "198.18.0.1"), answer(S1, "AAAA", "nodata")), "dns.ok"),
    (
        "ok v6 only",
        via_servers("a.test", answer(S1, "A", "nodata"), answer(S1, "AAAA", "answer", "2001:db8::1")),
        "dns.ok",
    ),
    ("nxdomain", via_servers("a.test", answer(S1, "A", "nxdomain"), answer(S1, "AAAA", "nxdomain")), "dns.nxdomain"),
    ("nodata", via_servers("a.test", answer(S1, "A", "nodata"), answer(S1, "AAAA", "nodata")), "dns.nodata"),
    ("servfail", via_servers("a.test", answer(S1, "A", "servfail"), answer(S1, "AAAA", "servfail")), "dns.servfail"),
    ("refused", via_servers("a.test", answer(S1, "A", "refused"), answer(S1, "AAAA", "refused")), "dns.refused"),
    ("timeout", via_servers("a.test", answer(S1, "A", "timeout"), answer(S1, "AAAA", "timeout")), "dns.timeout"),
    (
        "nodata beats nothing, timeout beats nodata",
        via_servers("a.test", answer(S1, "A", "nodata"), answer(S1, "AAAA", "timeout")),
        "dns.timeout",
    ),
    (
        "nxdomain from one, timeout from other",
        via_servers("a.test", answer(S1, "A", "nxdomain"), answer(S2, "A", "timeout")),
        "dns.nxdomain",
    ),
    ("bad response", via_servers("a.test", answer(S1, "A", "bad_response")), "dns.bad_response"),
    (
        "unspecified answer, special-use name",
        via_servers("sink.test", answer(S1, "A", "answer", "0.0.0.0")),
        "dns.sinkhole",
    ),
    ("unspecified v6", via_servers("sink.test", answer(S1, "AAAA", "answer", "::")), "dns.sinkhole"),
    (
        "public name to RFC 1918",
        via_servers("login.microsoftonline.com", answer(S1, "A", "answer", "10.1.2.3")),
        "dns.sinkhole",
    ),
    (
        "public name to CGNAT",
        via_servers("login.microsoftonline.com", answer(S1, "A", "answer", "100.64.1.1")),
        "dns.sinkhole",
    ),
    (
        "public name to loopback",
        via_servers("login.microsoftonline.com", answer(S1, "A", "answer", "127.0.0.1")),
        "dns.sinkhole",
    ),
    (
        "public name to ULA",
        via_servers("login.microsoftonline.com", answer(S1, "AAAA", "answer", "fd00::1")),
        "dns.sinkhole",
    ),
    (
        "public name to benchmark range is fine (lab)",
        via_servers("login.microsoftonline.com", answer(S1, "A", "answer", "198.18.50.10")),
        "dns.ok",
    ),
    (
        "special-use name to loopback is fine (tests)",
        via_servers("a.test", answer(S1, "A", "answer", "127.0.0.1")),
        "dns.ok",
    ),
    (
        "A answered, AAAA dropped by the same server's path",
        via_servers("a.test", answer(S1, "A", "answer", "198.18.0.1"), answer(S1, "AAAA", "timeout")),
        "dns.partial",
    ),
    (
        "getaddrinfo gave up on the dropped AAAA; the A answer stands",
        Resolution(
            "a.test",
            "system",
            ("198.18.0.1",),
            SystemLookup(error="timeout", error_text="no answer"),
            (answer(S1, "A", "answer", "198.18.0.1"), answer(S1, "AAAA", "timeout")),
            (S1,),
            from_answers=True,
        ),
        "dns.partial",
    ),
    (
        "one server fails, other answers",
        via_servers("a.test", answer(S1, "A", "answer", "198.18.0.1"), answer(S2, "A", "timeout")),
        "dns.inconsistent",
    ),
    (
        "sinkhole outranks inconsistency",
        via_servers("a.test", answer(S1, "A", "answer", "0.0.0.0"), answer(S2, "A", "servfail")),
        "dns.sinkhole",
    ),
    (
        "system ok",
        via_system("a.test", SystemLookup(("198.18.0.1",)), answer(S1, "A", "answer", "198.18.0.1")),
        "dns.ok",
    ),
    (
        "hosts file pin, DNS says NXDOMAIN",
        via_system(
            "a.test", SystemLookup(("198.18.0.9",)), answer(S1, "A", "nxdomain"), answer(S1, "AAAA", "nxdomain")
        ),
        "dns.local_override",
    ),
    (
        "hosts file pin, DNS has no records",
        via_system("a.test", SystemLookup(("198.18.0.9",)), answer(S1, "A", "nodata")),
        "dns.local_override",
    ),
    (
        "round-robin: system and DNS saw different addresses",
        via_system("a.test", SystemLookup(("198.18.0.9",)), answer(S1, "A", "answer", "198.18.0.10")),
        "dns.ok",
    ),
    ("system noname, no detail", via_system("a.test", SystemLookup(error="noname")), "dns.nxdomain"),
    ("system again, no detail", via_system("a.test", SystemLookup(error="again")), "dns.servfail"),
    ("system timeout, no detail", via_system("a.test", SystemLookup(error="timeout")), "dns.timeout"),
    ("system other error", via_system("a.test", SystemLookup(error="error")), "dns.error"),
    (
        "system fails, detail explains",
        via_system("a.test", SystemLookup(error="again"), answer(S1, "A", "refused")),
        "dns.refused",
    ),
    ("no servers and no system", Resolution("a.test", "dns-server", (), None, (), ()), "dns.error"),
]


@pytest.mark.parametrize(("label", "resolution", "code"), CASES, ids=[c[0] for c in CASES])
def test_judge(label: str, resolution: Resolution, code: str) -> None:
    finding = judge(resolution)
    assert finding.code == code
    assert finding.status == CODES[code].status
    assert finding.summary and "\n" not in finding.summary
    assert bool(finding.remediation) == (finding.status != "pass")  # a pass has nothing to fix
    assert finding.evidence["host"] == resolution.host


def test_failures_are_never_pass() -> None:
    for _label, resolution, _code in CASES:
        if not resolution.addresses:
            assert judge(resolution).status == Status.FAIL


@pytest.mark.parametrize(
    ("number", "meaning"),
    [(-2, "noname"), (-3, "again"), (-4, "fail"), (-5, "nodata"), (11001, "noname"), (11002, "again"),
     (11004, "nodata"), (None, "error"), (12345, "error")],
)  # fmt: skip
def test_getaddrinfo_errors_on_linux_and_windows(number: int | None, meaning: str) -> None:
    assert classify_gai_error(number) == meaning


HOSTS_TEXT = """127.0.0.1 localhost
# pinned during the 2024 migration
203.0.113.7   login.microsoftonline.com  login   # old front door
198.18.0.1    b.test
"""
HOSTS = hostsfile.parse(HOSTS_TEXT)


def pinned(host: str) -> tuple[str, list[hostsfile.HostsEntry]]:
    return "/etc/hosts", hostsfile.entries_for(HOSTS, host)


@pytest.mark.parametrize(
    ("resolution", "hosts", "code"),
    [
        # the hosts file says one thing, DNS another: the connector uses the hosts file's stale address
        (via_system("login.microsoftonline.com", SystemLookup(("203.0.113.7",)),
                    answer(S1, "A", "answer", "198.18.0.1", "198.18.0.2")), pinned("login.microsoftonline.com"),
         "dns.hosts_override"),
        # the same with --dns-server (the connector would still read the hosts file)
        (via_servers("login.microsoftonline.com", answer(S1, "A", "answer", "198.18.0.1")),
         pinned("login.microsoftonline.com"), "dns.hosts_override"),
        # a hosts entry DNS agrees with is not an override
        (via_system("b.test", SystemLookup(("198.18.0.1",)), answer(S1, "A", "answer", "198.18.0.1")),
         pinned("b.test"), "dns.ok"),
        # DNS has no answer at all: the older local_override, now naming the hosts-file line
        (via_system("login.microsoftonline.com", SystemLookup(("203.0.113.7",)), answer(S1, "A", "nxdomain")),
         pinned("login.microsoftonline.com"), "dns.local_override"),
        # no hosts entry for the name
        (via_system("c.test", SystemLookup(("198.18.0.9",)), answer(S1, "A", "answer", "198.18.0.9")),
         pinned("c.test"), "dns.ok"),
    ],
)  # fmt: skip
def test_hosts_file_overrides(resolution: Resolution, hosts: tuple[str, list[hostsfile.HostsEntry]],
                              code: str) -> None:  # fmt: skip
    finding = judge(resolution, hosts)
    assert finding.code == code, finding.summary
    if code == "dns.hosts_override":
        assert finding.status == Status.WARN
        assert "/etc/hosts:3" in finding.summary and "203.0.113.7" in finding.summary
        assert finding.evidence["hosts_file"]["entries"][0]["text"] == (
            "203.0.113.7   login.microsoftonline.com  login")  # fmt: skip
        assert finding.evidence["hosts_override"]["dns"] == sorted(
            a for ans in resolution.servers for a in ans.addresses)  # fmt: skip
    if code == "dns.local_override":
        assert "/etc/hosts:3" in finding.summary


def test_hosts_file_parsing() -> None:
    assert [(e.line, e.address, e.names) for e in HOSTS] == [
        (1, "127.0.0.1", ("localhost",)), (3, "203.0.113.7", ("login.microsoftonline.com", "login")),
        (4, "198.18.0.1", ("b.test",))]  # fmt: skip
    assert hostsfile.entries_for(HOSTS, "LOGIN.microsoftonline.com.")[0].line == 3


@pytest.mark.parametrize(("label", "resolution", "code"), CASES, ids=[c[0] for c in CASES])
def test_a_host_behind_the_proxy_only_warns(label: str, resolution: Resolution, code: str) -> None:
    """Every port of the host goes through the proxy, which resolves the name itself: a local failure is a
    warning, anything else is unchanged."""
    direct, proxied = judge(resolution), judge(resolution, proxied=True)
    assert proxied.code == direct.code
    if direct.status == "fail":
        assert proxied.status == "warn" and proxied.summary.endswith("every port of this host goes through the proxy)")
    else:
        assert (proxied.status, proxied.summary) == (direct.status, direct.summary)
