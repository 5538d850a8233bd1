"""Third-party plugins load through the same entry points as the built-ins; broken ones never break a run."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dnsserver import Behaviour, DnsServer
from helpers import ROOT, cli_env, run_cli

EXAMPLE = ROOT / "examples" / "preflight-example-plugin"
BROKEN = ROOT / "tests" / "fixtures" / "broken_plugin"


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Install the example plugin (the template in examples/) and the broken ones (really, with pip) into a
    private directory."""
    target = tmp_path_factory.mktemp("plugin-site")
    for package in (EXAMPLE, BROKEN):
        source = tmp_path_factory.mktemp("plugin-src") / package.name
        shutil.copytree(package, source)  # pip builds in the tree: keep the repo clean
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
             "--target", str(target), str(source)],
            check=True, capture_output=True, timeout=180,
        )  # fmt: skip
    return target


@pytest.fixture
def dns() -> Iterator[DnsServer]:
    with DnsServer({"ok.test": Behaviour(a=("127.0.0.1",))}) as server:
        yield server


def plugin_env(plugin_path: Path) -> dict[str, str]:
    env = cli_env()
    env["PYTHONPATH"] = f"{env['PYTHONPATH']}:{plugin_path}"
    return env


def test_the_example_plugin_is_seen_by_the_checks_list(plugin_path: Path) -> None:
    run = run_cli("checks", env=plugin_env(plugin_path))
    assert "example.port_list" in run.stdout and "dns.resolve" in run.stdout
    assert "example.broken_import" in run.stderr and "failed to load" in run.stderr
    assert run.code == 3


def test_plugin_check_runs_and_broken_plugins_become_errors(plugin_path: Path, dns: DnsServer, tmp_path: Path,
                                                            listener: Any) -> None:  # fmt: skip
    port = listener()
    profile = tmp_path / "p.toml"
    profile.write_text(
        f'name = "x"\n[[endpoint]]\nhost = "ok.test"\nports = [443, {port}]\npurpose = "p"\nsource = "s"\n'
    )
    run = run_cli("run", "--profile", str(profile), "--dns-server", dns.address, "--format", "json", "--timeout", "1",
                  "--skip", "tcp.*", env=plugin_env(plugin_path))  # fmt: skip
    results = {r["id"]: r for r in run.report["results"]}
    assert results["example.port_list/ok.test:443"]["code"] == "example.standard_ports"
    assert results[f"example.port_list/ok.test:{port}"]["code"] == "example.odd_port"
    broken = results["example.broken_import/(run)"]
    assert (broken["status"], broken["code"]) == ("error", "plugin.load_failed")
    assert "example.broken_import" in broken["summary"] and "ImportError" in broken["error"]
    crashed = results["example.crashes/ok.test"]
    assert (crashed["status"], crashed["code"]) == ("error", "check.crashed")
    assert "ZeroDivisionError" in crashed["error"]
    assert results["dns.resolve/ok.test"]["code"] == "dns.ok"  # the built-ins ran normally
    assert run.code == 3  # errors but no failure: could not evaluate everything


