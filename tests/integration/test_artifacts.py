"""What deploy/build.sh makes for servers without a package index (run by .ci/run before the tests): the win_amd64
wheelhouse and zipapp really hold Windows builds of the compiled dependencies, and the Linux zipapp runs the tool,
its own copy, with every check and profile, also in the lab. Built artifacts are required in CI; elsewhere a
missing build is a skip that says how to make it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from helpers import ROOT, SUPPORT, cli_env

from preflight.engine.registry import load_checks
from preflight.profile import embedded_names

BUILD = ROOT / "build"
LINUX_PYZ = BUILD / f"connector-preflight-linux-py{sys.version_info.major}.{sys.version_info.minor}.pyz"
WIN_WHEELS = BUILD / "wheelhouse-win_amd64"


def built(path: Path) -> Path:
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing: .ci/run builds it with deploy/build.sh")
        pytest.skip(f"{path} is not built: run deploy/build.sh")
    return path


def windows_pyz() -> Path:
    found = sorted(BUILD.glob("connector-preflight-win_amd64-py*.pyz"))
    return built(found[-1] if found else BUILD / "connector-preflight-win_amd64-py3.12.pyz")


def zipapp_env() -> dict[str, str]:
    """The network guard, but not the checkout on the path: the zipapp must run its own copy."""
    return cli_env(PYTHONPATH=str(SUPPORT / "guardsite"))


def test_the_windows_wheelhouse_holds_windows_builds_of_every_dependency() -> None:
    names = {p.name for p in built(WIN_WHEELS).iterdir()}
    assert any(re.match(r"cryptography-[\d.]+-cp3\d+-abi3-win_amd64\.whl$", n) for n in names), names
    assert any(re.match(r"cffi-[\d.]+-cp3\d+-cp3\d+-win_amd64\.whl$", n) for n in names), names
    assert any(n.startswith("colorama-") for n in names)  # click needs it on Windows only
    project = next(p for p in WIN_WHEELS.iterdir() if p.name.startswith("connector_preflight-"))
    with zipfile.ZipFile(project) as wheel:
        metadata = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
        requires = [line.split(":", 1)[1].strip() for line in wheel.read(metadata).decode().splitlines()
                    if line.startswith("Requires-Dist:") and "extra ==" not in line]  # fmt: skip
    for requirement in requires:
        name = re.split(r"[<>=!~;\s\[]", requirement, maxsplit=1)[0].lower().replace("-", "_")
        assert any(n.lower().startswith(f"{name}-") for n in names), f"no wheel for {requirement}"
    assert not [n for n in names if re.search(r"(linux|macosx|manylinux)", n)]


def test_the_windows_zipapp_contains_the_windows_compiled_wheels() -> None:
    with zipfile.ZipFile(windows_pyz()) as archive:
        names = archive.namelist()
        assert "site-packages/cryptography/hazmat/bindings/_rust.pyd" in names
        assert any(re.match(r"site-packages/_cffi_backend\.cp3\d+-win_amd64\.pyd$", n) for n in names)
        assert not [n for n in names if n.endswith(".so")]
        entry_points = next(n for n in names if re.match(r"site-packages/connector_preflight-.*/entry_points.txt", n))
        registered = archive.read(entry_points).decode()
    for check in load_checks().checks:
        assert f"{check.id} = " in registered


def test_the_linux_zipapp_runs_its_own_copy_with_every_check_and_profile(tmp_path: Path) -> None:
    pyz = built(LINUX_PYZ)
    run = subprocess.run([sys.executable, str(pyz), "checks"], capture_output=True, text=True, timeout=120,
                         env=zipapp_env(), cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stderr
    for check in load_checks().checks:
        assert check.id in run.stdout
    profiles = subprocess.run([sys.executable, str(pyz), "profiles"], capture_output=True, text=True, timeout=60,
                              env=zipapp_env(), cwd=tmp_path)  # fmt: skip
    assert all(name in profiles.stdout for name in embedded_names())
    where = subprocess.run([sys.executable, str(pyz)], input="import preflight\nprint(preflight.__file__)\n",
                           capture_output=True, text=True, timeout=60, env=zipapp_env() | {"SHIV_INTERPRETER": "1"},
                           cwd=tmp_path)  # fmt: skip
    assert ".shiv" in where.stdout and str(ROOT / "preflight") not in where.stdout


def test_the_linux_zipapp_run_by_another_python_says_so_in_one_line(tmp_path: Path) -> None:
    """Its compiled modules (cffi's, dukpy's) load on the Python minor version that built it only; its name says
    which, and another Python gets one line instead of four built-in checks failing to load."""
    pyz = built(LINUX_PYZ)
    other = tmp_path / "connector-preflight-linux-py3.99.pyz"  # as if built by a Python this one is not
    shutil.copy(pyz, other)
    run = subprocess.run([sys.executable, str(other), "checks"], capture_output=True, text=True, timeout=120,
                         env=zipapp_env(), cwd=tmp_path)  # fmt: skip
    assert run.returncode == 2 and run.stdout == ""
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert run.stderr.strip().splitlines() == [
        f"preflight: {other} was built for Python 3.99 and this is Python {here}: run it with Python 3.99 "
        f"(python3.99 on Linux, py -3.99 on Windows), or build one for {here} with deploy/build.sh"
    ]


def test_the_pyinstaller_spec_bundles_the_entry_points_and_the_data() -> None:
    spec = (ROOT / "deploy" / "windows" / "preflight.spec").read_text()
    compile(spec, "preflight.spec", "exec")  # PyInstaller executes it as Python
    assert 'copy_metadata("connector-preflight")' in spec  # without it no built-in check would load
    for package in ("preflight", "checks", "reports"):
        assert f'collect_data_files("{package}")' in spec and f'collect_submodules("{package}")' in spec
    assert (ROOT / "deploy" / "windows" / "entry.py").read_text().count("from preflight.entry import main") == 1


@pytest.mark.netns
def test_the_linux_zipapp_in_the_lab() -> None:
    from lab.topology import LAB_NETWORKS
    from lab.world import TENANT, lab_pki, lab_world

    pyz = built(LINUX_PYZ)
    env = zipapp_env() | {"PREFLIGHT_GUARD_ALLOW": LAB_NETWORKS, "PREFLIGHT_GUARD_ALLOW_NAMES": "1"}
    with lab_world() as lab:
        run = subprocess.run([*lab.topo.prefix(lab.topo.host), sys.executable, str(pyz), "run", "--profile",
                              str(lab_pki()[1] / "lab-profile.toml"), "--tenant-id", TENANT, "--timeout", "1.5"],
                             capture_output=True, text=True, timeout=120, env=env)  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr
    assert "verdict: PASS" in run.stdout and "tls.clean" in run.stdout
