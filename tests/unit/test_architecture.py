"""The package's shape: no import cycle between its modules, counting imports inside functions (a cycle hidden
behind a function-local import is still a cycle: neither module can be understood or tested without the other)
and, separately, counting the imports under `if TYPE_CHECKING:` too (a circle of types is one a reader must hold
in mind all the same); the top level of `preflight/` holds only the core modules."""

from __future__ import annotations

import ast
from pathlib import Path

from helpers import ROOT

PACKAGES = ("preflight", "checks", "reports")


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node except those under `if TYPE_CHECKING:`."""
    kept: list[ast.AST] = []
    pending = [tree]
    while pending:
        node = pending.pop()
        kept.append(node)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                pending.extend(child.orelse)
                continue
            pending.append(child)
    return kept


def import_graph(*, with_type_checking: bool = False) -> dict[str, set[str]]:
    known = modules()
    nodes = (lambda tree: list(ast.walk(tree))) if with_type_checking else _runtime_nodes

    def owner(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in nodes(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
            for target in targets:
                found = owner(target)
                if found is not None and found != name:
                    graph[name].add(found)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_no_cycle_even_counting_the_type_checkers_imports() -> None:
    assert cycles(import_graph(with_type_checking=True)) == []


# The core: the public API's types, the run as a function, the engine's vocabulary, profiles, signals. Everything
# else belongs to a package that says what it is for (engine, probes, proxy, pki, tenant, host, reporting, ...).
CORE = {"__init__", "__main__", "app", "blocking", "check", "codes", "context", "entry", "errors", "lazy", "model",
        "netutil", "profile", "redact", "signals", "textfile"}  # fmt: skip


def test_the_top_level_holds_only_the_core_modules() -> None:
    top = {path.stem for path in (ROOT / "preflight").glob("*.py")}
    assert top <= CORE, f"modules to place in a package: {sorted(top - CORE)}"


def test_the_cycle_finder_finds_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_function_local_imports_count_and_type_checking_ones_do_not() -> None:
    graph = import_graph()
    assert "preflight.proxy.settings" in graph["preflight.app"]  # imported inside a function
    assert "preflight.reporting.report" in graph["preflight.app"]
    assert "preflight.tenant.discovery" not in graph["preflight.engine.plan"]  # only under TYPE_CHECKING
    assert "preflight.tenant.discovery" in import_graph(with_type_checking=True)["preflight.engine.plan"]


def test_no_check_imports_another_check() -> None:
    """A check's whole logic is in its own module; what checks share (the clock measurement, the host checks'
    base) lives in helper modules that register no check. The engine imports no check at all."""
    from importlib.metadata import entry_points

    check_modules = {ep.value.split(":")[0] for ep in entry_points(group="preflight.checks")
                     if ep.value.startswith("checks.")}  # fmt: skip
    graph = import_graph()
    for module in check_modules:
        assert not (graph[module] & check_modules), f"{module} imports {graph[module] & check_modules}"
    for module, imported in graph.items():
        if module.startswith("preflight."):
            assert not any(name.startswith("checks") for name in imported), f"{module} imports a check"


def test_the_formatter_decides_the_layout() -> None:
    """`# fmt: skip` only where the formatter's layout hides what the code says, and then with the reason."""
    skips = [
        (path, number, line)
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if "# fmt: skip" in line
    ]
    assert len(skips) < 20, f"{len(skips)} '# fmt: skip' in product code"
    for path, number, line in skips:
        assert line.split("# fmt: skip", 1)[1].strip().startswith("("), f"{path}:{number}: a skip without its reason"


def test_no_check_imports_the_engine() -> None:
    """Checks talk to the run through preflight.context.Context (a protocol), never to the engine's classes: not
    even for their type annotations. The proxy package and the tenant lookup ask preflight.context.Probes."""
    graph = import_graph(with_type_checking=True)
    for module, imported in graph.items():
        if module.startswith("checks"):
            engine = sorted(name for name in imported if name.startswith("preflight.engine"))
            assert not engine, f"{module} imports {engine}"
    for module in ("preflight.proxy.autoconfig", "preflight.proxy.automatic", "preflight.tenant.lookup"):
        assert not any(name.startswith("preflight.engine.context") for name in graph[module]), module


