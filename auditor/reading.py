"""Reading the files a run is given besides its inputs (configuration, accepted findings, baselines, vendor
documents): regular files only, so that a FIFO or a device named by mistake is an error, not a run that waits
forever for a writer."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

NOT_REGULAR = "not a regular file (a FIFO, socket or device): not read"


def read_regular_bytes(path: Path | str) -> bytes:
    """The bytes of a regular file; ``OSError`` (``FileNotFoundError`` when it does not exist) for anything else."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # opening a FIFO would wait for a writer
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OSError(errno.EINVAL, NOT_REGULAR, os.fspath(path))
        return handle.read()


def read_regular_text(path: Path | str) -> str:
    """The UTF-8 text of a regular file, newlines as ``Path.read_text`` gives them (``UnicodeDecodeError`` for other
    bytes); see ``read_regular_bytes``."""
    return read_regular_bytes(path).decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
