"""A module imported on its first attribute access.

Commands that only read what the checks declare (`explain`, `checks`, `--help`) import every check module; those
modules need asyncio, ssl and cryptography only once a check runs. A module written

    if TYPE_CHECKING:
        from cryptography import x509
    else:
        x509 = lazy.module("cryptography.x509")

is typed as the real module and costs nothing until `x509.<name>` is first read.
"""

from __future__ import annotations

import importlib
import types
from typing import Any


class _LazyModule(types.ModuleType):
    def __getattr__(self, attr: str) -> Any:
        real = importlib.import_module(self.__name__)
        value = getattr(real, attr)
        setattr(self, attr, value)  # the next read of the same name is a plain attribute lookup
        return value

    def __dir__(self) -> list[str]:
        return dir(importlib.import_module(self.__name__))


def module(name: str) -> types.ModuleType:
    """A stand-in for `import name` that imports it on first use (an already imported module is returned as is)."""
    import sys

    return sys.modules.get(name) or _LazyModule(name)
