"""Writing files so that a reader never sees half of one: reports, and the caches under the cache directory."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO


def file_or_stdout(path: Path) -> Path | None:
    """``-o -``: standard output (None), as ``-`` among the inputs is standard input; not a file named ``-``."""
    return None if str(path) == "-" else path


def write_text(path: Path, text: str | Iterable[str]) -> None:
    """Write a report (whole, or in pieces as they are made) to ``path``: replaced whole for a regular file,
    written in place for a device or a pipe.

    A symbolic link keeps pointing at its target, which is replaced; ``/dev/null``, ``/dev/stdout`` and a
    FIFO are written to, never replaced. An existing file keeps its permissions.
    """
    try:
        mode = path.stat().st_mode
    except OSError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        with open(path, "w", encoding="utf-8") as handle:
            _write(handle, text)
        return
    target = path.resolve() if path.is_symlink() else path
    make_folder(target.parent)
    replace_atomically(target, text, stat.S_IMODE(mode) if mode is not None else _default_file_mode())


def make_folder(folder: Path) -> None:
    """Create ``folder`` and its parents; a file standing where a folder is needed is named as such."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:  # mkdir's own message would be "File exists" about the file in the way
        blocking = next((str(p) for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), exc.filename)
        raise NotADirectoryError(errno.ENOTDIR, f"{os.strerror(errno.ENOTDIR)} (a file is in the way)",
                                 blocking) from None


def replace_atomically(path: Path, text: str | Iterable[str], mode: int | None = None) -> None:
    """Write ``text`` to a new file beside ``path`` and rename it over ``path``; on failure nothing is left behind.

    The new file gets ``mode``, or stays readable by its owner only (``None``: the caches).
    """
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:  # about the file asked for, not the temporary name beside it that no one chose
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    try:
        if mode is not None and hasattr(os, "fchmod"):
            os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            _write(handle, text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _write(handle: TextIO, text: str | Iterable[str]) -> None:
    if isinstance(text, str):
        handle.write(text)
    else:
        handle.writelines(text)


def _default_file_mode() -> int:
    """What ``open(path, "w")`` would give a new file under the current umask."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def discard_standard_output() -> None:
    """Send what is still written to standard output nowhere: its reader went away (``| head``), which is the
    reader's choice, not an error, and the rest of the run (reports to files, the exit code) goes on."""
    import sys

    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
