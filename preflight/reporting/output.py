"""Where rendered reports go: stdout, or files written atomically (temp file, then rename)."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from preflight.reporting.streams import ascii_active

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
        replace_with_retry(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# Windows refuses to replace a file another program holds open (Excel keeps a CSV open; an antivirus scanner
# holds a new file for a moment): ERROR_ACCESS_DENIED 5, ERROR_SHARING_VIOLATION 32, ERROR_LOCK_VIOLATION 33.
LOCKED_WINERRORS = (5, 32, 33)
RETRY_DELAYS_S = (0.05, 0.1, 0.2, 0.4, 0.8, 1.0)  # about 2.5 s in all: a scanner lets go, Excel does not


def replace_with_retry(source: str, target: Path) -> None:
    """os.replace, retried with a bounded backoff while Windows says the target is locked; then one clear error."""
    for delay in (*RETRY_DELAYS_S, None):
        try:
            os.replace(source, target)
            return
        except PermissionError as exc:
            if getattr(exc, "winerror", None) not in LOCKED_WINERRORS:
                raise
            if delay is None:
                raise PermissionError(
                    exc.errno,
                    f"{target} is open in another program (close it, e.g. Excel, and run again): {exc.strerror}",
                ) from exc
            time.sleep(delay)


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
