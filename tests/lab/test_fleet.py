"""The Ansible role end to end: a real ansible-playbook run over five candidates, four of them network
namespaces with different faults (reached by a connection plugin that runs tasks inside a namespace) and one
that does not exist, then the fleet matrix the playbook builds: who is ready, who fails and why, per connector
group, and the unreachable and uninstallable hosts reported as such."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import ROOT, SUPPORT
from lab.topology import LAB_NETWORKS, clean_leftovers
from lab.world import TENANT, LabSpec, lab_pki, lab_world

pytestmark = pytest.mark.netns

PLAYBOOK = ROOT / "deploy" / "ansible" / "validate.yml"
WHEELHOUSE = ROOT / "build" / "wheelhouse"  # `python3 -m pip wheel . -w build/wheelhouse`, made by .ci/run


def wheelhouse(tmp: Path) -> Path:
    """The dependency wheels .ci/run fetched, plus a wheel of this checkout built now (offline)."""
    if not any(WHEELHOUSE.glob("cryptography-*.whl")):
        why = f"no dependency wheels in {WHEELHOUSE}: `bash deploy/build.sh` makes them (it needs the package index)"
        if os.environ.get("CI"):
            pytest.fail(f"{why}; .ci/run builds them before the tests")
        pytest.skip(why)
    folder = tmp / "wheelhouse"
    shutil.copytree(WHEELHOUSE, folder)
    for old in folder.glob("connector_preflight-*.whl"):
        old.unlink()
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(folder), str(ROOT)], check=True, capture_output=True)  # fmt: skip
    return folder


def test_playbook_builds_the_fleet_matrix(tmp_path: Path) -> None:
    wheels = wheelhouse(tmp_path)
    empty = tmp_path / "empty-wheelhouse"
    empty.mkdir()
    results = tmp_path / "results"
    clean_leftovers()
    with contextlib.ExitStack() as stack:
        good = stack.enter_context(lab_world(clean=False))
        blocked = stack.enter_context(lab_world(LabSpec(router_rules="tcp dport 8398 drop"), clean=False))
        no_dns = stack.enter_context(lab_world(LabSpec(unrecorded=("login.microsoftonline.com",)), clean=False))

        def candidate(namespace: str, group: str, **extra: object) -> dict[str, object]:
            return {"ansible_host": namespace, "connector_group": group, **extra}

        inventory = {"connector_candidates": {
            "hosts": {
                "muc-1": candidate(good.topo.host, "munich"),
                "muc-2": candidate(blocked.topo.host, "munich"),
                "ber-1": candidate(no_dns.topo.host, "berlin"),
                "ber-2": candidate("pft-0-missing-h", "berlin"),
                "ham-1": candidate(good.topo.host, "hamburg", preflight_wheelhouse=str(empty)),
            },
            "vars": {
                "ansible_connection": "netns",
                "ansible_python_interpreter": sys.executable,
                "preflight_python": sys.executable,
                "preflight_remote_dir": str(tmp_path / "targets" / "{{ inventory_hostname }}"),
                "preflight_wheelhouse": str(wheels),
                "preflight_profile": str(lab_pki()[1] / "lab-profile.toml"),
                "preflight_tenant_id": TENANT,
                "preflight_run_options": ["--timeout", "1.5"],
                "preflight_connect_timeout": 5,
            },
        }}  # fmt: skip
        (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
        env = {
            **os.environ,
            "ANSIBLE_CONNECTION_PLUGINS": str(ROOT / "tests" / "fleet" / "connection_plugins"),
            "ANSIBLE_ROLES_PATH": str(ROOT / "deploy" / "ansible" / "roles"),
            "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-local"),
            "ANSIBLE_REMOTE_TMP": str(tmp_path / "ansible-remote"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORKS": "5",
            # the network guard in every Python process, the targets' runs included
            "PYTHONPATH": str(SUPPORT / "guardsite"),
            "PREFLIGHT_GUARD": "1",
            "PREFLIGHT_GUARD_ALLOW": LAB_NETWORKS,
            "PREFLIGHT_GUARD_ALLOW_NAMES": "1",
        }
        extra_vars = {"preflight_results_dir": str(results),
                      "preflight_command": [sys.executable, "-m", "preflight"]}  # fmt: skip
        play = subprocess.run(
            ["ansible-playbook", "-i", str(tmp_path / "inventory.yml"), str(PLAYBOOK), "-e", json.dumps(extra_vars)],
            capture_output=True, text=True, env=env, timeout=600, cwd=str(tmp_path),
        )  # fmt: skip
    log = play.stdout[-6000:] + play.stderr[-2000:]
    assert play.returncode == 2, log  # berlin and hamburg have no ready candidate: the assert fails the play
    assert "Not every connector group has a ready candidate" in play.stdout, log

    merged = subprocess.run([sys.executable, "-m", "preflight", "merge", "--fleet", str(results), "--format", "json"],
                            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    assert merged.returncode == 1, merged.stderr
    fleet = json.loads(merged.stdout)
    hosts = {h["host"]: h for h in fleet["hosts"]}
    assert set(hosts) == {"muc-1", "muc-2", "ber-1", "ber-2", "ham-1"}
    assert hosts["muc-1"]["ready"] and hosts["muc-1"]["verdict"] == "pass"
    assert not hosts["muc-2"]["ready"] and hosts["muc-2"]["verdict"] == "fail"
    assert hosts["muc-2"]["checks"]["tcp.connect"]["status"] == "fail"
    assert "tcp.filtered" in hosts["muc-2"]["checks"]["tcp.connect"]["codes"]
    assert hosts["ber-1"]["checks"]["dns.resolve"]["status"] == "fail"
    assert hosts["ber-2"]["verdict"] == "unreachable" and "does not exist" in hosts["ber-2"]["reason"]
    assert hosts["ham-1"]["verdict"] == "install_failed" and "connector-preflight" in hosts["ham-1"]["reason"]
    assert fleet["groups"] == {
        "munich": {"candidates": 2, "ready": ["muc-1"], "ok": True},
        "berlin": {"candidates": 2, "ready": [], "ok": False},
        "hamburg": {"candidates": 1, "ready": [], "ok": False},
    }
    for name in ("fleet.txt", "fleet.md", "fleet.html"):
        text = (results / name).read_text()
        assert "muc-1" in text and "unreachable" in text and "install_failed" in text, name
    assert "1 of 2" in (results / "fleet.md").read_text()
