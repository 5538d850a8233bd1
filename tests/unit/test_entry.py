"""Start-up: a zipapp run by a Python it was not built for says so in one line, and a built-in part that does
not load is the installation's fault, not a plugin's."""

from __future__ import annotations

import pytest

from preflight.engine.registry import PluginFailure
from preflight.engine.runner import failure_result, load_failure_fix
from preflight.entry import wrong_python


@pytest.mark.parametrize(
    ("program", "running", "expected"),
    [
        ("connector-preflight-linux-py3.11.pyz", (3, 11, 7), None),
        ("/opt/connector-preflight-linux-py3.11.pyz", (3, 13, 1), "built for Python 3.11 and this is Python 3.13"),
        (r"C:\tools\connector-preflight-win_amd64-py3.12.pyz", (3, 11), "py -3.12 on Windows"),
        ("connector-preflight.pyz", (3, 13), None),  # no version in the name: nothing to compare
        ("/usr/bin/preflight", (3, 13), None),
    ],
)  # fmt: skip
def test_a_zipapp_names_the_python_it_needs(program: str, running: tuple[int, ...], expected: str | None) -> None:
    found = wrong_python(program, running)
    if expected is None:
        assert found is None
    else:
        assert found is not None and expected in found and "\n" not in found


def test_a_built_in_check_that_does_not_load_is_not_called_a_plugin_problem() -> None:
    wrong_build = PluginFailure(
        "tls.handshake", "preflight.checks", "checks.tls:TlsHandshakeCheck",
        "import failed: ModuleNotFoundError: No module named '_cffi_backend'", "",
    )  # fmt: skip
    assert "built for another Python" in load_failure_fix(wrong_build)
    assert "uninstall the plugin" not in failure_result(wrong_build).remediation.lower()
    broken = PluginFailure("x.y", "preflight.checks", "checks.x:X", "import failed: SyntaxError", "")
    assert "reinstall connector-preflight" in load_failure_fix(broken)
    third_party = PluginFailure("acme.z", "preflight.checks", "acme_checks:Z", "import failed: _cffi_backend", "")
    assert load_failure_fix(third_party).startswith("Fix or uninstall the plugin package")
