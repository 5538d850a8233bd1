"""How many generated cases each property test ran, printed at the end of the pytest run (conftest)."""

from __future__ import annotations

COUNTS: dict[str, int] = {}


def count(name: str) -> None:
    COUNTS[name] = COUNTS.get(name, 0) + 1