def test_plugin_reporter_is_a_format(plugin_path: Path, dns: DnsServer, tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text('name = "x"\n[[endpoint]]\nhost = "ok.test"\nports = [443]\npurpose = "p"\nsource = "s"\n')
    run = run_cli("run", "--profile", str(profile), "--dns-server", dns.address, "--format", "example-count",
                  "--only", "dns.*", env=plugin_env(plugin_path))  # fmt: skip
    assert run.stdout.strip() == "pass=1 warn=0 fail=0 skip=0 error=0"


def test_builtins_are_registered_through_entry_points_like_plugins() -> None:
    from importlib.metadata import entry_points

    checks = {ep.name: ep.value for ep in entry_points(group="preflight.checks")}
    reporters = {ep.name: ep.value for ep in entry_points(group="preflight.reporters")}
    assert checks["dns.resolve"] == "checks.dns:DnsResolveCheck"
    assert checks["tcp.connect"] == "checks.tcp:TcpConnectCheck"
    assert {"table", "json"} <= set(reporters)


def test_a_plugin_setting_from_the_profile_and_from_set(plugin_path: Path, dns: DnsServer, tmp_path: Path) -> None:
    """docs/plugins.md's walk-through: the example check reads allowed_ports; the profile's [checks."id"] table
    and --set override its default without any change to the tool."""
    profile = tmp_path / "p.toml"
    profile.write_text('name = "x"\n[[endpoint]]\nhost = "ok.test"\nports = [443, 8080]\npurpose = "p"\n'
                       'source = "s"\n[checks."example.port_list"]\nallowed_ports = [443, 8080]\n')  # fmt: skip
    env = plugin_env(plugin_path)

    def codes(*extra: str) -> dict[str, str]:
        run = run_cli("run", "--profile", str(profile), "--dns-server", dns.address, "--format", "json",
                      "--only", "example.port_list", *extra, env=env)  # fmt: skip
        return {r["target"]["port"]: r["code"] for r in run.report["results"]}

    assert codes() == {443: "example.standard_ports", 8080: "example.standard_ports"}  # the profile's list
    assert codes("--set", "example.port_list.allowed_ports=[443]") == {443: "example.standard_ports",
                                                                       8080: "example.odd_port"}  # fmt: skip
    bad = run_cli("run", "--profile", str(profile), "--set", "example.port_list.allowed_ports=443", env=env)
    assert bad.code == 2 and bad.stderr.strip().splitlines()[-1].endswith(
        "--set example.port_list.allowed_ports: 443 is not a list of integers, the type of its default [80, 443, 8398]"
    )
    typo = run_cli("run", "--profile", str(profile), "--set", "example.port_list.alowed_ports=[1]", env=env)
    assert typo.code == 2 and "has no setting 'alowed_ports' (its settings: allowed_ports)" in typo.stderr
    unknown = run_cli("run", "--profile", str(profile), "--set", "exmaple.port_list.allowed_ports=[1]", env=env)
    assert unknown.code == 2 and "no installed check has the id 'exmaple.port_list'" in unknown.stderr
    # a setting for an installed check that --only leaves out is not an error
    assert run_cli("run", "--profile", str(profile), "--dns-server", dns.address, "--only", "dns.*", "--set",
                   "example.port_list.allowed_ports=[1]", "--format", "json", env=env).code == 0  # fmt: skip


def test_the_example_plugin_is_a_template_that_touches_no_engine_file() -> None:
    """What a plugin author copies: one module and one entry-point line per check or reporter."""
    files = sorted(str(p.relative_to(EXAMPLE)) for p in EXAMPLE.rglob("*") if p.is_file())
    assert files == ["pyproject.toml", "src/preflight_example/__init__.py"]
    pyproject = (EXAMPLE / "pyproject.toml").read_text()
    assert '"example.port_list" = "preflight_example:PortListCheck"' in pyproject


NEW_CHECK = '''"""A new check written from the template: warns when a profile asks for more endpoints than a limit."""

from __future__ import annotations

from collections.abc import Iterable

from preflight import CodeDoc, Codes, Context, Finding, Plan, Status, Target

CODES = Codes({
    "acme.few_endpoints": CodeDoc(Status.PASS, "Within the limit.", "Counts the plan's ports.", "Nothing to do."),
    "acme.many_endpoints": CodeDoc(Status.WARN, "Over the limit.", "Counts the plan's ports.", "Trim the profile."),
})


class EndpointCountCheck:
    id = "acme.endpoint_count"
    title = "Acme: the profile stays under a number of endpoint ports"
    requires = "nothing (reads the plan)"
    needs: tuple[str, ...] = ()
    settings = {"limit": 20}
    codes = CODES

    def targets(self, plan: Plan) -> Iterable[Target]:
        return [Target(host="plan")]

    async def run(self, target: Target, ctx: Context) -> Finding:
        count, limit = len(ctx.port_targets()), ctx.settings_for(self)["limit"]
        code = "acme.few_endpoints" if count <= limit else "acme.many_endpoints"
        return CODES.finding(code, f"{count} endpoint ports, limit {limit}", {"count": count, "limit": limit})
'''


def test_the_walk_through_adds_a_new_check_with_one_setting(tmp_path: Path, dns: DnsServer) -> None:
    """docs/plugins.md, step by step, for a check the tool has never seen: copy the template, write one module,
    add one entry-point line, install. Nothing of the tool changes."""
    source = tmp_path / "acme-plugin"
    shutil.copytree(EXAMPLE, source)
    (source / "src" / "preflight_example").rename(source / "src" / "acme_checks")
    (source / "src" / "acme_checks" / "__init__.py").write_text(NEW_CHECK)
    pyproject = (source / "pyproject.toml").read_text().replace('name = "preflight-example-plugin"',
                                                                 'name = "acme-checks"')  # fmt: skip
    pyproject = pyproject.replace('"example.port_list" = "preflight_example:PortListCheck"',
                                  '"acme.endpoint_count" = "acme_checks:EndpointCountCheck"')  # fmt: skip
    pyproject = pyproject.replace('"example-count" = "preflight_example:CountReporter"', "")
    (source / "pyproject.toml").write_text(pyproject)
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(site), str(source)], check=True, capture_output=True, timeout=180)  # fmt: skip
    profile = tmp_path / "p.toml"
    profile.write_text('name = "x"\n[[endpoint]]\nhost = "ok.test"\nports = [443, 8398]\npurpose = "p"\nsource = "s"\n')
    env = plugin_env(site)

    def result(*extra: str) -> dict[str, Any]:
        run = run_cli("run", "--profile", str(profile), "--dns-server", dns.address, "--format", "json", "--only",
                      "acme.*", *extra, env=env)  # fmt: skip
        return run.result("acme.endpoint_count", "plan")

    assert (result()["code"], result()["evidence"]) == ("acme.few_endpoints", {"count": 2, "limit": 20})
    over = result("--set", "acme.endpoint_count.limit=1")
    assert (over["status"], over["code"]) == ("warn", "acme.many_endpoints")
    explained = run_cli("explain", "acme.many_endpoints", env=env)
    assert explained.code == 0 and "Trim the profile." in explained.stdout
