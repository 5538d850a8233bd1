"""Offline path verification: does a served leaf, with the served certificates as an unordered pool, lead to one
of a set of anchors for a name at a time? (cryptography.x509.verification, the web PKI profile.)

Both costs a run would repeat are kept: the Store built from an anchor list (0.3 ms for certifi's 120 roots, per
endpoint and per store tried) and the verdict for a chain. Names share a verdict only when nothing in it can tell
them apart: two single LDH labels under the same wildcard subjectAltName, with no name constraints anywhere in
the chain or among the anchors. Everything else is verified on its own.
"""

from __future__ import annotations

import collections
import datetime as dt
import ipaddress
import itertools
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from preflight import lazy
from preflight.netutil import is_ip_literal
from preflight.pki.certs import san_names

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.x509 import verification
    from cryptography.x509.verification import Store
else:
    x509 = lazy.module("cryptography.x509")
    verification = lazy.module("cryptography.x509.verification")


CACHED_VERDICTS = 1024
CACHED_STORES = 8  # anchor lists in use at once: a run has three (expected, public, the OS store)
MAX_DEPTH = 8

_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_tokens = itertools.count()
# id(anchors) -> (anchors, a token unique to this entry, its Store, whether an anchor carries name constraints).
# The anchors are held so their id cannot be reused while the entry lives.
_stores: dict[int, tuple[Sequence[x509.Certificate], int, Store, bool]] = {}
_verdicts: collections.OrderedDict[tuple[object, ...], tuple[x509.Certificate, ...] | None] = collections.OrderedDict()


def verified_path(
    leaf: x509.Certificate,
    pool: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    name: str,
    when: dt.datetime,
    *,
    relaxed: bool,
) -> list[x509.Certificate] | None:
    """The verified path (leaf first, anchor last), or None. `relaxed`: any end-entity extensions, as enterprise
    CAs mint them (the OS accepts what the web PKI profile would not), but a subjectAltName is still required."""
    if not anchors:
        return None
    token, store, anchors_constrained = _store(anchors)
    constrained = anchors_constrained or any(_has_name_constraints(c) for c in (leaf, *pool))
    key = (leaf, tuple(pool), token, relaxed, when, _name_key(leaf, name, constrained))
    if key in _verdicts:
        _verdicts.move_to_end(key)
        found = _verdicts[key]
        return list(found) if found is not None else None
    path = _verify(leaf, pool, store, name, when, relaxed=relaxed)
    _verdicts[key] = tuple(path) if path is not None else None
    if len(_verdicts) > CACHED_VERDICTS:
        _verdicts.popitem(last=False)
    return path


def _verify(
    leaf: x509.Certificate,
    pool: Sequence[x509.Certificate],
    store: Store,
    name: str,
    when: dt.datetime,
    *,
    relaxed: bool,
) -> list[x509.Certificate] | None:
    builder = verification.PolicyBuilder().store(store).time(when).max_chain_depth(MAX_DEPTH)
    if relaxed:
        builder = builder.extension_policies(
            ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
            ee_policy=verification.ExtensionPolicy.permit_all().require_present(
                x509.SubjectAlternativeName, verification.Criticality.AGNOSTIC, None
            ),
        )
    if is_ip_literal(name):
        verifier = builder.build_server_verifier(x509.IPAddress(ipaddress.ip_address(name)))
    else:
        verifier = builder.build_server_verifier(x509.DNSName(_reference_name(leaf, name, store)))
    try:
        return list(verifier.verify(leaf, list(pool)))
    except (verification.VerificationError, ValueError):  # no path, or a certificate the verifier cannot parse
        return None


def _reference_name(leaf: x509.Certificate, name: str, store: Store) -> str:
    """The name to ask the verifier for. An FQDN's final dot is not part of a certificate name (RFC 6125 6.2.1).
    A label the web PKI verifier refuses (an underscore, as in `_dmarc` or service names) is replaced by a plain
    one when a wildcard entry covers the name: the name itself was matched already (`certs.matches_host`), and
    what is verified here is the path to the anchors. Anything else is left to the verifier to refuse."""
    trimmed = name[:-1] if name.endswith(".") else name
    if _verifier_takes(trimmed, store):
        return trimmed
    _label, dot, rest = trimmed.partition(".")
    dns_names, _ips = san_names(leaf)
    if dot and f"*.{rest}".lower() in (n.lower() for n in dns_names) and _verifier_takes(f"x.{rest}", store):
        return f"x.{rest}"
    return trimmed


def _verifier_takes(name: str, store: Store) -> bool:
    try:
        verification.PolicyBuilder().store(store).build_server_verifier(x509.DNSName(name))
    except ValueError:
        return False
    return True


def _store(anchors: Sequence[x509.Certificate]) -> tuple[int, Store, bool]:
    known = _stores.get(id(anchors))
    if known is None or known[0] is not anchors:
        if len(_stores) >= CACHED_STORES:
            _stores.clear()
        known = (
            anchors,
            next(_tokens),
            verification.Store(list(anchors)),
            any(_has_name_constraints(a) for a in anchors),
        )
        _stores[id(anchors)] = known
    return known[1], known[2], known[3]


def _has_name_constraints(cert: x509.Certificate) -> bool:
    try:
        cert.extensions.get_extension_for_class(x509.NameConstraints)
    except x509.ExtensionNotFound:
        return False
    except ValueError:  # extensions that do not parse: assume the worst
        return True
    return True


def _name_key(leaf: x509.Certificate, name: str, constrained: bool) -> str:
    """What of `name` the verdict depends on: the wildcard entry it falls under when the name is one plain label
    under it and nothing constrains names; otherwise the name itself."""
    if constrained or is_ip_literal(name):
        return name
    label, dot, rest = name.partition(".")
    if not dot or not _LDH_LABEL.fullmatch(label) or label.startswith("xn--"):
        return name
    dns_names, _ips = san_names(leaf)
    if name in dns_names:
        return name
    wildcard = f"*.{rest}"
    return wildcard if wildcard in dns_names else name


def judging_time(chain: Sequence[x509.Certificate], now: dt.datetime) -> dt.datetime:
    """Now, moved inside the served certificates' common validity window if it falls outside it: trust is judged
    apart from time (an expired certificate or a skewed clock is reported as such, never as interception)."""
    start = max(c.not_valid_before_utc for c in chain)
    end = min(c.not_valid_after_utc for c in chain)
    if start <= now <= end or start > end:
        return now
    return start + (end - start) / 2
