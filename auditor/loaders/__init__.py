"""Turn the paths a user gave into the normal form.

Every file ends in exactly one of: policies (and principals), a located problem
(``malformed``), a skip with a reason (plainly not a policy), or an input error
(unreadable). Nothing is dropped silently.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fnmatch
import os
import re
import stat
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from auditor.loaders.parse import (
    ParsedText,
    ParseError,
    decode_bytes,
    parse_json,
    parse_yaml_stream,
    replace_surrogates,
)
from auditor.loaders.result import InlineSuppression, LoadResult
from auditor.model import (
    SID_IGNORE_MARKER,
    InputError,
    Policy,
    PolicyKind,
    Problem,
    Statement,
    StatementRef,
    Subject,
    is_template_value,
    sid_ignored_rules,
)
from auditor.normalize import DEFAULT_MAX_STATEMENTS, looks_like_policy, normalize_policy
from auditor.source import Source

POLICY_SUFFIXES = (".json", ".yaml", ".yml", ".template", ".tf")
TERRAFORM_SUFFIX = ".tf"
TERRAFORM_JSON_SUFFIX = ".tf.json"
"""Terraform configuration in JSON syntax (found by ``.json``), read as Terraform when the file is named so."""
STDIN = "-"
"""The path that stands for standard input (``aws iam get-account-authorization-details | iam-audit check -``)."""
SKIPPED_DIRECTORIES = frozenset(
    {".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".nox", ".mypy_cache",
     ".ruff_cache", ".pytest_cache"}
)
"""Folders that hold no policy of the project: passed over without a word."""
BUILD_OUTPUT_DIRECTORIES = {
    ".terraform": "modules and providers downloaded by terraform init",
    ".aws-sam": "the output of sam build, a copy of the template",
}
"""Folders of generated copies and downloads: not walked, and listed as skipped (named on the command line, walked)."""
CDK_OUTPUT_DIRECTORY = "cdk.out"
"""What ``cdk synth`` writes: its templates (``*.template.json``) are the only documents of a CDK app's policies,
so they are walked; its assets (``asset.*``: function code, Docker contexts) and manifests are not."""
CDK_TEMPLATE_SUFFIX = ".template.json"
DEFAULT_MAX_FILE_BYTES = 200 * 1024 * 1024
DEFAULT_MAX_YAML_BYTES = 20 * 1024 * 1024
"""YAML goes through a pure-Python parser (about 0.2-0.5 MB/s); CloudFormation accepts templates of 1 MB."""


@dataclass(frozen=True, slots=True)
class LoadOptions:
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_yaml_bytes: int = DEFAULT_MAX_YAML_BYTES
    max_nesting: int = 200
    max_statements: int = DEFAULT_MAX_STATEMENTS
    kind: PolicyKind | None = None
    """Force the kind of standalone policy files (otherwise inferred)."""
    boundary: bool = False
    """Standalone policy files are permissions boundaries (identity policies that grant nothing: ``--kind
    boundary``)."""
    include_root: str | None = None
    """The absolute folder ``include`` globs are relative to (the configuration file's, when they come from it).
    None (globs of the command line): the working directory, as ruff anchors them; a glob that matches no file of
    a folder walked that way, but does relative to that folder, keeps that meaning (``check pol --exclude 'sub/*'``
    as before the globs were anchored)."""
    exclude_root: str | None = None
    """The same for ``exclude``."""
    kinds: tuple[tuple[str, str], ...] = ()
    """(glob, kind name) of the configuration's ``kinds`` table: the kind of the standalone policy files a glob
    matches (relative to ``kinds_root``), the first match winning, when ``kind`` does not set every file's."""
    kinds_root: str | None = None

    def for_file(self, path: Path) -> LoadOptions:
        """These options with the kind that ``kinds`` gives ``path``'s standalone policies, if one does."""
        if self.kind is not None or self.boundary or not self.kinds or os.fspath(path) == STDIN:
            return self
        forms = glob_forms(path, self.kinds_root, display_path(path))
        for pattern, name in self.kinds:
            if forms_match(forms, pattern):
                boundary = name == "boundary"
                return dataclasses.replace(self, kind=PolicyKind.IDENTITY if boundary else PolicyKind(name),
                                           boundary=boundary)
        return self


def display_path(path: Path) -> str:
    """How a file is named in reports: relative to the working directory when below it, always printable."""
    text = os.fspath(path)
    if not os.path.isabs(text):
        normal = os.path.normpath(text)
        if not normal.startswith(".."):
            return replace_surrogates(normal)  # already relative to the working directory
    folder, name = os.path.split(text)
    try:
        folder_relative = _relative_folder(folder, os.getcwd()) if folder and name not in ("", ".", "..") else ".."
        if folder_relative == "..":  # the working directory itself, or a folder beside it
            relative = os.path.relpath(path)
        else:
            relative = name if folder_relative == "." else os.path.join(folder_relative, name)
    except (ValueError, OSError):
        relative = str(path)
    return replace_surrogates(str(path) if relative.startswith("..") else relative)


@lru_cache(maxsize=256)
def _relative_folder(folder: str, working_directory: str) -> str:
    """``os.path.relpath`` of a folder, once per folder: the files of one folder share it."""
    return os.path.relpath(folder, working_directory)


def discover(paths: Iterable[str], options: LoadOptions, result: LoadResult) -> list[Path]:
    """Files to read, in a stable order, each once; what can't be walked is reported."""
    seen: set[str] = set()
    files: list[Path] = []
    real_folders: dict[str, str] = {}

    def resolved(path: Path) -> str:
        """``path.resolve()``, resolving each folder once: only a symbolic link needs resolving by itself."""
        folder, name = os.path.split(os.fspath(path))
        if name in ("", ".", "..") or os.path.islink(path):
            return str(path.resolve())
        real = real_folders.get(folder)
        if real is None:
            real = real_folders[folder] = str(Path(folder or os.curdir).resolve())
        return os.path.join(real, name)

    def add(path: Path) -> None:
        try:
            key = resolved(path)
        except (OSError, RuntimeError):
            key = str(path.absolute())
        if key not in seen:
            seen.add(key)
            files.append(path)

    for raw in paths:
        path = Path(raw)
        if raw == STDIN:
            if STDIN not in seen:
                seen.add(STDIN)
                files.append(path)
            continue
        if not raw:  # Path("") is the current folder: an unset variable would check whatever the folder holds
            result.errors.append(InputError('""', "an empty path (a variable that is not set?): name a file or a "
                                                  "folder, or - for standard input"))
            continue
        if not os.path.lexists(path):
            result.errors.append(InputError(replace_surrogates(raw), "no such file or directory"))
            continue
        if path.is_dir():
            for file in _walk(path, options, result):
                add(file)
        else:
            add(path)
    return files


def _walk(root: Path, options: LoadOptions, result: LoadResult) -> list[Path]:
    """The files to read below ``root``; a folder that yields none is said so in ``not checked`` (as ruff says "No
    files found"), so that a run that checked nothing never passes silently."""
    found = list(_files_below(root, result))
    if not (options.include or options.exclude):
        chosen = [path for path in found if path.name.lower().endswith(POLICY_SUFFIXES)]
        if not chosen:
            _none_found(root, f"none of its {_count(len(found))} ends in {_SUFFIXES_SHOWN}" if found else "", result)
        return chosen
    walked = {path: os.path.relpath(path, root) for path in found}
    chosen = found
    if options.include:
        chosen = _matching(chosen, options.include, options.include_root, walked)
    else:
        chosen = [path for path in chosen if path.name.lower().endswith(POLICY_SUFFIXES)]
    excluded = set(_matching(chosen, options.exclude, options.exclude_root, walked)) if options.exclude else set()
    chosen = [path for path in chosen if path not in excluded]
    if not chosen:
        globs = "; ".join(f"{name} {', '.join(map(repr, patterns))}"
                          for name, patterns in (("include", options.include), ("exclude", options.exclude))
                          if patterns)
        _none_found(root, f"the include and exclude globs left out all {_count(len(found))}: {globs}" if found
                    else "", result)
    return chosen


def _none_found(root: Path, why: str, result: LoadResult) -> None:
    result.not_checked.append(f"{display_path(root)}: no files found ({why or 'the folder holds no file'})")


_SUFFIXES_SHOWN = ", ".join(POLICY_SUFFIXES[:-1]) + " or " + POLICY_SUFFIXES[-1]


def _count(files: int) -> str:
    return f"{files} file{'' if files == 1 else 's'}"


def _files_below(root: Path, result: LoadResult) -> Iterator[Path]:
    """Every file below ``root`` that may be read, in a stable order: folders of other tools are passed over,
    build output is listed as skipped, and a symlink loop is walked once."""
    visited: set[tuple[int, int]] = set()

    def on_error(error: OSError) -> None:
        result.errors.append(InputError(display_path(Path(error.filename or root)), f"cannot read: {error.strerror}"))

    for directory, dirnames, filenames in os.walk(root, onerror=on_error, followlinks=True):
        try:
            info = os.stat(directory)
            identity = (info.st_dev, info.st_ino)
        except OSError:
            continue
        if identity in visited:
            result.skipped.append((display_path(Path(directory)), "symlink loop: folder already visited"))
            dirnames[:] = []
            continue
        visited.add(identity)
        in_cdk_output = CDK_OUTPUT_DIRECTORY in Path(directory).parts
        walked = []
        for name in sorted(dirnames):
            if name in SKIPPED_DIRECTORIES or (Path(directory) / name / "pyvenv.cfg").exists():
                continue
            if name in BUILD_OUTPUT_DIRECTORIES:
                result.skipped.append((display_path(Path(directory) / name), f"folder not walked: "
                                       f"{BUILD_OUTPUT_DIRECTORIES[name]} (name it as a path to check it)"))
                continue
            if not (in_cdk_output and name.startswith("asset.")):
                walked.append(name)
        dirnames[:] = walked
        for name in sorted(filenames):
            if in_cdk_output and not name.endswith(CDK_TEMPLATE_SUFFIX):
                continue
            yield Path(os.path.join(directory, name))


def _matching(paths: list[Path], patterns: tuple[str, ...], folder: str | None, walked: dict[Path, str]
              ) -> list[Path]:
    """The paths that one of ``patterns`` matches, each path taken relative to ``folder`` when it lies inside it
    (else relative to the folder walked), or absolute for an absolute pattern. With no ``folder`` (globs of the
    command line) the working directory is the anchor: a path is also taken as findings show it and relative to the
    working directory even outside it (``../other/admin.json``), and a pattern that matches none of ``paths`` so is
    matched relative to the folder walked."""
    forms = {path: glob_forms(path, folder, walked[path]) for path in paths}
    matched: set[Path] = set()
    for pattern in patterns:
        hits = {path for path in paths if forms_match(forms[path], pattern)}
        if not hits and folder is None:
            hits = {path for path in paths if _glob_match(walked[path], pattern)}
        matched |= hits
    return [path for path in paths if path in matched]


def glob_forms(path: Path, folder: str | None, walked: str) -> tuple[set[str], str]:
    """The spellings of ``path`` a glob is matched against: relative to ``folder`` (None: the working directory)
    when it lies inside it, else ``walked`` (relative to the folder walked); with no ``folder`` (globs of the command
    line) also as findings show it (:func:`display_path`) and relative to the working directory, ``../`` and all.
    Then the absolute path, which only an absolute pattern is matched against (``*/admin.json`` keeps leaving
    ``admin.json`` of the working directory alone)."""
    forms = {_relative_to(path, folder if folder is not None else os.getcwd(), walked)}
    if folder is None:
        forms.add(display_path(path))
        with contextlib.suppress(ValueError):  # on another drive (Windows)
            forms.add(os.path.relpath(path))
    return forms, os.path.abspath(path)


def forms_match(forms: tuple[set[str], str], pattern: str) -> bool:
    """Whether ``pattern`` matches one of the :func:`glob_forms` of a path."""
    relative, absolute = forms
    if os.path.isabs(pattern):
        return _glob_match(absolute, pattern)
    return any(_glob_match(form, pattern) for form in relative)


def _relative_to(path: Path, folder: str, walked: str) -> str:
    """``path`` relative to ``folder`` when it lies inside it, else ``walked`` (relative to the walked folder)."""
    relative = os.path.relpath(os.path.abspath(path), folder)
    return walked if relative == ".." or relative.startswith(".." + os.sep) else relative


def _glob_match(relative: str, pattern: str) -> bool:
    relative = relative.replace(os.sep, "/")
    if fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(os.path.basename(relative), pattern):
        return True
    return pattern.startswith("**/") and fnmatch.fnmatch(relative, pattern[3:])


def load_paths(paths: Iterable[str], options: LoadOptions | None = None) -> LoadResult:
    options = options or LoadOptions()
    result = LoadResult()
    for path in discover(paths, options, result):
        result.extend(load_file(path, options))
    result.adopt_related_principals()
    return result


def load_file(path: Path, options: LoadOptions | None = None,
              on_read: Callable[[str, os.stat_result, bytes], None] | None = None) -> LoadResult:
    """Load one file (``-``: standard input); ``on_read`` is given a file's display path, its ``stat`` (taken
    before reading) and the bytes read."""
    options = (options or LoadOptions()).for_file(path)
    result = LoadResult()
    info: os.stat_result | None = None
    if os.fspath(path) == STDIN:
        shown, what = STDIN, "standard input"
        try:
            raw = standard_input_bytes(options.max_file_bytes)
        except OSError as exc:
            result.errors.append(InputError(shown, f"cannot read: {exc.strerror or exc}"))
            return result
    else:
        shown, what = display_path(path), "file"
        try:
            info = os.stat(path)
            if not stat.S_ISREG(info.st_mode):
                result.errors.append(InputError(shown, "not a regular file (a FIFO, socket or device): not read"))
                return result
            if info.st_size > options.max_file_bytes:
                result.errors.append(InputError(
                    shown, f"file is {info.st_size:,} bytes, over the limit of {options.max_file_bytes:,} "
                           "(raise it with --max-file-size)"))
                return result
            with open(path, "rb") as handle:
                raw = handle.read(options.max_file_bytes + 1)
        except OSError as exc:
            result.errors.append(InputError(shown, f"cannot read: {exc.strerror or exc}"))
            return result
    if len(raw) > options.max_file_bytes:  # standard input, or a file that grew since stat
        result.errors.append(InputError(shown, f"{what} is over the limit of {options.max_file_bytes:,} bytes "
                                               "(raise it with --max-file-size)"))
        return result
    if on_read is not None and info is not None:
        on_read(shown, info, raw)
    result.files = 1
    try:
        text = decode_bytes(raw)
    except ParseError as exc:  # bytes that are no text: not JSON, YAML or HCL, a malformed file (IAM100), located
        result.document_problems.append((Source(shown), Problem("syntax-error", exc.message, "", line=exc.line or 1,
                                                                column=exc.column or 1)))
        return result
    del raw
    module = terraform_module(path, shown, text, options) if shown.lower().endswith(TERRAFORM_SUFFIX) else None
    return load_text(text, shown, options, result, module)


TERRAFORM_OVERRIDE = re.compile(r"(?:^|_)override\.tf$", re.IGNORECASE)
"""``override.tf``, ``*_override.tf``: Terraform merges them into the blocks of the other files; read alone."""


def in_terraform_module(path: str | Path) -> bool:
    """Whether the file is a ``.tf`` file read with others of its folder (see ``terraform_module``)."""
    name = os.path.basename(path)
    if not name.lower().endswith(TERRAFORM_SUFFIX) or TERRAFORM_OVERRIDE.search(name):
        return False
    try:
        return sum(entry.name.lower().endswith(TERRAFORM_SUFFIX) and not TERRAFORM_OVERRIDE.search(entry.name)
                   for entry in os.scandir(os.path.dirname(path) or ".")) > 1
    except OSError:
        return False


def terraform_module(path: Path, shown: str, text: str, options: LoadOptions) -> list[tuple[str, str]] | None:
    """The ``.tf`` files of the folder of ``path`` (a Terraform module), as (display path, text), when it has others
    than ``path``: Terraform reads them as one configuration. A file that cannot be read, or is over the size limit,
    is left out (its own load says why)."""
    if TERRAFORM_OVERRIDE.search(path.name):
        return None
    folder = path.parent
    try:
        names = sorted(entry.name for entry in os.scandir(folder or ".")
                       if entry.name.lower().endswith(TERRAFORM_SUFFIX) and not TERRAFORM_OVERRIDE.search(entry.name)
                       and entry.is_file())
    except OSError:
        return None
    files: list[tuple[str, str]] = []
    for name in names:
        if name == path.name:
            files.append((shown, text))
            continue
        sibling = folder / name
        try:
            info = os.stat(sibling)
            if info.st_size > options.max_yaml_bytes:
                continue
            files.append((display_path(sibling), _sibling_text(sibling, info, options.max_yaml_bytes)))
        except (OSError, ParseError):
            continue
    return files if len(files) > 1 else None


_SIBLINGS_KEPT = 4096
_sibling_texts: dict[str, tuple[tuple[int, int, int], str]] = {}
"""The texts of module files read lately, by path, with the (size, mtime, ctime) they were read at: each file of
a module of N files reads the N - 1 others."""


def _sibling_text(path: Path, info: os.stat_result, limit: int) -> str:
    key, signature = os.fspath(path), (info.st_size, info.st_mtime_ns, info.st_ctime_ns)
    found = _sibling_texts.get(key)
    if found is not None and found[0] == signature:
        return found[1]
    with open(path, "rb") as handle:
        text = decode_bytes(handle.read(limit + 1))
    if len(_sibling_texts) >= _SIBLINGS_KEPT:
        _sibling_texts.clear()
    _sibling_texts[key] = (signature, text)
    return text


_standard_input: list[bytes] = []


def standard_input_bytes(limit: int) -> bytes:
    """Standard input, read once (up to ``limit + 1`` bytes) however often it is asked for."""
    if not _standard_input:
        stream = sys.stdin.buffer if sys.stdin is not None and hasattr(sys.stdin, "buffer") else None
        if stream is None:
            raise OSError(errno.EBADF, "standard input is closed")
        _standard_input.append(stream.read(limit + 1))
    return _standard_input[0]


def is_yaml_name(shown: str, text: str) -> bool:
    if shown == STDIN:  # no name to go by: JSON starts with a bracket, and nothing at all is an empty JSON file
        start = text.lstrip()
        return bool(start) and not start.startswith(("{", "["))
    lowered = shown.lower()
    return lowered.endswith((".yaml", ".yml")) or (lowered.endswith(".template") and not text.lstrip().startswith("{"))


def load_text(text: str, shown: str, options: LoadOptions, result: LoadResult | None = None,
              terraform_module: Sequence[tuple[str, str]] | None = None) -> LoadResult:
    """Load one file's text; ``terraform_module``: the files of its Terraform module (see ``terraform_module``)."""
    result = result if result is not None else LoadResult(files=1)
    text = replace_surrogates(text)  # only text not decoded from a file can hold them; escapes are handled later
    if shown != STDIN and shown.lower().endswith(TERRAFORM_SUFFIX):
        from auditor.loaders.terraform_hcl import load_terraform_hcl, load_terraform_module_file

        if len(text) > options.max_yaml_bytes:  # the same pure-Python parsing speed as YAML's, and its limit
            result.document_problems.append((Source(shown, text), Problem(
                "syntax-error", f"Terraform file of {len(text):,} characters is over the limit of "
                f"{options.max_yaml_bytes:,} for YAML and HCL (raise it with --max-yaml-size)", "", line=1, column=1)))
            return result
        if terraform_module:
            module = [(name, text if name == shown else replace_surrogates(other)) for name, other in terraform_module]
            loaded = load_terraform_module_file(shown, module, options.max_nesting, options.max_statements)
        else:
            loaded = load_terraform_hcl(text, shown, max_nesting=options.max_nesting,
                                        max_statements=options.max_statements)
        return _merged(loaded, shown, result)
    is_yaml = is_yaml_name(shown, text)
    documents: list[ParsedText | ParseError]
    try:
        if is_yaml and len(text) > options.max_yaml_bytes:
            raise ParseError(f"YAML file of {len(text):,} characters is over the YAML limit of "
                             f"{options.max_yaml_bytes:,} (raise it with --max-yaml-size, or convert it to JSON)")
        documents = parse_yaml_stream(text, shown, options.max_nesting) if is_yaml else \
            [parse_json(text, shown, options.max_nesting)]
    except ParseError as exc:
        documents = [exc]
    if len(documents) > 1:
        return _route_documents(documents, text, shown, options, result)
    if isinstance(documents[0], ParseError):
        kind = DOCUMENT_KINDS.get(Path(shown).suffix.lower()) if shown != STDIN else None
        if kind is not None:  # a vendor's page named on the command line: the policies are in its text
            result.skipped.append((shown, f"a {kind} document, not a policy: `iam-audit baseline extract {shown}` "
                                          "finds the policies in it"))
            return result
        result.document_problems.append(_syntax_error(documents[0], text, shown))
        return result
    return route(documents[0], options, result)


DOCUMENT_KINDS = {".md": "Markdown", ".markdown": "Markdown", ".html": "HTML", ".htm": "HTML", ".txt": "text",
                   ".rst": "reStructuredText"}
"""Suffixes of documents that hold policies in their text (what ``baseline extract`` reads), by kind."""


def _syntax_error(error: ParseError, text: str, shown: str, note: str = "") -> tuple[Source, Problem]:
    line, column = (error.line, error.column) if error.line else (1, 1)
    return Source(shown, text), Problem("syntax-error", error.message + note, "", line=line, column=column)


def _route_documents(documents: list[ParsedText | ParseError], text: str, shown: str, options: LoadOptions,
                     result: LoadResult) -> LoadResult:
    """A YAML stream of several documents (Kubernetes manifests hold several): each is checked as a file of its
    own would be; the file is listed as skipped, once, for those that are not policies or templates."""
    loaded = LoadResult()
    passed_over: list[tuple[int, str]] = []
    for number, document in enumerate(documents, 1):
        if isinstance(document, ParseError):
            loaded.document_problems.append(
                _syntax_error(document, text, shown, f" (YAML document {number} of {len(documents)})"))
            continue
        one = route(document, options, LoadResult())
        if one.skipped and not (one.policies or one.principals):
            passed_over.extend((number, reason) for _, reason in one.skipped[:1])
            one.skipped.clear()
        loaded.extend(one)
    if passed_over:
        first, reason = passed_over[0]
        if len(passed_over) == len(documents):
            loaded.skipped.append(
                (shown, f"none of its {len(documents)} YAML documents is an IAM policy or template "
                        f"(document {first}: {reason})"))
        elif len(passed_over) == 1:
            loaded.skipped.append((shown, f"YAML document {first} of {len(documents)}: {reason}"))
        else:
            numbers = ", ".join(str(number) for number, _ in passed_over)
            loaded.skipped.append(
                (shown, f"YAML documents {numbers} of {len(documents)} (document {first}: {reason})"))
    loaded.files = 1
    result.files = 0
    result.extend(loaded)
    return result


def route(parsed: ParsedText, options: LoadOptions, result: LoadResult) -> LoadResult:
    from auditor.loaders.cloudformation import is_cloudformation, load_cloudformation
    from auditor.loaders.export import (
        described_roles,
        export_pages,
        is_export,
        load_described_roles,
        load_export,
        load_export_pages,
    )
    from auditor.loaders.terraform import is_terraform_plan, load_terraform

    data, source = parsed.data, parsed.source
    if parsed.invalid_characters is not None:
        line, column = parsed.invalid_characters
        result.document_problems.append(
            (source, Problem("syntax-error", "an escape such as \\ud800 stands for half of a UTF-16 surrogate pair, "
                             "not a character: IAM rejects the document (checked here with U+FFFD in its place)",
                             "", line=line, column=column))
        )
    # the pointer and key come from the text, where a "\ud800" escape is still half a surrogate pair
    duplicates = [(source, Problem("duplicate-key", f"key {key!r} appears more than once in the same object; "
                                   "IAM rejects the document, other parsers keep only the last value",
                                   replace_surrogates(pointer), {"key": replace_surrogates(key)},
                                   line=line, column=column))
                  for pointer, key, (line, column) in parsed.duplicate_keys]
    limits = {"max_nesting": options.max_nesting, "max_statements": options.max_statements}
    reader: Callable[[], LoadResult] | None = None
    if is_export(data):
        reader, what = (lambda: load_export(data, source, **limits)), "an account export"
    elif pages := export_pages(data):
        reader, what = (lambda: load_export_pages(pages, source, **limits)), "pages of an account export"
    elif is_cloudformation(data):
        reader, what = (lambda: load_cloudformation(data, source, max_statements=options.max_statements)), \
            "a CloudFormation template"
    elif is_terraform_plan(data):
        reader, what = (lambda: load_terraform(data, source, **limits)), "a Terraform plan"
    elif source.display_path != STDIN and source.display_path.lower().endswith(TERRAFORM_JSON_SUFFIX):
        from auditor.loaders.terraform_json import load_terraform_json

        reader, what = (lambda: load_terraform_json(data, source, **limits)), "Terraform JSON configuration"
    elif roles := described_roles(data):
        reader, what = (lambda: load_described_roles(roles, source, **limits)), "get-role output"
    if reader is not None:
        try:
            loaded = reader()
        except Exception as exc:  # a defect of one reader must not stop the checks of the other files
            result.errors.append(InputError(
                source.display_path, f"not checked: reading it as {what} failed inside iam-audit "
                f"({type(exc).__name__}: {exc}); this is a defect of iam-audit, please report it with the file"))
            result.document_problems.extend(duplicates)
            result.files = 1
            return result
        result.document_problems.extend(_in_policies(duplicates, loaded.policies))
    else:
        document, pointer = _unwrap(data)
        if _is_statement_list(document):
            result.document_problems.extend(duplicates)
            line, column = source.locate(pointer)
            result.document_problems.append((source, Problem(
                "not-a-policy", f"a list of {len(document)} statement{'s' if len(document) > 1 else ''} is not a "
                'policy: wrap it as {"Version": "2012-10-17", "Statement": [ ... ]}', pointer,
                line=line, column=column)))
            result.files = 1
            return result
        if document is None or not looks_like_policy(document):
            result.skipped.append((source.display_path, _not_a_policy_reason(data)))
            result.files = 1
            return result
        result.document_problems.extend(duplicates)
        kind = options.kind or infer_kind(document)
        loaded = LoadResult(files=1)
        policy = normalize_policy(document, kind, source, pointer, subject=None, label=None,
                                  max_statements=options.max_statements)
        loaded.policies.append(dataclasses.replace(policy, boundary_only=True) if options.boundary else policy)
    return _merged(loaded, source.display_path, result)


def _in_policies(duplicates: list[tuple[Source, Problem]], policies: Iterable[Policy]
                 ) -> list[tuple[Source, Problem]]:
    """The duplicate keys inside a policy document that was read: IAM never sees the rest of a template, plan or
    export (a template's Outputs), nor a file that holds no policy at all."""
    pointers = [policy.pointer for policy in policies]
    return [(source, problem) for source, problem in duplicates
            if any(problem.pointer == pointer or problem.pointer.startswith(pointer + "/") for pointer in pointers)]


def _merged(loaded: LoadResult, shown: str, result: LoadResult) -> LoadResult:
    """``result`` with one file's ``loaded`` added, and a note for every policy cut at --max-statements."""
    for policy in loaded.policies:
        for problem in policy.problems:
            if problem.rule == "policy-size" and "limit" in problem.details:
                where = shown + (f" ({policy.label})" if policy.label else "")
                loaded.not_checked.append(
                    f"{where}: statements after the first {problem.details['limit']:,} of "
                    f"{problem.details['statements']:,} (over --max-statements)"
                )
    loaded.suppressions[:] = [_judged(entry, loaded, shown) for entry in loaded.suppressions]
    loaded.suppressions.extend(_sid_suppressions(loaded.policies))
    loaded.files = 1
    result.files = 0
    result.extend(loaded)
    return result


def _sid_suppressions(policies: Iterable[Policy]) -> list[InlineSuppression]:
    """One entry per rule id of each ``IamAuditIgnore`` marker ending a statement's Sid, located at the Sid, so that a
    marker that hides nothing can be reported (a statement several policies share, once)."""
    found: dict[tuple[str, tuple[int, int], str, str], InlineSuppression] = {}
    for policy in policies:
        for statement in policy.statements:
            sid = statement.sid
            if not sid or SID_MARKER_TEXT not in sid.lower():
                continue
            where = policy.location(f"{statement.pointer}/Sid")
            subject = policy.subject.to_json(policy.label) if policy.subject is not None else None
            reference = dataclasses.asdict(StatementRef.of(statement, policy.statements))
            lines = policy.source.document_lines()
            for rule in sorted(sid_ignored_rules(sid)) or [""]:
                found.setdefault((where.path, lines, statement.pointer, rule), InlineSuppression(
                    where.path, statement.pointer, rule, f"Sid {sid} ({SID_IGNORE_MARKER})", where.line,
                    where.column, sid, not _undecided(statement), subject, reference, lines))
    return list(found.values())


def _undecided(statement: Statement) -> bool:
    """Whether an element the rules judge is known only at deployment (``Action: !Ref Actions``)."""
    values = (*(statement.actions or ()), *(statement.not_actions or ()), *(statement.resources or ()),
              *(statement.not_resources or ()), *(p.value for p in statement.principals or ()))
    return any(is_template_value(value) for value in values)


def _judged(entry: InlineSuppression, loaded: LoadResult, shown: str) -> InlineSuppression:
    """A resource's suppression (CloudFormation Metadata) can be judged when a policy under the resource was read,
    none of its statements is known only at deployment, and nothing of the resource is listed as not checked."""
    if entry.sid is not None:
        return entry
    covered = [policy for policy in loaded.policies if policy.source.document_lines() == entry.lines
               and (policy.pointer == entry.pointer or policy.pointer.startswith(entry.pointer + "/"))]
    # the resource by its logical id, or the role AWS SAM makes for a function (WorkerRole of Worker)
    name = re.compile(rf"\b{re.escape(entry.pointer.rsplit('/', 1)[-1])}(?:Role)?\b")
    judged = bool(covered) and not any(_undecided(s) for policy in covered for s in policy.statements) and not any(
        item.startswith(f"{shown}: ") and name.search(item) for item in loaded.not_checked)
    return entry if judged else dataclasses.replace(entry, judged=False)


SID_MARKER_TEXT = SID_IGNORE_MARKER.lower()


def _unwrap(data: Any) -> tuple[Any, str]:
    """Accept the outputs of get-policy-version / get-role-policy as well as bare documents."""
    if isinstance(data, dict):
        version = data.get("PolicyVersion")
        if isinstance(version, dict) and "Document" in version:
            return version["Document"], "/PolicyVersion/Document"
        if "PolicyDocument" in data and "Statement" not in data:
            return data["PolicyDocument"], "/PolicyDocument"
    return data, ""


_STATEMENT_ELEMENTS = frozenset({"Effect", "Action", "NotAction", "Resource", "NotResource", "Principal",
                                 "NotPrincipal"})


def _is_statement_list(document: Any) -> bool:
    """A list whose every item looks like a statement (an Effect and what it applies to): a policy without its
    wrapper, which IAM rejects, rather than some other file."""
    return isinstance(document, list) and bool(document) and all(
        isinstance(item, dict) and "Effect" in item and len(_STATEMENT_ELEMENTS.intersection(item)) >= 2
        for item in document)


def _not_a_policy_reason(data: Any) -> str:
    if isinstance(data, dict) and isinstance(data.get("schema"), str) and data["schema"].startswith("iam-audit"):
        return f"not an IAM policy: a file iam-audit wrote (schema {data['schema']})"  # --write-accepted, a report
    if isinstance(data, dict):
        keys = ", ".join(key if len(key) <= 40 else key[:39] + "…" for key in list(data)[:3])
        return f"not an IAM policy (top-level keys: {keys})" if keys else "not an IAM policy (empty object)"
    from auditor.normalize import type_name

    return f"not an IAM policy (the document is {type_name(data)})"


def infer_kind(document: dict[str, Any]) -> PolicyKind:
    """A standalone document's kind, from what its statements name."""
    statements = document.get("Statement")
    items = statements if isinstance(statements, list) else [statements]
    has_principal = False
    assume_only = True
    for item in items:
        if not isinstance(item, dict):
            continue
        if "Principal" in item or "NotPrincipal" in item:
            has_principal = True
        actions = item.get("Action", item.get("NotAction", []))
        actions = [actions] if isinstance(actions, str) else actions if isinstance(actions, list) else []
        # an action a template decides (actions = var.trusted_role_actions) may well be sts:AssumeRole
        if not actions or not all(isinstance(a, str) and (a.lower().startswith("sts:") or is_template_value(a))
                                  for a in actions):
            assume_only = False
        if "Resource" in item or "NotResource" in item:
            assume_only = False
    if has_principal:
        return PolicyKind.TRUST if assume_only else PolicyKind.RESOURCE
    return PolicyKind.IDENTITY


__all__ = ["LoadOptions", "LoadResult", "Subject", "load_file", "load_paths", "load_text", "route"]
