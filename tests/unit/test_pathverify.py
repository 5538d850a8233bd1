"""Path verification is memoised: a verdict is shared only between names nothing in the chain can tell apart, and
every shared verdict equals the one a fresh verification gives."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography import x509
from pki import NOW, FakePki, ca, leaf

from preflight.pki import pathverify

WHEN = NOW
UNCACHED = pathverify._verify


@pytest.fixture(scope="module")
def pki() -> FakePki:
    return FakePki.build()


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The names each real verification ran for, with the caches emptied first."""
    pathverify._verdicts.clear()
    pathverify._stores.clear()
    calls: list[str] = []

    def counting(leaf: Any, pool: Any, store: Any, name: str, when: Any, *, relaxed: bool) -> Any:
        calls.append(name)
        return UNCACHED(leaf, pool, store, name, when, relaxed=relaxed)

    monkeypatch.setattr(pathverify, "_verify", counting)
    yield calls


def outcome(verify: Any, *args: Any) -> Any:
    """A verification's result, or the type of what it raised (the verifier refuses some names outright)."""
    try:
        return verify(*args, relaxed=False)
    except ValueError as exc:
        return type(exc)


def fresh(leaf_cert: x509.Certificate, pool: list[x509.Certificate], anchors: list[x509.Certificate],
          name: str) -> Any:  # fmt: skip
    """What an uncached verification says."""
    return outcome(UNCACHED, leaf_cert, pool, x509.verification.Store(anchors), name, WHEN)


PAIRS = [
    # first name, second name, one verification for both?
    ("e0.bench.test", "e1.bench.test", True),
    ("e0.bench.test", "node-7.bench.test", True),
    ("exact.bench.test", "e1.bench.test", False),  # one matched its own entry, the other the wildcard
    ("e0.bench.test", "a.b.bench.test", False),  # two labels under the wildcard: not covered
    ("e0.bench.test", "xn--bcher-kva.bench.test", False),  # an IDNA label
    ("e0.bench.test", "under_score.bench.test", False),  # not a host name label: verified as another one
    ("e0.bench.test", "e1.bench.test.", False),  # an FQDN with its final dot
    ("e0.bench.test", "-dash.bench.test", False),
    ("e0.bench.test", "E1.bench.test", False),  # case: left to the verifier
    ("e0.bench.test", "e0.other.test", False),
    ("e0.bench.test", "192.0.2.7", False),
]


@pytest.mark.parametrize(("first", "second", "shared"), PAIRS)
def test_names_share_a_verdict_only_under_one_wildcard(pki: FakePki, counted: list[str], first: str, second: str,
                                                       shared: bool) -> None:  # fmt: skip
    served = leaf(["*.bench.test", "exact.bench.test"], pki.issuing)
    anchors, pool = pki.expected, [pki.issuing.cert]
    got = [outcome(pathverify.verified_path, served.cert, pool, anchors, name, WHEN) for name in (first, second)]
    assert counted == ([first] if shared else [first, second])
    assert got == [fresh(served.cert, pool, anchors, name) for name in (first, second)]
    assert isinstance(got[0], list)


def test_time_anchors_and_policy_are_part_of_the_verdict(pki: FakePki, counted: list[str]) -> None:
    served = leaf(["*.bench.test"], pki.issuing)
    anchors, pool = pki.expected, [pki.issuing.cert]
    for when, store, relaxed in [(WHEN, anchors, False), (WHEN + dt.timedelta(seconds=1), anchors, False),
                                 (WHEN, anchors, True), (WHEN, list(anchors), False)]:  # fmt: skip
        assert pathverify.verified_path(served.cert, pool, store, "e0.bench.test", when, relaxed=relaxed)
    assert len(counted) == 4
    assert pathverify.verified_path(served.cert, pool, anchors, "e9.bench.test", WHEN, relaxed=False)
    assert len(counted) == 4


def test_a_failed_verification_is_remembered_as_a_failure(pki: FakePki, counted: list[str]) -> None:
    served = leaf(["*.bench.test"], pki.other_public_issuing)
    anchors, pool = pki.expected, [pki.other_public_issuing.cert]
    for name in ("e0.bench.test", "e1.bench.test"):
        assert pathverify.verified_path(served.cert, pool, anchors, name, WHEN, relaxed=False) is None
    assert counted == ["e0.bench.test"]


def test_name_constraints_anywhere_stop_the_sharing(pki: FakePki, counted: list[str]) -> None:
    constraints = x509.NameConstraints(permitted_subtrees=[x509.DNSName("bench.test")], excluded_subtrees=None)
    constrained = ca("Constrained Issuing CA", parent=pki.root, name_constraints=constraints)
    served = leaf(["*.bench.test"], constrained)
    anchors, pool = pki.expected, [constrained.cert]
    names = ("a.bench.test", "b.bench.test")
    got = [pathverify.verified_path(served.cert, pool, anchors, n, WHEN, relaxed=False) for n in names]
    assert counted == list(names)
    assert got == [fresh(served.cert, pool, anchors, n) for n in names]
    constrained_root = ca("Constrained Root", name_constraints=constraints)
    issuing = ca("Issuing under a constrained root", parent=constrained_root)
    served = leaf(["*.bench.test"], issuing)
    for name in ("a.bench.test", "b.bench.test"):
        pathverify.verified_path(served.cert, [issuing.cert], [constrained_root.cert], name, WHEN, relaxed=False)
    assert counted[2:] == ["a.bench.test", "b.bench.test"]


def test_the_caches_stay_bounded(pki: FakePki, counted: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pathverify, "CACHED_VERDICTS", 5)
    served = leaf(["*.bench.test"], pki.issuing)
    anchors, pool = pki.expected, [pki.issuing.cert]
    for second in range(12):
        when = WHEN + dt.timedelta(seconds=second)
        pathverify.verified_path(served.cert, pool, anchors, "e0.bench.test", when, relaxed=False)
    assert len(pathverify._verdicts) == 5
    assert len(counted) == 12
    lists = [list(anchors) for _ in range(pathverify.CACHED_STORES + 3)]
    for each in lists:
        pathverify.verified_path(served.cert, pool, each, "e0.bench.test", WHEN, relaxed=False)
    assert len(pathverify._stores) <= pathverify.CACHED_STORES


def test_a_store_is_built_once_per_anchor_list(pki: FakePki, counted: list[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    built: list[int] = []
    real = pathverify.verification.Store

    def counting_store(certs: list[x509.Certificate]) -> Any:
        built.append(len(certs))
        return real(certs)

    monkeypatch.setattr(pathverify.verification, "Store", counting_store)
    served = leaf(["a.bench.test", "b.bench.test"], pki.issuing)
    anchors, pool = pki.expected, [pki.issuing.cert]
    for name in ("a.bench.test", "b.bench.test"):
        assert pathverify.verified_path(served.cert, pool, anchors, name, WHEN, relaxed=False)
    assert counted == ["a.bench.test", "b.bench.test"]
    assert built == [2]


def test_a_name_only_an_exact_entry_could_match_is_left_to_the_verifier(pki: FakePki, counted: list[str]) -> None:
    served = leaf(["_svc.bench.test"], pki.issuing)
    with pytest.raises(ValueError, match="invalid domain name"):
        pathverify.verified_path(served.cert, [pki.issuing.cert], pki.expected, "_svc.bench.test", WHEN,
                                 relaxed=False)  # fmt: skip
