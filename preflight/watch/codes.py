"""The reason codes of a watch's own findings (watch.stability: the rounds judged together; watch.idle: the
idle-timeout probe), importable without the network libraries (`preflight explain` and `checks` list them)."""

from __future__ import annotations

from preflight.model import CodeDoc, Codes, Status

STABILITY_CHECK = "watch.stability"
IDLE_CHECK = "watch.idle"

WATCH_CODES = Codes(
    {
        "watch.steady": CodeDoc(
            Status.PASS,
            "Every result of the watch came out the same in every round: nothing intermittent was seen.",
            "At least two rounds finished, and no result changed status between them.",
            "",
        ),
        "watch.too_few_rounds": CodeDoc(
            Status.SKIP,
            "Fewer than two rounds finished, so nothing can be said about how the results change over time.",
            "The watch was ended (Ctrl-C, SIGTERM) or its rounds outran --for before a second round finished.",
            "Watch for longer (--for) or with a shorter --every.",
        ),
        "watch.intermittent": CodeDoc(
            Status.FAIL,
            "A result failed in some rounds and passed in others: the path works some of the time, as a connector "
            "that shows Active and then drops does.",
            "Over the watch's rounds the same check on the same target was fail or error at least once and pass or "
            "warn at least once; the rounds and codes are in the evidence.",
            "Look at the failing rounds' evidence (kept in full for the first and latest failure): a load-balanced "
            "firewall or proxy member, a flapping route, or a resolver that sometimes fails.",
        ),
        "watch.unsteady": CodeDoc(
            Status.WARN,
            "A result changed between pass and warn over the watch (it never failed).",
            "Over the watch's rounds the same check on the same target was warn at least once and pass at least once.",
            "Read the warning's rounds in the evidence; it comes and goes, so one run may not show it.",
        ),
        "watch.address_intermittent": CodeDoc(
            Status.FAIL,
            "Some addresses of a name fail some of the time while the others work: connections that land on them "
            "fail (a black-holed member of a pool, one path of an ECMP route).",
            "tcp.connect's per-address attempts over the rounds: an address that opened in some rounds and not in "
            "others, or never while the name's other addresses opened.",
            "Give the firewall team the addresses listed in the evidence with their failure rates; allow the FQDN "
            "(not a list of addresses, which changes) on every path.",
        ),
        "watch.intercepted_sometimes": CodeDoc(
            Status.FAIL,
            "TLS on one path (an address, or a proxy) was re-signed by an inspection device in some rounds and not "
            "in others: one member of a proxy or firewall pool inspects TLS, and the connector fails whenever its "
            "connection lands there.",
            "tls.interception's per-path verdicts over the rounds: tls.intercepted(_untrusted) in some rounds, a "
            "clean chain in others, on the same path.",
            "Ask the proxy/firewall team to exempt the connector's endpoints from TLS inspection on every member of "
            "the pool (the issuer that re-signed is in the evidence).",
        ),
    }
)

IDLE_CODES = Codes(
    {
        "idle.ok": CodeDoc(
            Status.PASS,
            "Connections to the service held idle for at least as long as the connector needs still carried data.",
            "The probe's longest successful hold (a TLS connection left idle, then one HTTP request answered) was at "
            "least --idle-needed.",
            "",
        ),
        "idle.dropped": CodeDoc(
            Status.FAIL,
            "A connection held idle shorter than the connector needs was silently dropped: its next request got no "
            "answer at all. A NAT or stateful firewall forgot the idle flow; the connector's long-lived connection "
            "would hang until its own timeout, then reconnect (the connector shows Active, then drops).",
            "After the hold, the request on the held connection got no byte back within --timeout, while a shorter "
            "hold on the same path was answered.",
            "Raise the TCP idle timeout of the firewall/NAT on this path above the value needed (Azure Firewall: "
            "'long running sessions'; a NAT gateway: its idle timeout), or exempt the connector's endpoints.",
        ),
        "idle.reset": CodeDoc(
            Status.FAIL,
            "A connection held idle shorter than the connector needs was reset when it was used again: a firewall "
            "or NAT ended the idle flow and answered the next packet with a TCP reset.",
            "After the hold, writing or reading on the held connection failed with a connection reset.",
            "Raise the TCP idle timeout of the firewall/NAT on this path above the value needed, or exempt the "
            "connector's endpoints.",
        ),
        "idle.closed": CodeDoc(
            Status.WARN,
            "A connection was closed by the other end (a proxy, a middlebox, or the service itself) while it "
            "idled, before the connector's need: the connector reconnects, but its long-lived connections churn.",
            "The held connection received a close (FIN or TLS close_notify) during its hold.",
            "If a proxy closes it, raise its tunnel idle timeout (squid: read_timeout/client_idle_pconn_timeout); "
            "a close by the service itself is normal for idle HTTP connections.",
        ),
        "idle.inconclusive": CodeDoc(
            Status.SKIP,
            "Every hold that finished survived, but none lasted as long as the connector needs: the watch was too "
            "short to say.",
            "The longest finished hold is shorter than --idle-needed.",
            "Watch for longer than --idle-needed (the longest hold is --for minus a little).",
        ),
        "idle.unreachable": CodeDoc(
            Status.SKIP,
            "No connection for the idle probe could be opened (or kept: the server ended every session with a TLS "
            "alert, as one that requires a client certificate does) on this path, so idle timeouts were not "
            "measured.",
            "Every TCP connect, CONNECT or TLS handshake of the probe failed, or every session ended with a TLS "
            "alert from the server; the round checks and the holds' details say why.",
            "Fix the path first (the watch's rounds name the failure); for a server that requires mutual TLS, hold "
            "another endpoint on the same path with --idle-target.",
        ),
        "idle.untested": CodeDoc(
            Status.SKIP,
            "The idle probe had nothing to hold: no concrete service endpoint (the tunnel names come from the "
            "service at run time) and no --idle-target.",
            "The profile's service rows are wildcards or need a tenant, and no --idle-target was given.",
            "Give --tenant-id, or --idle-target HOST:PORT for an endpoint on the same path.",
        ),
    }
)
