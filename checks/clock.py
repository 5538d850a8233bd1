"""`clock.skew`: is this host's clock close enough to real time for tokens, Kerberos and certificates?

Primary source: SNTP against the profile's ntp_servers or --ntp-server. Fallback and cross-check: the Date
header of a profile endpoint over HTTPS, trusted only when that endpoint's chain is judged clean (an intercepting
proxy may rewrite Date). The measurement is checks/clocksource.py's, made once per run and shared: the TLS
checks judge validity at the time it corrects to.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from checks.clocksource import CLOCK_TARGET, ClockObserved, measured_offset, observe
from preflight import CodeDoc, Codes, Finding, ObservingCheck, Status, Target

if TYPE_CHECKING:
    from preflight import Plan
    from preflight.context import Context
    from preflight.probes.ntp import DateReading, NtpReading

CODES = Codes(
    {
        "clock.ok": CodeDoc(
            Status.PASS,
            "This host's clock is within the warning threshold of real time.",
            "An SNTP server (or a trusted HTTPS Date) gave an offset whose size, less its uncertainty, is below "
            "warn_s.",
            "Nothing to do.",
        ),
        "clock.skew_warn": CodeDoc(
            Status.WARN,
            "This host's clock is off by more than the warning threshold (default 60 s), still under the failure "
            "threshold.",
            "|offset| − uncertainty exceeds warn_s but not fail_s.",
            "Synchronise the clock (w32tm /resync, or point the host at your domain controller / NTP) before it "
            "drifts past the token and Kerberos limit.",
        ),
        "clock.skew_fail": CodeDoc(
            Status.FAIL,
            "This host's clock is off by more than the failure threshold (default 300 s, the token and Kerberos "
            "limit): sign-in tokens, Kerberos (KCD) and certificate checks will fail.",
            "|offset| − uncertainty exceeds fail_s.",
            "Fix time synchronisation (w32tm /config /syncfromflags:domhier /update, then w32tm /resync; or a "
            "reachable NTP server), then run again.",
        ),
        "clock.ntp_blocked": CodeDoc(
            Status.WARN,
            "No NTP server answered (UDP 123 blocked or the servers are down), but an HTTPS Date check worked: the "
            "clock is fine now, but this host may not be able to keep it synchronised.",
            "Every SNTP query timed out or was rejected; a trusted HTTPS Date gave an offset within limits.",
            "Allow UDP 123 to your time source (or sync from a domain controller) so the clock does not drift.",
        ),
        "clock.ntp_unresolved": CodeDoc(
            Status.WARN,
            "The NTP servers' names do not resolve, so this host cannot keep its clock synchronised; an HTTPS Date "
            "check shows the clock is fine now.",
            "Every configured NTP server name failed to resolve (no query was sent); a trusted HTTPS Date gave an "
            "offset within limits.",
            "Fix name resolution for the NTP server (see its DNS outcome in the evidence), or point the host at a "
            "time source it can resolve (a domain controller, or --ntp-server IP for this check).",
        ),
        "clock.unavailable": CodeDoc(
            Status.SKIP,
            "The clock could not be checked: no NTP server answered and no trusted HTTPS Date was available.",
            "Every SNTP query failed, and the HTTPS Date was missing or came over a path that is not clean.",
            "Allow UDP 123 to an NTP server, or name one with --ntp-server; fix the TLS findings so Date can be used.",
        ),
    }
)


_UNRESOLVED_FIX = (
    "Fix name resolution first (the dns.resolve findings; the NTP server's DNS outcome is in the "
    "evidence): the clock is checked once names resolve."
)


def judge(
    readings: Sequence[NtpReading],
    date: DateReading | None,
    date_trusted: bool,
    warn_s: float,
    fail_s: float,
    dns_root: str | None = None,
) -> tuple[Finding, float | None]:
    """(verdict, offset to apply to the run's clock or None). `dns_root`: the failed dns.resolve result that kept
    every HTTPS Date candidate from opening, if that is why there is no Date. Pure."""
    evidence: dict[str, Any] = {
        "ntp": [r.to_json() for r in readings],
        "https_date": date.to_json() if date else None,
        "https_date_trusted": date_trusted,
        "thresholds_s": {"warn": warn_s, "fail": fail_s},
    }
    good = [r for r in readings if r.outcome == "ok" and r.sample is not None]
    measured = measured_offset(readings, date, date_trusted)
    if measured is not None:
        offset, uncertainty, source = measured.seconds, measured.uncertainty_s, measured.source
        if good and date and date.outcome == "ok" and date_trusted and date.offset_s is not None:
            evidence["cross_check_difference_s"] = round(date.offset_s - offset, 3)
    else:
        unresolved = bool(readings) and all(r.outcome == "unresolved" for r in readings)
        why = "no NTP server answered" if readings else "no NTP server configured"
        if unresolved:
            why = "the NTP server name " + ", ".join(r.reason or r.server for r in readings)
        if date is not None and date.outcome == "ok" and not date_trusted:
            why += f", and the HTTPS Date of {date.host} came over a path that is not clean"
        elif date is not None:
            why += f", and the HTTPS Date of {date.host} was unusable ({date.error})"
        elif dns_root is not None:
            why += ", and no HTTPS Date: no endpoint's name resolved"
        finding = CODES.finding("clock.unavailable", f"clock not checked: {why}", evidence)
        if unresolved:  # the clock is not what is broken: name resolution is, and that is where to fold it
            finding = dataclasses.replace(finding, remediation=_UNRESOLVED_FIX, caused_by=dns_root)
        return finding, None
    evidence.update(offset_s=round(offset, 3), uncertainty_s=round(uncertainty, 3), source=source)
    beyond = abs(offset) - uncertainty
    direction = "ahead" if offset < 0 else "behind"  # a positive offset: real time is later than this clock
    amount = f"{abs(offset):.1f} s {direction} (±{uncertainty:.2f} s, {source})"
    if beyond > fail_s:
        return CODES.finding(
            "clock.skew_fail", f"this host's clock is {amount}: over the {fail_s:g} s limit", evidence
        ), offset
    if beyond > warn_s:
        return CODES.finding("clock.skew_warn", f"this host's clock is {amount}: over {warn_s:g} s", evidence), offset
    if not good and readings and all(r.outcome == "unresolved" for r in readings):
        names = ", ".join(r.reason or r.server for r in readings)
        return CODES.finding(
            "clock.ntp_unresolved", f"clock is {amount}, but the NTP server name {names}", evidence
        ), offset
    if not good:
        blocked = ", ".join(f"{r.server}: {r.outcome}" for r in readings)
        return CODES.finding(
            "clock.ntp_blocked", f"clock is {amount}, but no NTP server answered ({blocked})", evidence
        ), offset
    return CODES.finding("clock.ok", f"clock is {amount}", evidence), offset


@dataclasses.dataclass(frozen=True)
class SkewObserved:
    """The run's clock measurement (shared with the TLS checks) and the thresholds it is judged against."""

    measurement: ClockObserved
    warn_s: float
    fail_s: float


async def observe_skew(target: Target, ctx: Context) -> SkewObserved:
    policy = ctx.clock_policy
    return SkewObserved(await observe(ctx), policy.warn_s, policy.fail_s)


def judge_skew(seen: SkewObserved) -> Finding:
    m = seen.measurement
    finding, _offset = judge(m.readings, m.date, m.date_trusted, seen.warn_s, seen.fail_s, m.dns_root)
    return finding


class ClockSkewCheck(ObservingCheck[SkewObserved]):
    id = "clock.skew"
    title = "Clock skew against NTP (SNTPv4), cross-checked with a trusted HTTPS Date"
    requires = "UDP 123 to the profile's ntp_servers or --ntp-server; HTTPS to a profile endpoint as fallback"
    needs: tuple[str, ...] = ()
    codes = CODES

    def targets(self, plan: Plan) -> Iterable[Target]:
        return [Target(host=CLOCK_TARGET)]

    observe = staticmethod(observe_skew)
    judge = staticmethod(judge_skew)
