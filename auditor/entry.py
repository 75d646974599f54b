"""The ``iam-audit`` program: the quick path for ``check``, Typer (:mod:`auditor.cli`) for the rest, and how a
run ends (exit codes, output that cannot be written, no interpreter teardown after a check)."""

from __future__ import annotations

import errno
import io
import sys
from typing import NoReturn

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class _ClosedOutput(io.TextIOBase):
    """Standard output when the process was started without one (``iam-audit check . >&-``): writing fails."""

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, "standard output is closed")

    def isatty(self) -> bool:
        return False


def run() -> None:
    if sys.stdout is None:
        sys.stdout = _ClosedOutput()
    if sys.argv[1:2] == ["check"]:
        import gc

        # A check builds millions of small acyclic objects (parsed documents, expanded action sets); the
        # cyclic collector would walk them again and again for ~20% of the run and free almost nothing.
        # Other commands (fetch talks to AWS for minutes through botocore, which makes cycles) keep it.
        gc.disable()
    try:
        try:
            _run()
        finally:
            sys.stdout.flush()  # a full disk shows here, not as an exception Python ignores at exit
    except BrokenPipeError:
        # The reader went away (`iam-audit check . | head`): stop quietly, as cat and grep do.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(EXIT_FINDINGS)
    except KeyboardInterrupt:
        sys.stderr.write("iam-audit: interrupted\n")
        sys.exit(130)
    except OSError as exc:  # writing the output failed (no space left, an I/O error): one line, no traceback
        where = f": {exc.filename}" if exc.filename else ""
        sys.stderr.write(f"iam-audit: error: {exc.strerror or exc}{where}\n")
        sys.exit(EXIT_USAGE)


def _run() -> None:
    from auditor._fast_cli import run_check  # without Typer: its import costs a fifth of checking one policy

    code = run_check(sys.argv[1:])
    if code is not None:
        if sys.gettrace() is None and sys.getprofile() is None:  # no profiler or coverage that writes at exit
            _exit_without_teardown(code)
        sys.exit(code)
    from auditor.cli import app

    app()


def _exit_without_teardown(code: int) -> NoReturn:
    """End a finished check at once: the interpreter would otherwise free every parsed document and memoised
    set one by one before exiting (half a second after a 160 MB export). Every report file is closed by now."""
    import contextlib
    import os

    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = EXIT_FINDINGS  # the reader went away: as in run()
    except OSError as exc:
        sys.stderr.write(f"iam-audit: error: cannot write to standard output: {exc.strerror or exc}\n")
        code = EXIT_USAGE
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    os._exit(code)
