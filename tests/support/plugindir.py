"""A third-party plugin made on the fly: a module plus a *.dist-info with entry_points.txt in a folder put on
PYTHONPATH. importlib.metadata finds it exactly as it finds a pip-installed distribution."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def make_plugin(folder: Path, module: str, source: str, entry_points: Mapping[str, Mapping[str, str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{module}.py").write_text(source)
    dist = folder / f"{module.replace('_', '-')}-0.1.dist-info"
    dist.mkdir(exist_ok=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: 0.1\n")
    lines = []
    for group, entries in entry_points.items():
        lines.append(f"[{group}]")
        lines.extend(f"{name} = {target}" for name, target in entries.items())
    (dist / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return folder
