"""A locked-down network for the lab: names that resolve the way Microsoft's do (several A and AAAA records each)
to addresses the router drops without a word, as a network that lets nothing out directly does. Used by the
scenario test that checks when silent connects start, and by benchmarks/bench_lockdown.py."""

from __future__ import annotations

import ipaddress
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lab.world import LabSpec, lab_world

SILENT4 = ipaddress.ip_network("198.19.0.0/16")  # dropped by the router
SILENT6 = ipaddress.ip_network("2001:db8:ff00::/40")


def silent_names(count: int, v4: int, v6: int) -> dict[str, list[str]]:
    """`count` names, each with `v4` A and `v6` AAAA records, every address distinct and silent."""
    names: dict[str, list[str]] = {}
    for index in range(count):
        four = [str(SILENT4[index * 64 + k + 1]) for k in range(v4)]
        six = [str(SILENT6[index * 64 + k + 1]) for k in range(v6)]
        names[f"svc{index:03d}.lockdown.test"] = four + six
    return names


def dnsmasq_records(names: dict[str, list[str]]) -> list[str]:
    """One --host-record per address: dnsmasq answers with all of a name's records."""
    return [f"--host-record={name},{address}" for name, addresses in names.items() for address in addresses]


def write_profile(folder: Path, names: Sequence[str], ports: Sequence[int]) -> Path:
    body = ['name = "lockdown"', "[clock]", "ntp_servers = []"]
    for name in names:
        body += ["[[endpoint]]", f'host = "{name}"', f"ports = [{', '.join(map(str, ports))}]",
                 'purpose = "a service name of a locked-down network"', 'source = "lab/lockdown.py"']  # fmt: skip
    path = folder / "lockdown.toml"
    path.write_text("\n".join(body) + "\n")
    return path


@contextmanager
def lockdown_world(
    count: int, v4: int, v6: int, ports: Sequence[int]
) -> Iterator[tuple[Any, Path, dict[str, list[str]]]]:
    """The lab with `count` such names; yields (lab, profile, names)."""
    names = silent_names(count, v4, v6)
    rules = f"ip daddr {SILENT4} drop\nip6 daddr {SILENT6} drop"
    spec = LabSpec(dns_options=dnsmasq_records(names), router_rules=rules)
    profile = write_profile(Path(tempfile.mkdtemp(prefix="preflight-lockdown-")), list(names), ports)
    with lab_world(spec) as lab:
        yield lab, profile, names
