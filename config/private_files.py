"""Files of the platform's own secrets on its disk (the development PKI, the demo key CA)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def locked_folder(directory: Path) -> Iterator[None]:
    """Hold the folder's lock: two processes starting together (Daphne and the worker)
    make one set of files, not two.
    """
    with (directory / ".lock").open("a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def write_private(path: Path, data: bytes) -> None:
    """Write whole or not at all, readable by the owner only (mkstemp makes 0600 files)."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
