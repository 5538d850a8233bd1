"""preflight watch's pure parts: durations and the schedule, the bounded round summary, the verdicts over time,
the idle probe's judge, and the shape a saved watch report must have."""

from __future__ import annotations

import json
from typing import Any

import pytest

from preflight.errors import UsageError
from preflight.model import CheckResult, Status, Target
from preflight.watch import idle, series, verdict
from preflight.watch.codes import IDLE_CODES
from preflight.watch.schedule import Schedule, format_duration, parse_duration
from preflight.watch.shape import check_watch

T0 = 1_800_000_000.0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("5m", 300), ("1h30m", 5400), ("1d", 86400), ("2.5m", 150), (" 10M ", 600)],
)
def test_durations_read_as_a_user_types_them(text: str, seconds: float) -> None:
    assert parse_duration(text, option="--for") == seconds


@pytest.mark.parametrize("text", ["", "abc", "5x", "m5", "1h 30m", "0", "0s", "-5m", "5mm", "1.2.3s"])
def test_a_bad_duration_is_one_line_naming_the_option(text: str) -> None:
    with pytest.raises(UsageError, match=r"^--every: "):
        parse_duration(text, option="--every")


@pytest.mark.parametrize(("seconds", "text"), [(45, "45s"), (240, "4m"), (5400, "1h 30m"), (2.5, "2.5s"), (0, "0s")])
def test_durations_are_written_back_compactly(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_the_schedule_refuses_what_cannot_be_a_watch() -> None:
    with pytest.raises(UsageError, match="at least two rounds"):
        Schedule(10, 20)
    with pytest.raises(UsageError, match="--every: at least"):
        Schedule(10, 0.5)
    with pytest.raises(UsageError, match="--for: at most"):
        Schedule(8 * 86400, 60)
    assert Schedule(60, 10).planned_rounds == 7


@pytest.mark.parametrize(
    ("round_started", "now", "expected"),
    [
        (0.0, 1.0, (10.0, 0)),  # on time: the next slot
        (10.0, 12.0, (20.0, 0)),
        (0.0, 10.0, (10.0, 0)),  # ended exactly at the next slot
        (0.0, 25.0, (25.0, 1)),  # overran slot 10: start at once, slot 20 was missed
        (50.0, 55.0, (60.0, 0)),  # the last slot (60 = --for) still runs
        (60.0, 61.0, (None, 0)),  # nothing after --for
        (50.0, 75.0, (None, 1)),  # overran past --for: done, slot 60 missed
    ],
)
def test_rounds_keep_their_slots_and_an_overrun_is_followed_at_once(
    round_started: float, now: float, expected: tuple[float | None, int]
) -> None:
    at, missed = Schedule(60, 10).next_start(T0, T0 + round_started, T0 + now)
    assert (None if at is None else at - T0, missed) == expected


def result(check: str, host: str, status: Status, code: str, port: int | None = 443, **evidence: Any) -> CheckResult:
    return CheckResult(check, Target(host, port), status, code, f"{code} summary", evidence)


def tcp(host: str, outcomes: dict[str, str], latency: float = 1.0) -> CheckResult:
    attempts = [
        {"address": a, "outcome": o, "latency_ms": latency if o == "open" else None} for a, o in outcomes.items()
    ]
    opened = any(o == "open" for o in outcomes.values())
    return result(
        "tcp.connect",
        host,
        Status.PASS if opened else Status.FAIL,
        "tcp.open" if opened else "tcp.filtered",
        attempts=attempts,
    )  # fmt: skip (one call)


def log_of(rounds: list[list[CheckResult]], passing: tuple[str, ...] = ("tcp.open", "tls.clean", "dns.ok")) -> Any:
    log = series.WatchLog(T0, 10, 10 * len(rounds), passing)
    for number, results in enumerate(rounds):
        log.add_round(T0 + 10 * number, results)
    return log


def test_a_round_summary_counts_codes_by_round_and_draws_one_letter_per_round() -> None:
    ok, bad = (
        result("dns.resolve", "a.test", Status.PASS, "dns.ok", None),
        result("dns.resolve", "a.test", Status.FAIL, "dns.timeout", None),
    )
    log = log_of([[ok], [bad], [ok], [bad], [ok], [ok]])
    (only,) = log.to_json()["series"]
    assert only["counts"] == {"pass": 4, "fail": 2}
    assert only["codes"]["dns.timeout"]["rounds"] == [2, 4] and only["codes"]["dns.ok"]["count"] == 4
    assert only["timeline"] == "pfpfpp"
    # failing results are kept in full: the first and the latest of each code
    (sample,) = log.to_json()["samples"]
    assert sample["first_round"] == 2 and sample["latest_round"] == 4 and sample["first"]["code"] == "dns.timeout"


def test_a_result_that_appears_late_has_blank_columns_before_it() -> None:
    a = result("dns.resolve", "a.test", Status.PASS, "dns.ok", None)
    b = result("dns.resolve", "b.test", Status.SKIP, "run.deadline", None)
    log = log_of([[a], [a], [a, b]])
    timelines = {s["target"]["host"]: s["timeline"] for s in log.to_json()["series"]}
    assert timelines == {"a.test": "ppp", "b.test": "..s"}


def test_a_long_watch_folds_its_timeline_and_keeps_the_worst_status() -> None:
    rounds = [[tcp("a.test", {"192.0.2.1": "open"})] for _ in range(1000)]
    rounds[777] = [tcp("a.test", {"192.0.2.1": "filtered"})]
    log = log_of(rounds)
    data = log.to_json()
    assert len(data["columns"]) <= series.MAX_COLUMNS and data["rounds_per_column"] == 8
    (only,) = data["series"]
    assert len(only["timeline"]) == len(data["columns"]) == len(only["latency_columns"])
    failing = [i for i, letter in enumerate(only["timeline"]) if letter == "f"]
    assert len(failing) == 1
    column = data["columns"][failing[0]]
    assert column["first"] <= 778 <= column["last"]
    assert sum(c[1] for c in only["latency_columns"]) == 999  # every open connect's latency is still counted
    assert only["codes"]["tcp.filtered"]["rounds"] == [778]


def test_memory_is_bounded_whatever_the_number_of_rounds() -> None:
    many_codes = [result("tls.handshake", "a.test", Status.FAIL, f"tls.code{i}") for i in range(50)]
    log = log_of([[r] for r in many_codes] * 3)
    (only,) = log.to_json()["series"]
    assert len(only["codes"]) == series.MAX_CODES and only["codes_dropped"] == 3 * (50 - series.MAX_CODES)
    assert all(len(seen["rounds"]) <= series.MAX_CODE_ROUNDS for seen in only["codes"].values())
    failing = [[result("dns.resolve", f"h{i}.test", Status.FAIL, "dns.timeout", None)] for i in range(300)]
    data = log_of(failing).to_json()
    assert len(data["samples"]) == series.MAX_SAMPLES and data["samples_dropped"] == 300 - series.MAX_SAMPLES


def test_latency_percentiles_are_within_the_histograms_resolution() -> None:
    histogram = series.Histogram()
    for value in range(1, 1001):
        histogram.add(float(value))
    for fraction, exact in ((0.5, 500), (0.9, 900), (0.99, 990)):
        found = histogram.percentile(fraction)
        assert found is not None and abs(found - exact) / exact <= series.HISTOGRAM_BASE - 1
    assert histogram.to_json()["min_ms"] == 1 and histogram.to_json()["max_ms"] == 1000
    histogram.add(float("nan"))
    histogram.add(-1)
    assert histogram.count == 1000
    again = series.Histogram.from_json(histogram.to_json())
    assert again.percentile(0.5) == histogram.percentile(0.5)


def test_paths_are_read_from_tcp_attempts_and_tls_per_address_verdicts() -> None:
    tls = result(
        "tls.interception",
        "a.test",
        Status.FAIL,
        "tls.intercepted",
        addresses={"via http://proxy.test:3128": {"code": "tls.intercepted"}, "192.0.2.1": {"code": "tls.clean"}},
    )  # fmt: skip (one call)
    assert sorted(series.path_outcomes(tls, frozenset({"tls.clean"}))) == [
        ("192.0.2.1", "tls.clean", True, None),
        ("via http://proxy.test:3128", "tls.intercepted", False, None),
    ]
    assert list(series.path_outcomes(result("x.y", "a.test", Status.PASS, "x.ok", attempts="junk"))) == []


def judged(rounds: list[list[CheckResult]]) -> list[CheckResult]:
    return verdict.judge(log_of(rounds).to_json())


def codes_of(found: list[CheckResult]) -> list[tuple[str, str, str]]:
    return [(r.code, r.status.value, r.target.key) for r in found]


def test_steady_rounds_are_one_pass() -> None:
    same = [tcp("a.test", {"192.0.2.1": "open"})]
    assert codes_of(judged([same, same, same])) == [("watch.steady", "pass", "watch")]


def test_one_round_is_too_few_to_say_anything() -> None:
    assert codes_of(judged([[tcp("a.test", {"192.0.2.1": "open"})]])) == [("watch.too_few_rounds", "skip", "watch")]


def test_a_result_that_fails_every_third_round_is_intermittent() -> None:
    ok = result("dns.resolve", "a.test", Status.PASS, "dns.ok", None)
    bad = result("dns.resolve", "a.test", Status.FAIL, "dns.servfail", None)
    found = judged([[ok], [ok], [bad]] * 3)
    assert codes_of(found) == [("watch.intermittent", "fail", "a.test")]
    assert "failed in 3 of 9 rounds (33 %)" in found[0].summary and "rounds 3, 6, 9" in found[0].summary
    assert found[0].remediation


def test_a_warning_that_comes_and_goes_is_unsteady() -> None:
    ok = result("clock.skew", "system clock", Status.PASS, "clock.ok", None)
    warn = result("clock.skew", "system clock", Status.WARN, "clock.skew_warn", None)
    assert codes_of(judged([[ok], [warn], [ok]])) == [("watch.unsteady", "warn", "system clock")]


def test_two_of_eight_addresses_failing_some_of_the_time_are_named_with_their_rates() -> None:
    addresses = [f"192.0.2.{i}" for i in range(1, 9)]
    rounds = []
    for number in range(10):
        outcome = {a: "open" for a in addresses}
        if number % 3 == 0:
            outcome["192.0.2.3"] = "filtered"
        if number % 2 == 0:
            outcome["192.0.2.7"] = "refused"
        rounds.append([tcp("a.test", outcome)])
    (found,) = judged(rounds)
    assert (found.code, found.status) == ("watch.address_intermittent", Status.FAIL)
    assert "port 443 to 2 of 8 addresses of a.test" in found.summary
    assert "192.0.2.7 50 %" in found.summary and "192.0.2.3 40 %" in found.summary
    assert found.evidence["addresses"]["192.0.2.3"]["failed_rounds"] == [1, 4, 7, 10]
    # each address keeps its own connect latencies (the open attempts only)
    assert found.evidence["addresses"]["192.0.2.1"]["latency"]["count"] == 10
    assert found.evidence["addresses"]["192.0.2.3"]["latency"]["count"] == 6


def test_an_address_that_never_works_beside_working_ones_is_named_too() -> None:
    rounds = [[tcp("a.test", {"192.0.2.1": "open", "192.0.2.2": "filtered"})] for _ in range(3)]
    assert codes_of(judged(rounds)) == [("watch.address_intermittent", "fail", "a.test:443")]


def test_a_proxy_pool_member_that_inspects_is_seen_across_rounds() -> None:
    def via(code: str) -> CheckResult:
        status = Status.PASS if code == "tls.clean" else Status.FAIL
        return result("tls.interception", "a.test", status, code, addresses={"via http://p.test:3128": {"code": code}})

    found = judged([[via("tls.clean")], [via("tls.intercepted")], [via("tls.clean")], [via("tls.intercepted")]])
    assert codes_of(found) == [("watch.intercepted_sometimes", "fail", "a.test:443")]
    assert "via http://p.test:3128 was re-signed in 2 of 4 rounds and clean in 2" in found[0].summary
    # always intercepted is not "sometimes": the single round's verdict says it
    assert codes_of(judged([[via("tls.intercepted")]] * 3)) == [("watch.steady", "pass", "watch")]


def hold(seconds: float, outcome: idle.HoldOutcome, closed_after: float | None = None) -> idle.Hold:
    return idle.Hold(seconds, outcome, "detail", closed_after)


PATH = idle.IdlePath("svc.test", 443)
IDLE_CASES = [
    ("all survive past the need", [hold(60, "alive"), hold(240, "alive"), hold(300, "alive")], "idle.ok"),
    ("dropped after 120", [hold(60, "alive"), hold(120, "dropped"), hold(240, "dropped")], "idle.dropped"),
    ("reset after 60", [hold(30, "alive"), hold(60, "reset"), hold(120, "reset")], "idle.reset"),
    ("closed while idle", [hold(30, "alive"), hold(60, "closed", 45.0)], "idle.closed"),
    ("dropped only past the need", [hold(240, "alive"), hold(600, "dropped")], "idle.ok"),
    ("too short a watch", [hold(30, "alive"), hold(60, "alive")], "idle.inconclusive"),
    ("ended before any hold", [hold(30, "not_reached"), hold(60, "not_reached")], "idle.inconclusive"),
    ("nothing opened", [hold(30, "not_opened"), hold(60, "not_opened")], "idle.unreachable"),
    ("mutual TLS: every session ended by an alert", [hold(30, "refused"), hold(60, "refused")], "idle.unreachable"),
    ("first hold already dropped", [hold(30, "dropped"), hold(60, "dropped")], "idle.dropped"),
]


@pytest.mark.parametrize(("name", "holds", "code"), IDLE_CASES, ids=[c[0] for c in IDLE_CASES])
def test_the_idle_judge(name: str, holds: list[idle.Hold], code: str) -> None:
    finding = idle.judge(idle.IdleObservation(PATH, tuple(holds)), needed_s=240)
    assert finding.code == code, finding.summary
    assert finding.status == IDLE_CODES[code].status


def test_the_idle_verdict_says_where_the_limit_lies() -> None:
    finding = idle.judge(idle.IdleObservation(PATH, (hold(60, "alive"), hold(120, "dropped"))), needed_s=240)
    assert finding.evidence["resolution"] == "between 60s and 120s"
    assert finding.evidence["longest_survived_s"] == 60 and finding.evidence["first_failed_s"] == 120
    assert "60s idle survived, 120s did not (dropped" in finding.summary and "needs 240s" in finding.summary
    closed = idle.judge(idle.IdleObservation(PATH, (hold(30, "alive"), hold(60, "closed", 45.0))), needed_s=240)
    assert closed.evidence["resolution"] == "between 30s and 45s"


def test_the_ladder_keeps_the_holds_that_fit_in_the_watch() -> None:
    assert idle.ladder_within((30, 60, 120, 240), available_s=130, timeout=2) == (30, 60, 120)
    assert idle.ladder_within((5, 5, 2, 0, -1), available_s=100, timeout=1) == (2, 5)
    assert idle.ladder_within((30,), available_s=20, timeout=1) == ()


def test_a_watch_summary_has_the_shape_show_reads() -> None:
    rounds = [[tcp("a.test", {"192.0.2.1": "open"})], [tcp("a.test", {"192.0.2.1": "filtered"})]]
    data = json.loads(json.dumps(log_of(rounds).to_json()))
    assert check_watch(data) is None
    broken = json.loads(json.dumps(data))
    broken["series"][0]["timeline"] = "pq"
    assert check_watch(broken) == "series[0].timeline: expected one status letter per column"
    broken = json.loads(json.dumps(data))
    broken["columns"] = "x"
    assert check_watch(broken) == "columns: expected a list of {first, last, at}"
    assert check_watch([]) == "not an object"
    broken = json.loads(json.dumps(data))
    del broken["series"][0]["latency_columns"][0]
    assert check_watch(broken) == "series[0].latency_columns: expected [sum, n, max] per column"


def test_diff_of_two_watches_lists_the_pass_rates_that_moved() -> None:
    from preflight.reporting.diff import rate_changes

    flapping = [[tcp("a.test", {"192.0.2.1": "open"})], [tcp("a.test", {"192.0.2.1": "filtered"})]]
    steady = [[tcp("a.test", {"192.0.2.1": "open"})], [tcp("a.test", {"192.0.2.1": "open"})]]
    dns = [result("dns.resolve", "gone.test", Status.PASS, "dns.ok", None)]
    before, after = log_of([flapping[0] + dns, flapping[1] + dns]).to_json(), log_of(steady).to_json()
    assert rate_changes(before, after) == [
        "  tcp.connect/a.test:443: 50 % -> 100 %",
        "  dns.resolve/gone.test: 100 % -> -",
    ]
    assert rate_changes(after, after) == [] and rate_changes(None, after) == []


def test_a_proxy_list_whose_second_entry_inspects_is_named_against_the_first() -> None:
    """PAC "PROXY p1; PROXY p2": in the rounds p1 was down the connector landed on p2, which re-signs TLS."""

    def via(proxy: str, code: str) -> CheckResult:
        status = Status.PASS if code == "tls.clean" else Status.FAIL
        return result(
            "tls.interception", "a.test", status, code, addresses={f"via http://{proxy}:3128": {"code": code}}
        )

    rounds = [[via("p1.test", "tls.clean")], [via("p2.test", "tls.intercepted")], [via("p1.test", "tls.clean")]]
    (found,) = judged(rounds)
    assert (found.code, found.status) == ("watch.intercepted_sometimes", Status.FAIL)
    assert (
        "re-signed through via http://p2.test:3128 (1 round) and clean through via http://p1.test:3128 (2 rounds)"
        in (found.summary)
    )
    assert found.evidence["intercepting"] == ["via http://p2.test:3128"]