def test_every_built_in_check_and_reporter_loads() -> None:
    """An import that no longer resolves (a module moved) makes a check a load failure at run time, which the
    run survives: this makes it a test failure first."""
    from importlib.metadata import entry_points

    from preflight.engine.registry import load_checks, load_reporters

    checks, reporters = load_checks(), load_reporters()
    assert checks.failures == [] and reporters.failures == []
    built_in = {ep.name for ep in entry_points(group="preflight.checks") if ep.value.startswith("checks.")}
    assert built_in <= {check.id for check in checks.checks}


def test_every_built_in_check_has_the_one_anatomy() -> None:
    """observe(target, ctx) -> a typed, immutable observation; judge(observation) -> Finding; run is the two in
    a row (preflight.ObservingCheck). A check deciding inside run(), or observing into a dict, fails here."""
    import dataclasses
    import inspect
    from importlib.metadata import entry_points

    from preflight import ObservingCheck

    found = [ep for ep in entry_points(group="preflight.checks") if ep.value.startswith("checks.")]
    assert len(found) >= 14
    for ep in found:
        cls = ep.load()
        assert issubclass(cls, ObservingCheck), ep.name
        assert cls.run is ObservingCheck.run, f"{ep.name}: run() is observe then judge, nothing else"
        assert cls.observe is not ObservingCheck.observe and cls.judge is not ObservingCheck.judge, ep.name
        observe, judge = (cls.read, cls.judge_windows) if hasattr(cls, "read") else (cls.observe, cls.judge)
        # (a host check's observation is None off Windows; read() gives it on Windows, judge_windows judges it)
        returned = inspect.signature(observe).return_annotation
        name = str(returned).removesuffix(" | None")
        observed = vars(inspect.getmodule(observe))[name]
        assert dataclasses.is_dataclass(observed) and observed.__dataclass_params__.frozen, (ep.name, name)
        judged = inspect.signature(judge)
        assert [p.annotation for p in judged.parameters.values() if p.name != "self"] == [name], ep.name
        assert judged.return_annotation == "Finding", ep.name


def test_lab_cleanup_removes_only_its_own_or_a_dead_makers_namespaces() -> None:
    """Two pytest workers (or sessions) each build labs: one's cleanup must never delete the other's."""
    import os
    import subprocess
    import sys

    from lab.topology import is_leftover, owner_pid

    me = os.getpid()
    neighbour = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert owner_pid(f"pft-{me}-3-h") == me and owner_pid("pft-x-h") is None
        assert is_leftover(f"pft-{me}-3-h")  # this process's own
        assert not is_leftover(f"pft-{neighbour.pid}-0-r")  # a live neighbour's: never ours
    finally:
        neighbour.kill()
        neighbour.wait()
    assert is_leftover(f"pft-{neighbour.pid}-0-r")  # its maker is gone: an interrupted run's leftover
    assert not is_leftover("other-namespace")


# What a check needs only once it runs. `preflight checks`, `explain` and `--help` load every check module to read
# its id and codes, so a module-level import of any of these puts its cost on every one of those commands.
RUN_TIME_ONLY = ("asyncio", "ssl", "cryptography.x509", "cryptography.hazmat", "dns", "httpx", "httpcore",
                 "dukpy", "tomllib")  # fmt: skip


def test_listing_the_checks_and_their_codes_imports_no_network_or_crypto_library() -> None:
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from preflight.engine.registry import all_codes, load_checks\n"
        "loaded = load_checks()\n"
        "assert not loaded.failures, loaded.failures\n"
        "all_codes(loaded.checks)\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    command = [sys.executable, "-c", probe]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=ROOT, check=True)
    loaded = [m for m in done.stdout.split() if m.startswith(RUN_TIME_ONLY)]
    assert loaded == [], "imported at module level by a check or what it imports: use preflight.lazy or a local import"


def test_the_fast_version_answer_is_the_one_click_gives() -> None:
    """`preflight --version` answers before click is imported; its line must stay the version option's."""
    import subprocess
    import sys

    from click.testing import CliRunner

    from preflight.cli import cli

    clicks = CliRunner().invoke(cli, ["--version"]).output
    code = "import sys; sys.argv = ['preflight', '--version']; from preflight.entry import main; main()"
    fast = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert fast.returncode == 0 and fast.stdout == clicks
    probe = "import sys; sys.argv = ['preflight', '--version']\ntry:\n    from preflight.entry import main; main()\n"
    probe += "except SystemExit:\n    print(sorted(m for m in sys.modules if m == 'click' or m.startswith('click.')))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert loaded.stdout.splitlines()[-1] == "[]"
