"""connector-preflight: will this host's network let a Microsoft Entra private network connector work?

The public API for check and reporter plugins lives here (docs/plugins.md): `Check`, `Codes`, `CodeDoc`,
`Finding`, `Status`, `Target`, `Plan`, `Context`, `Reporter`, `CheckResult`, `ObservingCheck` (the
observe/judge shape every built-in check has). Built-in checks and reporters are
loaded only through entry points, exactly like third-party ones.
"""

from typing import TYPE_CHECKING, Any

from preflight.check import Check, ObservingCheck, Reporter
from preflight.context import Context
from preflight.model import CheckResult, CodeDoc, Codes, Finding, Status, Target

if TYPE_CHECKING:
    from preflight.engine.plan import Plan

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


if not TYPE_CHECKING:  # hidden from the type checker, which would take it to answer every name: a mistyped
    # `from preflight import x` must be an error there, not Any

    def __getattr__(name: str) -> Any:
        """Plan on first use: it brings the proxy package and its libraries, which `preflight --version` and
        `preflight checks` do not need. (Context is a protocol: preflight/context.py imports nothing heavy.)"""
        if name == "Plan":
            from preflight.engine.plan import Plan

            return Plan
        raise AttributeError(f"module 'preflight' has no attribute {name!r}")
