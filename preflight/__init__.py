"""connector-preflight: will this host's network let a Microsoft Entra private network connector work?

The public API for check and reporter plugins lives here (docs/plugins.md): `Check`, `Codes`, `CodeDoc`,
`Finding`, `Status`, `Target`, `Plan`, `Context`, `Reporter`, `CheckResult`. Built-in checks and reporters are
loaded only through entry points, exactly like third-party ones.
"""

from typing import TYPE_CHECKING, Any

from preflight.check import Check, CodeDoc, Codes, Reporter
from preflight.model import CheckResult, Finding, Status, Target

if TYPE_CHECKING:
    from preflight.engine.context import RunContext as Context
    from preflight.engine.plan import Plan

__version__ = "0.1.0"

__all__ = [
    "Check",
    "CheckResult",
    "CodeDoc",
    "Codes",
    "Context",
    "Finding",
    "Plan",
    "Reporter",
    "Status",
    "Target",
    "__version__",
]


def __getattr__(name: str) -> Any:
    """Plan and Context on first use: they bring the probes and their libraries, which `preflight --version` and
    `preflight checks` do not need."""
    if name == "Plan":
        from preflight.engine.plan import Plan

        return Plan
    if name == "Context":
        from preflight.engine.context import RunContext

        return RunContext
    raise AttributeError(f"module 'preflight' has no attribute {name!r}")
