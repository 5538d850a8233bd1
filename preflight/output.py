"""Where rendered reports go: stdout, or files written atomically (temp file, then rename)."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from preflight.streams import ascii_active

Payload = str | bytes | Iterable[str]


def _write_payload(handle: BinaryIO, data: Payload) -> None:
    if isinstance(data, bytes):
        handle.write(data)
    elif isinstance(data, str):
        handle.write(data.encode("utf-8"))
    else:  # chunks from a streaming reporter: never the whole report in memory at once
        for chunk in data:
            handle.write(chunk.encode("utf-8"))


def write_atomic(path: Path, data: Payload) -> None:
    """Temp file + rename for regular files; devices and pipes (/dev/null, /dev/stdout, a FIFO) are written
    in place, since renaming over them would replace the device node with a file."""
    if path.exists() and not path.is_file():
        with open(path, "wb") as handle:
            _write_payload(handle, data)
        return
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            _write_payload(handle, data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def unwritable_reason(path: Path) -> str | None:
    """Why a report could not be written to `path`, found before a run spends minutes probing (None: it can).
    Devices and pipes are written in place and only fail when written to."""
    if path.exists() and not path.is_file():
        return None
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=directory)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        return f"cannot create files in {directory}: {exc.strerror or exc}"
    return None


def write_stdout(data: Payload) -> None:
    if isinstance(data, bytes) and not ascii_active():
        sys.stdout.buffer.write(data)
    elif isinstance(data, bytes):
        sys.stdout.write(data.decode("utf-8", "replace"))
    elif isinstance(data, str):
        sys.stdout.write(data)
    else:
        for chunk in data:
            sys.stdout.write(chunk)
    sys.stdout.flush()
