"""connector-preflight: will this host's network let a Microsoft Entra private network connector work?

The public API for check and reporter plugins lives here (docs/plugins.md): `Check`, `Codes`, `CodeDoc`,
`Finding`, `Status`, `Target`, `Plan`, `Context`, `Reporter`, `CheckResult`, `ObservingCheck` (the
observe/judge shape every built-in check has). Built-in checks and reporters are
loaded only through entry points, exactly like third-party ones.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from preflight.check import Check, ObservingCheck, Reporter
    from preflight.context import Context
    from preflight.engine.plan import Plan
    from preflight.model import CheckResult, CodeDoc, Codes, Finding, Status, Target

__version__ = "0.1.0"

__all__ = [
    "Check",
    "CheckResult",
    "CodeDoc",
    "Codes",
    "Context",
    "Finding",
    "ObservingCheck",
    "Plan",
    "Reporter",
    "Status",
    "Target",
    "__version__",
]

# Where each public name lives. They are imported on first use: `preflight --version` and `--help` import this
# package (every submodule does) and need none of them, and Plan brings the proxy package and its libraries.
_PUBLIC = {
    "Check": "preflight.check",
    "ObservingCheck": "preflight.check",
    "Reporter": "preflight.check",
    "Context": "preflight.context",
    "Plan": "preflight.engine.plan",
    "CheckResult": "preflight.model",
    "CodeDoc": "preflight.model",
    "Codes": "preflight.model",
    "Finding": "preflight.model",
    "Status": "preflight.model",
    "Target": "preflight.model",
}

if not TYPE_CHECKING:  # hidden from the type checker, which would take it to answer every name: a mistyped
    # `from preflight import x` must be an error there, not Any

    def __getattr__(name: str) -> Any:
        module = _PUBLIC.get(name)
        if module is None:
            raise AttributeError(f"module 'preflight' has no attribute {name!r}")
        import importlib

        value = getattr(importlib.import_module(module), name)
        globals()[name] = value  # once: later lookups are plain attribute reads
        return value
