"""What a watch's rounds say together, that no one round can: results that fail some of the time, addresses of a
name that fail some of the time while the others work, paths (an address, a proxy) whose TLS is re-signed in some
rounds and not in others. Pure: the WatchLog's JSON in, results out (check `watch.stability`), table-tested."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from preflight.model import CheckResult, Target
from preflight.watch.codes import STABILITY_CHECK as CHECK_ID
from preflight.watch.codes import WATCH_CODES

WATCH_TARGET = Target(host="watch")
_INTERCEPTED = ("tls.intercepted", "tls.intercepted_untrusted")


def judge(watch: Mapping[str, Any]) -> list[CheckResult]:
    """The watch's own findings, from its summary (a WatchLog's to_json)."""
    rounds = int(watch.get("rounds") or 0)
    if rounds < 2:
        return [_result(WATCH_TARGET, "watch.too_few_rounds", f"{rounds} round finished: a watch needs two", {})]
    found: list[CheckResult] = []
    for series in watch.get("series") or ():
        found.extend(_judge_series(series, rounds))
    if not found:
        summary = f"{rounds} rounds: every result was the same in each"
        found.append(_result(WATCH_TARGET, "watch.steady", summary, {"rounds": rounds}))
    return found


def _judge_series(series: Mapping[str, Any], rounds: int) -> list[CheckResult]:
    counts: Mapping[str, int] = series.get("counts") or {}
    target = Target.from_json(series["target"])
    check = str(series["check"])
    seen = int(series.get("rounds") or 0)
    problems = counts.get("fail", 0) + counts.get("error", 0)
    good = counts.get("pass", 0) + counts.get("warn", 0)
    codes: Mapping[str, Mapping[str, Any]] = series.get("codes") or {}
    found: list[CheckResult] = []
    paths = _path_findings(check, target, series.get("paths") or {}, seen)
    found.extend(paths)
    if paths:
        return found  # the path finding names the addresses; the result's own flapping is the same fact
    evidence = {"check": check, "rounds": seen, "counts": dict(counts), "codes": _codes_evidence(codes)}
    if problems and good:
        bad = _codes_of(codes, ("fail", "error"))
        rate = round(100 * problems / seen)
        where = "; ".join(f"{code} in rounds {_rounds(codes[code])}" for code in bad)
        summary = f"{check} {target.key} failed in {problems} of {seen} rounds ({rate} %): {where}"
        found.append(_result(target, "watch.intermittent", summary, evidence))
    elif counts.get("warn", 0) and counts.get("pass", 0):
        warned = _codes_of(codes, ("warn",))
        summary = f"{check} {target.key} warned in {counts['warn']} of {seen} rounds: " + "; ".join(
            f"{code} in rounds {_rounds(codes[code])}" for code in warned
        )
        found.append(_result(target, "watch.unsteady", summary, evidence))
    return found


def _path_findings(check: str, target: Target, paths: Mapping[str, Mapping[str, Any]], seen: int) -> list[CheckResult]:
    if check == "tcp.connect" and len(paths) >= 1:
        failing = {label: p for label, p in paths.items() if p.get("failed")}
        working = [label for label, p in paths.items() if p.get("ok")]
        mixed = {label: p for label, p in failing.items() if p.get("ok")}
        if mixed or (failing and working):
            rates = {label: _rate(p) for label, p in failing.items()}
            listed = ", ".join(f"{label} {rate} %" for label, rate in sorted(rates.items(), key=lambda kv: -kv[1]))
            overall = round(
                sum(int(p.get("failed", 0)) for p in failing.values())
                * 100
                / max(1, sum(int(p.get("failed", 0)) + int(p.get("ok", 0)) for p in failing.values()))
            )
            summary = (
                f"port {target.port} to {len(failing)} of {len(paths)} addresses of {target.host} fails "
                f"{overall} % of the time ({listed})"
            )
            evidence = {"rounds": seen, "addresses": {label: dict(p) for label, p in paths.items()}}
            return [_result(target, "watch.address_intermittent", summary, evidence)]
    if check == "tls.interception":
        found = []
        always: list[str] = []  # proxies whose TLS was re-signed in every round they carried
        clean_proxies: list[str] = []
        for label, path in paths.items():
            outcomes: Mapping[str, int] = path.get("outcomes") or {}
            intercepted = sum(n for code, n in outcomes.items() if code in _INTERCEPTED)
            clean = int(path.get("ok") or 0)
            if label.startswith("via ") and intercepted and not clean:
                always.append(label)
            elif label.startswith("via ") and clean and not intercepted:
                clean_proxies.append(label)
            if intercepted and clean:
                total = sum(outcomes.values())
                kind = "proxy" if label.startswith("via ") else "address"
                summary = (
                    f"TLS to {target.key} {label if kind == 'proxy' else 'at ' + label} was re-signed in "
                    f"{intercepted} of {total} rounds and clean in {clean}: one member of the {kind}'s pool "
                    "inspects TLS"
                )
                evidence = {"path": label, "rounds": seen, "outcomes": dict(outcomes)}
                found.append(_result(_plain(target), "watch.intercepted_sometimes", summary, evidence))
        if always and clean_proxies:
            # a proxy list (PAC "PROXY a; PROXY b") failing over between rounds: one entry inspects, one does not
            rounds = {label: sum((paths[label].get("outcomes") or {}).values()) for label in always + clean_proxies}
            summary = (
                f"TLS to {target.key} was re-signed through "
                + ", ".join(f"{label} ({_count(rounds[label], 'round')})" for label in always)
                + " and clean through "
                + ", ".join(f"{label} ({_count(rounds[label], 'round')})" for label in clean_proxies)
                + ": the proxy the connector lands on decides whether it works"
            )
            evidence = {"intercepting": always, "clean": clean_proxies, "rounds": rounds}
            found.append(_result(_plain(target), "watch.intercepted_sometimes", summary, evidence))
        return found
    return []


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _plain(target: Target) -> Target:
    return Target(target.host, target.port, target.address)


def _rate(path: Mapping[str, Any]) -> int:
    failed, ok = int(path.get("failed") or 0), int(path.get("ok") or 0)
    return round(100 * failed / max(1, failed + ok))


def _codes_of(codes: Mapping[str, Mapping[str, Any]], statuses: Sequence[str]) -> list[str]:
    return sorted((c for c, seen in codes.items() if seen.get("status") in statuses), key=lambda c: -codes[c]["count"])


def _rounds(seen: Mapping[str, Any]) -> str:
    listed = [int(n) for n in seen.get("rounds") or ()]
    text = ", ".join(map(str, listed[:12]))
    more = int(seen.get("count") or 0) - min(len(listed), 12)
    return text + (f" and {more} more" if more > 0 else "")


def _codes_evidence(codes: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {
        code: {"status": s.get("status"), "count": s.get("count"), "rounds": list(s.get("rounds") or ())}
        for code, s in codes.items()
    }


def _result(target: Target, code: str, summary: str, evidence: Mapping[str, Any]) -> CheckResult:
    finding = WATCH_CODES.finding(code, summary, evidence)
    return CheckResult(
        check=CHECK_ID,
        target=target,
        status=finding.status,
        code=code,
        summary=summary,
        evidence=finding.evidence,
        remediation=finding.remediation,
    )
