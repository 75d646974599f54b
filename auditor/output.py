"""Writing report files: atomically for regular files, in place for devices and pipes."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader never sees half of it.

    A regular file is written beside itself and renamed over (a symbolic link keeps pointing at it);
    a device or a pipe (``/dev/null``, ``/dev/stdout``, a FIFO) is written in place, never replaced.
    """
    try:
        mode = path.stat().st_mode
    except OSError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        return
    target = path.resolve() if path.is_symlink() else path
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
