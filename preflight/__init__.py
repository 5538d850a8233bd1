"""connector-preflight: will this host's network let a Microsoft Entra private network connector work?

The public API for check and reporter plugins lives here; built-in checks and reporters are loaded only through
entry points, exactly like third-party ones.
"""

from preflight.check import Check, CodeDoc, Codes, Reporter
from preflight.model import CheckResult, Finding, Status, Target

__version__ = "0.1.0"

__all__ = ["Check", "CheckResult", "CodeDoc", "Codes", "Finding", "Reporter", "Status", "Target", "__version__"]
